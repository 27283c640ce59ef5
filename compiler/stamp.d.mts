/** Types of compiler/stamp.mjs (plain JavaScript, so that compiler/launch.mjs runs without a TypeScript loader). */
export declare const cacheDir: (root: string) => string;
export declare const typecheckBuildInfoFile: (root: string) => string;
export declare const typecheckStampFile: (root: string) => string;
export declare const upToDateStampFile: (root: string) => string;
export declare function typecheckUnchanged(root: string, rootNames: readonly string[]): boolean;
export declare function recordTypecheck(
  root: string,
  rootNames: readonly string[],
  files: readonly { readonly fileName: string; readonly text: string }[],
): void;
export declare function inputsDigest(root: string, typecheck: boolean): string;
export declare const generatedDigest: (root: string) => string;
export declare function upToDate(root: string, inputs: string, typecheckFiles?: readonly string[]): boolean;
export declare const emittedDigest: (files: readonly { readonly path: string; readonly content: string }[]) => string;
export declare function recordBuild(root: string, inputs: string, generated: string): void;
export declare function forgetBuild(root: string): void;
export declare function frameDigest(root: string): string;
export declare function buildServerSocket(root: string): string | undefined;
export declare function shellcheckVersion(): string;
