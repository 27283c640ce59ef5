/**
 * The type check of `pnpm build-modules`, and a way to run it beside the
 * lowering, on another core.
 */
import { mkdir } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { Worker } from "node:worker_threads";
import { BuildError } from "./errors";

/**
 * Type-checks the DSL and modules with the TypeScript compiler, under the
 * project's tsconfig.json.
 * @param buildInfo a `.tsbuildinfo` file for an incremental check (TypeScript's
 *   own: files whose dependencies did not change keep their earlier verdict), or
 *   undefined for a check from scratch.
 * @throws BuildError listing each diagnostic as `file:line:col - error TSnnnn: message`.
 */
export async function typecheck(root: string, files: readonly string[], buildInfo?: string): Promise<void> {
  const { default: ts } = await import("typescript");
  const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new BuildError(`tsconfig.json: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
    },
  });
  if (!config) throw new BuildError("tsconfig.json: cannot be read");
  const options = buildInfo
    ? { ...config.options, noEmit: true, incremental: true, tsBuildInfoFile: buildInfo }
    : { ...config.options, noEmit: true, incremental: false };
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
  if (diagnostics.length > 0) {
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
