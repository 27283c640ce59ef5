// The worker thread's entry for TypeCheckServer (compiler/typecheck.ts): registers tsx's
// loader (a worker does not inherit it), then serves checks from a kept type checker.
import { register } from "tsx/esm/api";

register();
await import("./typecheck-server.ts");
