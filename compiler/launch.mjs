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
// - Before that, a plain build asks the checkout's build server (compiler/server.ts), if one
//   runs: it builds with the compiler and the type checker already loaded. A build done here
//   starts one afterwards when SERVICES_TS_BUILD_SERVER=1, or when it is unset and the build
//   runs in a terminal outside CI; SERVICES_TS_BUILD_SERVER=0 neither uses nor starts one.
//   `--stop-server` ends it.
//
// Any other argument, or an unusual one, goes to cli.ts unchanged (it parses and reports).
import { spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { buildServerSocket, forgetBuild, inputsDigest, recordBuild, typecheckBuildInfoFile, upToDate } from "./stamp.mjs";

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

const serverSetting = process.env.SERVICES_TS_BUILD_SERVER;

/**
 * Silence after which a build server is taken as stuck (a build prints a line per module):
 * two minutes, or SERVICES_TS_BUILD_SERVER_SILENCE seconds.
 */
const SERVER_SILENCE_MS = (Number(process.env.SERVICES_TS_BUILD_SERVER_SILENCE) || 120) * 1000;

/**
 * Sends `request` to the build server of `root` and prints the lines of its build.
 * @returns the server's last message ({ code, emitted } or { stopped }), or undefined when no
 *   server answered or it asked for a fresh build ({ restart }: it has ended).
 */
function askServer(root, request) {
  const socketPath = buildServerSocket(root);
  if (!socketPath) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const conn = connect(socketPath);
    let buffered = "";
    let last;
    conn.setEncoding("utf8");
    conn.once("connect", () => conn.write(`${JSON.stringify(request)}\n`));
    conn.on("data", (chunk) => {
      buffered += chunk;
      let end;
      while ((end = buffered.indexOf("\n")) >= 0) {
        const m = JSON.parse(buffered.slice(0, end));
        buffered = buffered.slice(end + 1);
        if ("line" in m) process.stderr.write(`${m.line}\n`);
        else if ("restart" in m) process.stderr.write(`build server: ${m.restart}: building in a fresh process\n`);
        else last = m;
      }
    });
    conn.once("error", () => resolve(undefined));
    conn.once("close", () => resolve(last));
    // A server that says nothing for this long is stuck: end it, and build here.
    conn.setTimeout(SERVER_SILENCE_MS, () => {
      process.stderr.write(
        `build server: no answer for ${SERVER_SILENCE_MS / 1000} s: ending it, building in a fresh process ` +
          `(its log: ${socketPath.replace(/\.sock$/, ".log")})\n`,
      );
      endStuckServer(socketPath);
      last = undefined;
      conn.destroy();
    });
  });
}

/** Kills the server whose pid file is beside `socketPath` (if that pid is still a build server) and removes its socket. */
function endStuckServer(socketPath) {
  try {
    const pid = Number(readFileSync(`${socketPath}.pid`, "utf8"));
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    if (cmdline.includes("--serve")) process.kill(pid, "SIGKILL");
  } catch {
    // Gone, or not ours to end.
  }
  rmSync(socketPath, { force: true });
  rmSync(`${socketPath}.pid`, { force: true });
}

/** Starts the build server of `root` in the background (it outlives this process). */
function startServer(root, typecheck) {
  const log = openSync(buildServerSocket(root).replace(/\.sock$/, ".log"), "w");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(here, "cli.ts"), "--serve", "--root", root, ...(typecheck ? [] : ["--no-typecheck"])],
    // Its output (a crash, say) goes to a log file beside its socket.
    { cwd: root, detached: true, stdio: ["ignore", log, log] },
  );
  closeSync(log);
  child.unref();
  process.stderr.write(
    "started a build server for this checkout: builds after a change to modules/ run in it " +
      "(it ends after 15 idle minutes; --stop-server ends it; SERVICES_TS_BUILD_SERVER=0 turns it off)\n",
  );
}

const argv = process.argv.slice(2);
if (argv.includes("--stop-server")) {
  const { values } = parseArgs({ args: argv, strict: true, options: { root: { type: "string" }, "stop-server": { type: "boolean" } } });
  const stopped = await askServer(resolve(values.root ?? join(here, "..")), { stop: true });
  process.stderr.write(stopped ? "the build server has ended\n" : "no build server runs for this checkout\n");
  process.exit(0);
}

const plain = plainBuild(argv);
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
  if (files && serverSetting !== "0") {
    const t0 = performance.now();
    const served = await askServer(root, { build: { typecheck, cache: true } });
    if (served && "code" in served) {
      if (served.code === 0 && served.emitted) recordBuild(root, inputs, served.emitted);
      else forgetBuild(root);
      process.stderr.write(`(built by the build server in ${Math.round(performance.now() - t0)} ms)\n`);
      process.exit(served.code);
    }
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
  const wanted = serverSetting === "1" || (serverSetting === undefined && process.stderr.isTTY && !process.env.CI);
  if (wanted && buildServerSocket(plain.root)) startServer(plain.root, plain.typecheck);
}
