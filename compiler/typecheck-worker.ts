/** Runs {@link typecheck} for {@link typecheckInWorker} and posts the verdict. */
import { parentPort, workerData } from "node:worker_threads";
import { BuildError } from "./errors";
import { typecheck } from "./typecheck";

const { root, files, buildInfo } = workerData as { root: string; files: string[]; buildInfo?: string };
try {
  await typecheck(root, files, buildInfo);
  parentPort!.postMessage({ ok: true });
} catch (e) {
  parentPort!.postMessage({ ok: false, message: e instanceof Error ? (e instanceof BuildError ? e.message : (e.stack ?? e.message)) : String(e), build: e instanceof BuildError });
}
