// Module resolution hooks for `pnpm build-modules --watch` (registered by compiler/reload.ts):
// every file under the watched project's modules/ resolves to its URL plus `?generation=N`,
// so that after a change a new generation imports the modules afresh (Node caches ES
// modules by URL for the life of the process). Everything else — dsl/, nix/, compiler/,
// node_modules — keeps its one instance. Plain JavaScript: hooks run before any loader.
let prefix = "";
let generation = 0;

/** `data`: { root: the modules/ folder as a file URL ending in "/", port: a MessagePort }. */
export function initialize(data) {
  prefix = data.modules;
  data.port.on("message", (m) => {
    generation = m.generation;
    data.port.postMessage({ ack: m.generation });
  });
  data.port.unref();
}

export async function resolve(specifier, context, nextResolve) {
  const r = await nextResolve(specifier, context);
  if (generation === 0 || !r.url.startsWith(prefix)) return r;
  const url = new URL(r.url);
  url.searchParams.set("generation", String(generation));
  return { ...r, url: url.href };
}
