/**
 * Source locations of DSL calls, so that compiler errors name the module file and
 * line a definition came from (`modules/redis.ts:42:5`).
 */
import { fileURLToPath } from "node:url";

/** A position in a TS source file (1-based line and column). */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Formats a location as `file:line:column`, relative to `cwd` when inside it. */
export function formatLocation(loc: SourceLocation | undefined, cwd = process.cwd()): string {
  if (!loc) return "<unknown location>";
  const file = loc.file.startsWith(cwd + "/") ? loc.file.slice(cwd.length + 1) : loc.file;
  return `${file}:${loc.line}:${loc.column}`;
}

const dslDir = fileURLToPath(new URL(".", import.meta.url));
const compilerDir = fileURLToPath(new URL("../compiler/", import.meta.url));

/**
 * The location of the innermost stack frame outside `dsl/`: the module line that
 * called into the DSL. Undefined when the stack has no such frame.
 */
export function callSite(): SourceLocation | undefined {
  return firstUserFrame(new Error().stack);
}

/** The innermost frame of `stack` outside dsl/, compiler/ and node_modules. */
export function firstUserFrame(stack: string | undefined): SourceLocation | undefined {
  for (const line of stack?.split("\n").slice(1) ?? []) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    const file = m[1]!.startsWith("file://") ? fileURLToPath(m[1]!) : m[1]!;
    if (file.startsWith(dslDir) || file.startsWith(compilerDir) || file.includes("/node_modules/")) continue;
    return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

/** An error in a service definition, carrying where in the TS sources it was made. */
export class DefinitionError extends Error {
  constructor(
    message: string,
    readonly location: SourceLocation | undefined,
  ) {
    super(`${formatLocation(location)}: ${message}`);
    this.name = "DefinitionError";
  }
}
