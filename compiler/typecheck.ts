/**
 * The type check of `pnpm build-modules`, and a way to run it beside the
 * lowering, on another core.
 */
import { mkdir } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { Worker } from "node:worker_threads";
import { BuildError } from "./errors";
import { recordTypecheck, typecheckUnchanged } from "./stamp.mjs";

/**
 * Type-checks the DSL and modules with the TypeScript compiler, under the
 * project's tsconfig.json.
 * @param buildInfo a `.tsbuildinfo` file for an incremental check (TypeScript's
 *   own: files whose dependencies did not change keep their earlier verdict), or
 *   undefined for a check from scratch. An incremental check whose inputs are all
 *   what the last successful one read (compiler/stamp.mjs: every file its program
 *   read, the TypeScript version, tsconfig.json, …) is skipped without loading TypeScript.
 * @throws BuildError listing each diagnostic as `file:line:col - error TSnnnn: message`.
 */
export async function typecheck(root: string, files: readonly string[], buildInfo?: string): Promise<void> {
  if (buildInfo && typecheckUnchanged(root, files)) return;
  const { default: ts } = await import("typescript");
  const base = parsedOptions(ts, root);
  const options = buildInfo
    ? { ...base, noEmit: true, incremental: true, tsBuildInfoFile: buildInfo }
    : { ...base, noEmit: true, incremental: false };
  if (buildInfo) await mkdir(dirname(buildInfo), { recursive: true });
  const program = ts.createIncrementalProgram({
    rootNames: [...files],
    options,
    host: ts.createIncrementalCompilerHost(options),
  });
  const diagnostics = [
    ...program.getConfigFileParsingDiagnostics(),
    ...program.getOptionsDiagnostics(),
    ...program.getSyntacticDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...program.getSemanticDiagnostics(),
  ];
  if (buildInfo) program.emit(); // with noEmit, writes only the build info
  report(ts, root, diagnostics);
  if (buildInfo) recordTypecheck(root, files, program.getSourceFiles());
}

/**
 * A type checker kept alive between builds (`--watch`): unchanged files keep their parsed
 * source and their verdict, so a check after a one-file edit costs that file and what
 * depends on it (TypeScript's semantic-diagnostics builder over the previous program,
 * as `tsc --watch` does), not the standard library and @types/node again.
 */
export class PersistentTypeChecker {
  private old: import("typescript").SemanticDiagnosticsBuilderProgram | undefined;
  private readonly sources = new Map<string, { mtimeMs: number; size: number; file: import("typescript").SourceFile }>();

  constructor(private readonly root: string) {}

  /**
   * Checks `files` (and what they import).
   * @throws BuildError listing each diagnostic, as {@link typecheck}.
   */
  async check(files: readonly string[]): Promise<void> {
    const { default: ts } = await import("typescript");
    const { statSync } = await import("node:fs");
    const options = { ...parsedOptions(ts, this.root), noEmit: true, incremental: false };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
      let stat: { mtimeMs: number; size: number } | undefined;
      try {
        stat = statSync(fileName);
      } catch {
        stat = undefined;
      }
      const known = this.sources.get(fileName);
      if (known && stat && known.mtimeMs === stat.mtimeMs && known.size === stat.size) return known.file;
      const file = getSourceFile(fileName, languageVersion, onError, shouldCreate);
      if (file && stat) {
        // The builder compares versions to find what changed: a fresh parse is a new version.
        (file as { version?: string }).version = `${stat.mtimeMs}:${stat.size}`;
        this.sources.set(fileName, { mtimeMs: stat.mtimeMs, size: stat.size, file });
      }
      return file;
    };
    const program = ts.createProgram({ rootNames: [...files], options, host, oldProgram: this.old?.getProgram() });
    const builder = ts.createSemanticDiagnosticsBuilderProgram(program, host, this.old);
    this.old = builder;
    report(ts, this.root, [
      ...builder.getConfigFileParsingDiagnostics(),
      ...builder.getOptionsDiagnostics(),
      ...builder.getSyntacticDiagnostics(),
      ...builder.getGlobalDiagnostics(),
      ...builder.getSemanticDiagnostics(),
    ]);
    // As the one-shot check does: a later one-shot build with these inputs may skip its check.
    recordTypecheck(this.root, files, program.getSourceFiles());
  }
}

/** The compiler options of `root`'s tsconfig.json. @throws BuildError when it cannot be read. */
function parsedOptions(ts: typeof import("typescript"), root: string): import("typescript").CompilerOptions {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new BuildError(`tsconfig.json: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
    },
  });
  if (!config) throw new BuildError("tsconfig.json: cannot be read");
  return config.options;
}

/** @throws BuildError listing `diagnostics` as `file:line:col - error TSnnnn: message`, when there are any. */
function report(ts: typeof import("typescript"), root: string, diagnostics: readonly import("typescript").Diagnostic[]): void {
  if (diagnostics.length === 0) return;
  const lines = diagnostics.map((d) => {
    let where = "<tsconfig>";
    if (d.file) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
      where = `${relative(root, d.file.fileName)}:${line + 1}:${character + 1}`;
    }
    return `${where} - error TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  });
  throw new BuildError(`type errors in modules:\n${lines.join("\n")}`);
}

/**
 * A {@link PersistentTypeChecker} in a worker thread kept for the life of a `--watch`, so that
 * each rebuild's check runs on another core while the services are lowered. Checks are
 * answered in the order asked. {@link close} ends the worker.
 */
export class TypeCheckServer {
  private readonly worker: Worker;
  private next = 0;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  constructor(root: string) {
    this.worker = new Worker(new URL("./typecheck-server.mjs", import.meta.url), { workerData: { root } });
    this.worker.on("message", (m: { id: number; ok: true } | { id: number; ok: false; message: string; build: boolean }) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (this.waiting.size === 0) this.worker.unref();
      if (!w) return;
      if (m.ok) w.resolve();
      else w.reject(m.build ? new BuildError(m.message) : new Error(m.message));
    });
    const fail = (e: Error) => {
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`the type checker's worker exited with code ${code}`)));
    this.worker.unref();
  }

  /** Checks `files`; rejects with a BuildError listing the diagnostics, as {@link typecheck}. */
  check(files: readonly string[]): Promise<void> {
    const id = ++this.next;
    // Referenced while a check is under way (a pending answer keeps the process alive), not while idle.
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, files: [...files] });
    });
  }

  /** Ends the worker. */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * {@link typecheck} in a worker thread, so that the lowering goes on meanwhile.
 * @returns a promise that settles as `typecheck` would (rejecting with a BuildError
 *   for type errors; with the worker's error otherwise).
 */
export function typecheckInWorker(root: string, files: readonly string[], buildInfo?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./typecheck-worker.mjs", import.meta.url), {
      workerData: { root, files: [...files], buildInfo },
    });
    let settled = false;
    worker.once("message", (m: { ok: true } | { ok: false; message: string; build: boolean }) => {
      settled = true;
      if (m.ok) resolve();
      else reject(m.build ? new BuildError(m.message) : new Error(m.message));
    });
    worker.once("error", (e) => ((settled = true), reject(e)));
    worker.once("exit", (code) => {
      if (!settled) reject(new Error(`the type check's worker exited with code ${code} before answering`));
    });
  });
}

/** What compiler/launch.mjs leaves for cli.ts: a type check it started before loading the compiler. */
interface Launched {
  readonly root: string;
  readonly files: readonly string[];
  readonly buildInfo: string;
  readonly verdict: Promise<{ ok: true } | { ok: false; message: string; build: boolean }>;
}

/**
 * The type check compiler/launch.mjs started at once in a worker (before tsx and the compiler were
 * loaded) when it is the check asked for — same root, files and build info — else undefined.
 * Taken once. Settles as {@link typecheckInWorker} would.
 */
export function launchedTypecheck(root: string, files: readonly string[], buildInfo: string | undefined): Promise<void> | undefined {
  const key = Symbol.for("services-ts.launched-typecheck");
  const launched = (globalThis as Record<symbol, Launched | undefined>)[key];
  if (!launched || buildInfo === undefined) return undefined;
  (globalThis as Record<symbol, Launched | undefined>)[key] = undefined;
  const same = launched.root === root && launched.buildInfo === buildInfo && launched.files.join("\n") === files.join("\n");
  if (!same) return undefined;
  return launched.verdict.then((m) => {
    if (!m.ok) throw m.build ? new BuildError(m.message) : new Error(m.message);
  });
}
