// The worker thread's entry for typecheckInWorker (compiler/typecheck.ts): a worker does not
// inherit tsx's loader, so it registers it before loading the TypeScript that does the work.
import { register } from "tsx/esm/api";

register();
await import("./typecheck-worker.ts");
