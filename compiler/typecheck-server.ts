/** Serves {@link PersistentTypeChecker} checks for TypeCheckServer: one message in, one verdict out, in order. */
import { parentPort, workerData } from "node:worker_threads";
import { BuildError } from "./errors";
import { PersistentTypeChecker } from "./typecheck";

const checker = new PersistentTypeChecker((workerData as { root: string }).root);
parentPort!.on("message", async (m: { id: number; files: string[] }) => {
  try {
    await checker.check(m.files);
    parentPort!.postMessage({ id: m.id, ok: true });
  } catch (e) {
    parentPort!.postMessage({
      id: m.id,
      ok: false,
      message: e instanceof Error ? (e instanceof BuildError ? e.message : (e.stack ?? e.message)) : String(e),
      build: e instanceof BuildError,
    });
  }
});
