// `pnpm build-modules`'s entry, in plain JavaScript so that it starts in milliseconds:
//
// - A plain build (no --check, --watch, --no-cache) whose inputs — every file of modules/,
//   dsl/, compiler/ and nix/, the project files a build reads, every file the last type check
//   read, the Node and ShellCheck versions — and generated/ are what the last successful build
//   read and left (compiler/stamp.mjs) has nothing to do: it says so and ends, without loading
//   TypeScript, tsx or the compiler.
// - Otherwise the type check starts at once, in a worker thread, and the compiler (compiler/cli.ts,
//   under tsx's loader) is loaded meanwhile; cli.ts picks the running check up
//   (typecheck.ts's launchedTypecheck). A successful plain build is recorded for the next one.
//
// Any other argument, or an unusual one, goes to cli.ts unchanged (it parses and reports).
import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { forgetBuild, inputsDigest, recordBuild, typecheckBuildInfoFile, upToDate } from "./stamp.mjs";

const here = dirname(fileURLToPath(import.meta.url));

/** `[--root DIR] [--no-typecheck]` only, else undefined (cli.ts handles the rest). */
function plainBuild(argv) {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      options: { root: { type: "string" }, "no-typecheck": { type: "boolean" } },
    });
    return { root: resolve(values.root ?? join(here, "..")), typecheck: !values["no-typecheck"] };
  } catch {
    return undefined;
  }
}

/** modules/*.ts and modules/*.test.ts as compiler/build.ts's findModules and findTests list them. */
function moduleFiles(root) {
  const dir = join(root, "modules");
  const names = readdirSync(dir).sort();
  const modules = names.filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && !f.endsWith(".d.ts") && !f.startsWith("_"));
  const tests = names.filter((f) => f.endsWith(".test.ts"));
  return [...modules, ...tests].map((f) => join(dir, f));
}

const plain = plainBuild(process.argv.slice(2));
let inputs;
if (plain) {
  const { root, typecheck } = plain;
  let files;
  try {
    files = moduleFiles(root);
  } catch {
    files = undefined; // no modules/: cli.ts reports it
  }
  inputs = inputsDigest(root, typecheck);
  if (files && upToDate(root, inputs, typecheck ? files : undefined)) {
    process.stderr.write(
      `generated/ is up to date: nothing it is built from changed since the last build (${Math.round(performance.now())} ms)\n`,
    );
    process.exit(0);
  }
  if (typecheck && files) {
    const buildInfo = typecheckBuildInfoFile(root);
    const worker = new Worker(new URL("./typecheck-worker.mjs", import.meta.url), { workerData: { root, files, buildInfo } });
    const verdict = new Promise((resolve) => {
      worker.once("message", resolve);
      worker.once("error", (e) => resolve({ ok: false, message: e.stack ?? String(e), build: false }));
      worker.once("exit", (code) =>
        resolve({ ok: false, message: `the type check's worker exited with code ${code} before answering`, build: false }),
      );
    });
    globalThis[Symbol.for("services-ts.launched-typecheck")] = { root, files, buildInfo, verdict };
  }
}

// As `node --import tsx`: tsx's hooks for ES modules and CommonJS both (a --root project
// without a package.json saying "type": "module" has its .ts files taken as CommonJS).
await import("tsx");
await import("./cli.ts");

if (plain) {
  const emitted = globalThis[Symbol.for("services-ts.emitted")];
  if ((process.exitCode === 0 || process.exitCode === undefined) && emitted) recordBuild(plain.root, inputs, emitted);
  else forgetBuild(plain.root);
}
