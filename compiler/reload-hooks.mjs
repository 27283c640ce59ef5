// Module resolution hooks for `pnpm build-modules --watch` (registered by compiler/reload.ts):
// every file under the watched project's modules/ resolves to its URL plus `?generation=N`,
// so that after a change a new generation imports the modules afresh (Node caches ES
// modules by URL for the life of the process) — or, for a file given a version with the
// generation, `?v=<version>`: the same version, the same instance. Everything else — dsl/, nix/, compiler/,
// node_modules — keeps its one instance. Plain JavaScript: hooks run before any loader.
let prefix = "";
let generation = 0;
/** URL (without query) → version: such a file keeps its instance while its version stays. */
let versions = new Map();

/** `data`: { root: the modules/ folder as a file URL ending in "/", port: a MessagePort }. */
export function initialize(data) {
  prefix = data.modules;
  data.port.on("message", (m) => {
    generation = m.generation;
    versions = new Map(Object.entries(m.versions ?? {}));
    data.port.postMessage({ ack: m.generation });
  });
  data.port.unref();
}

export async function resolve(specifier, context, nextResolve) {
  const r = await nextResolve(specifier, context);
  if (generation === 0 || !r.url.startsWith(prefix)) return r;
  const url = new URL(r.url);
  url.search = "";
  const version = versions.get(url.href);
  if (version !== undefined) url.searchParams.set("v", version);
  else url.searchParams.set("generation", String(generation));
  return { ...r, url: url.href };
}
