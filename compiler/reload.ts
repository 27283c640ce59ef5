/**
 * Fresh module instances within one process, for `pnpm build-modules --watch`: after
 * {@link nextGeneration}, importing a file of `modules/` (directly or through another
 * module) loads it again, so a rebuild sees an edit without starting a new Node — and
 * the compiler, the DSL and TypeScript stay loaded and warm. Only `modules/` is
 * reloaded: a change to `dsl/`, `nix/` or `compiler/` needs a fresh process (the
 * compiler's own code would otherwise meet two copies of the DSL).
 */
import { createRequire, register } from "node:module";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

let port: MessagePort | undefined;
let generation = 0;
let modulesDir = "";

/** Installs the resolution hook (compiler/reload-hooks.mjs) for `root`'s modules/. Idempotent. */
export function enableReload(root: string): void {
  if (port) return;
  // Node keys its caches by real path.
  modulesDir = join(realpathSync(root), "modules") + "/";
  const channel = new MessageChannel();
  port = channel.port1;
  register("./reload-hooks.mjs", import.meta.url, {
    data: { modules: pathToFileURL(modulesDir).href, port: channel.port2 },
    transferList: [channel.port2],
  });
}

/**
 * Starts a new generation: modules imported from now on are loaded afresh — except the
 * files given in `versions` (path → version, e.g. a hash of the file and what it imports),
 * which keep the instance loaded under the same version, if any. (Modules loaded as
 * CommonJS are always loaded afresh.)
 * @returns once the hook has taken the new generation.
 */
export function nextGeneration(versions?: ReadonlyMap<string, string>): Promise<void> {
  const p = port;
  if (!p) throw new Error("enableReload() first");
  generation += 1;
  const wanted = generation;
  // A project without `"type": "module"` loads its .ts modules as CommonJS, cached by file name.
  const cache = createRequire(import.meta.url).cache;
  for (const file of Object.keys(cache)) if (file.startsWith(modulesDir)) delete cache[file];
  return new Promise((resolve) => {
    const onMessage = (m: { ack: number }) => {
      if (m.ack !== wanted) return;
      p.off("message", onMessage);
      p.unref();
      resolve();
    };
    p.on("message", onMessage);
    p.ref();
    const byUrl: Record<string, string> = {};
    for (const [file, v] of versions ?? []) {
      try {
        byUrl[pathToFileURL(realpathSync(file)).href] = v;
      } catch {
        // Removed meanwhile: nothing imports it by this name any more.
      }
    }
    p.postMessage({ generation: wanted, versions: byUrl });
  });
}
