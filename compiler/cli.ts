/**
 * `pnpm build-modules [--check] [--no-typecheck] [--no-cache] [--watch]`
 *
 * Regenerates `generated/` from `modules/`. With `--check`, writes nothing and
 * exits 1 when `generated/` differs from what the compiler emits. With `--watch`,
 * builds once and then again whenever `modules/`, `dsl/` or `nix/` change.
 * Modules whose sources (and everything they import) did not change since the
 * last build come from the build cache (compiler/cache.ts); `--check` never uses it.
 * `pnpm build-modules` starts in compiler/launch.mjs, which ends a build with nothing to do
 * at once and starts the type check before this file is loaded.
 */
import { parseCli } from "./cli-args";
import { type ChildProcess, spawn } from "node:child_process";
import { type Dirent, existsSync, type FSWatcher, lstatSync, readdirSync, watch as fsWatch } from "node:fs";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { join, relative } from "node:path";
import { DefinitionError } from "../dsl";
import { BuildError, compileAll, diffGenerated, findModules, findTests, writeChanged, writeGenerated } from "./build";
import { type SourceSnapshot, typecheckBuildInfo } from "./cache";
import { emittedDigest } from "./stamp.mjs";
import { enableReload, nextGeneration } from "./reload";
import { serve } from "./server";
import { launchedTypecheck, TypeCheckServer, typecheckInWorker } from "./typecheck";

const usage = `usage: pnpm build-modules [--check] [--no-typecheck] [--no-cache] [--watch] [--stop-server] [--root DIR]

  --check         compare generated/ with the compiler's output; write nothing; exit 1 if they differ
  --no-typecheck  skip the TypeScript type check of modules/ (faster; the tests still run it)
  --no-cache      lower every module again, even those unchanged since the last build
                  (the cache is node_modules/.cache/services-ts/; --check never uses it);
                  without it, a build whose inputs (modules/, dsl/, compiler/, nix/, the files
                  the type check read, …) and generated/ are as the last successful build left
                  them says so and ends
  --watch         build, then rebuild whenever modules/, dsl/ or nix/ change (one line per rebuild;
                  a failing build is reported and watching goes on); a modules/ change is rebuilt
                  in this process, with the type checker kept warm; Ctrl-C stops
  --stop-server   end this checkout's build server, if one runs
  --root DIR      project directory holding modules/ and generated/ (default: this checkout)

A build done in a fresh process, from a terminal and outside CI, then starts a build server
for the checkout (compiler/server.ts): later builds after a change to modules/ run in it, with
the compiler and the type checker kept loaded. It ends after 15 idle minutes, or when dsl/,
compiler/, nix/ or a project file changes. SERVICES_TS_BUILD_SERVER=1 starts it whatever the
terminal, =0 neither starts nor uses it. (--serve runs the server itself; the launcher does.)
`;

/** The folders whose files a build reads. */
const WATCHED = ["modules", "dsl", "nix"] as const;

/** Quiet time after the last change before a rebuild starts. */
const DEBOUNCE_MS = 150;

const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<number> {
  const cli = parseCli(usage, {
    check: { type: "boolean", default: false },
    "no-typecheck": { type: "boolean", default: false },
    "no-cache": { type: "boolean", default: false },
    watch: { type: "boolean", default: false },
    serve: { type: "boolean", default: false },
  });
  if (typeof cli === "number") return cli;
  const args = cli.values;
  if (args.watch && args.check) {
    process.stderr.write(`--watch and --check exclude each other\n\n${usage}`);
    return 2;
  }
  const root = cli.root;
  const opts = { typecheck: !args["no-typecheck"], cache: !args["no-cache"] };
  if (args.watch) return watch(root, opts);
  if (args.serve) {
    return serve(
      root,
      (request, checker, say, load) => build(root, { ...request, check: false }, { checker, log: say, load }),
      opts.typecheck,
    );
  }
  return build(root, { ...opts, check: args.check ?? false });
}

/** One build, as `pnpm build-modules` does it: 0 when done, 1 on an invalid definition or a stale `generated/` (with `check`). */
async function build(
  root: string,
  opts: { check: boolean; typecheck: boolean; cache: boolean },
  /** In-process rebuilds (`--watch`, the build server): a type checker kept between builds, and where the lines go. */
  extra: {
    checker?: TypeCheckServer;
    log?: (line: string) => void;
    /** The build server's choice of modules to load afresh, and what it loaded before (compileAll's `beforeImport`, `imported`). */
    load?: { beforeImport: (sources: SourceSnapshot) => Promise<void>; imported: Map<string, unknown> };
  } = {},
): Promise<number> {
  const say = extra.log ?? log;
  const t0 = performance.now();
  try {
    const modules = [...(await findModules(root)), ...(await findTests(root))];
    // The type check runs on another core while the services are lowered; its errors come
    // first (they usually explain a lowering error), and either one means nothing is written.
    // Its verdict is incremental (TypeScript's build info in the cache) unless --check or --no-cache.
    let typeErrors: unknown;
    const typechecked = !opts.typecheck
      ? undefined
      : extra.checker
        ? extra.checker.check(modules).catch((e: unknown) => void (typeErrors = e))
        : (
            launchedTypecheck(root, modules, opts.cache && !opts.check ? typecheckBuildInfo(root) : undefined) ??
            typecheckInWorker(root, modules, opts.cache && !opts.check ? typecheckBuildInfo(root) : undefined)
          ).catch((e: unknown) => void (typeErrors = e));
    if (opts.typecheck) say(`type-checking ${modules.length} modules, lowering services…`);
    else say("lowering services…");
    let files: Awaited<ReturnType<typeof compileAll>> | undefined;
    let lowerError: unknown;
    try {
      files = await compileAll(root, say, { cache: opts.cache && !opts.check, ...extra.load });
    } catch (e) {
      lowerError = e;
    }
    await typechecked;
    if (typeErrors !== undefined) throw typeErrors;
    if (lowerError !== undefined || !files) throw lowerError;
    const ms = Math.round(performance.now() - t0);
    if (opts.check) {
      const diff = await diffGenerated(root, files);
      if (diff.length > 0) {
        say(`generated/ is out of date (${diff.length} file${diff.length === 1 ? "" : "s"}):`);
        for (const d of diff) say(`  ${d}`);
        say("run `pnpm build-modules` and commit generated/");
        return 1;
      }
      say(`generated/ is up to date (${files.length} files, ${ms} ms)`);
      return 0;
    }
    // Only what changed (each file written beside and renamed into place): a one-file change
    // touches a handful of files, and the others keep their modification times.
    const touched = existsSync(join(root, "generated")) ? (await writeChanged(root, files)).length : (await writeGenerated(root, files), files.length);
    say(`wrote ${touched} files to generated/ (${files.length - touched} unchanged; ${Math.round(performance.now() - t0)} ms)`);
    // For compiler/launch.mjs's record of this build: what it wrote (generated/ may change under it).
    (globalThis as Record<symbol, unknown>)[Symbol.for("services-ts.emitted")] = emittedDigest(files);
    return 0;
  } catch (e) {
    if (e instanceof DefinitionError || e instanceof BuildError) {
      say(`error: ${e.message}`);
      say("generated/ was not changed.");
      return 1;
    }
    throw e;
  }
}

/**
 * Watches the folder `dir` of `root` and every folder below it (one non-recursive
 * watch per folder, so that a file replaced by a rename, as editors and `sed -i`
 * save, keeps being watched), calling `onChange` with the changed path relative to
 * `root` (folders with a trailing `/`). Folders created later are watched too.
 * Symbolic links inside are not followed; `dir` itself may be one.
 */
function watchTree(
  root: string,
  dir: string,
  onChange: (path: string) => void,
  onError: (e: Error) => void,
): { close(): void } {
  const watchers = new Map<string, FSWatcher>();
  const add = (path: string) => {
    if (watchers.has(path)) return;
    let w: FSWatcher;
    try {
      w = fsWatch(path, (_event, filename) => {
        const name = filename?.toString();
        const changed = name === undefined ? path : join(path, name);
        let isDir = name === undefined;
        if (name !== undefined) {
          try {
            isDir = lstatSync(changed).isDirectory();
          } catch {
            // Removed: so is the watch of a removed folder.
            for (const [p, pw] of watchers)
              if (p === changed || p.startsWith(`${changed}/`)) (pw.close(), watchers.delete(p));
          }
        }
        if (isDir && name !== undefined) add(changed);
        onChange(`${relative(root, changed)}${isDir ? "/" : ""}`);
      });
    } catch (e) {
      if (path === join(root, dir)) onError(e as Error);
      return;
    }
    w.on("error", (e) => {
      if (path === join(root, dir)) onError(e);
      else (w.close(), watchers.delete(path));
    });
    watchers.set(path, w);
    let entries: Dirent[] = [];
    try {
      entries = readdirSync(path, { withFileTypes: true });
    } catch {
      // Gone already.
    }
    for (const e of entries) if (e.isDirectory()) add(join(path, e.name));
  };
  add(join(root, dir));
  return {
    close: () => {
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}

/** `HH:MM:SS`, local time. */
const timestamp = () => new Date().toTimeString().slice(0, 8);

/** What a rebuild's output says, on one line (a type check's diagnostics each on a line below). */
function rebuildResult(
  code: number | null,
  signal: NodeJS.Signals | null,
  stderr: string,
  ms: number,
  changed: readonly string[],
): string {
  const what =
    changed.length === 0
      ? ""
      : changed.length === 1
        ? ` (${changed[0]})`
        : ` (${changed[0]} and ${changed.length - 1} more)`;
  if (code === 0) return `rebuilt in ${ms} ms${what}`;
  const lines = stderr.split("\n");
  const start = lines.findIndex((l) => l.startsWith("error: "));
  if (start >= 0)
    return lines
      .slice(start)
      .filter((l) => l !== "" && l !== "generated/ was not changed.")
      .join("\n");
  return `build failed (${signal ?? `exit code ${code}`})${what}:\n${stderr.trimEnd()}`;
}

/**
 * `--watch`: builds once here, then rebuilds on every change to `modules/`, `dsl/`
 * or `nix/` (debounced). A change to `modules/` only is rebuilt in this process, with
 * the compiler, the DSL and a type checker kept warm (compiler/reload.ts loads the
 * modules afresh; TypeCheckServer re-checks what changed, on another core): about
 * half a second.
 * A change to `dsl/` or `nix/` is rebuilt in a fresh process, as are all later ones
 * (this process still holds the old DSL). Builds never overlap: changes during one
 * start another when it ends. Resolves (with 0) on SIGINT or SIGTERM, after the build
 * under way, if any, has finished.
 */
async function watch(root: string, opts: { typecheck: boolean; cache: boolean }): Promise<number> {
  enableReload(root);
  const checker = opts.typecheck ? new TypeCheckServer(root) : undefined;
  /** Set once dsl/ or nix/ changed: from then on, every rebuild is a fresh process. */
  let inProcess = true;
  try {
    await nextGeneration();
    await build(root, { ...opts, check: false }, { checker });
  } catch (e) {
    log(`error: ${(e as Error).stack ?? String(e)}`);
  }

  // The same program in a fresh node with the same loader (tsx's, in process.execArgv):
  // `tsx compiler/cli.ts --root <root> [--no-typecheck] [--no-cache]`.
  const childArgs = [
    ...process.execArgv,
    fileURLToPath(import.meta.url),
    "--root",
    root,
    ...(opts.typecheck ? [] : ["--no-typecheck"]),
    ...(opts.cache ? [] : ["--no-cache"]),
  ];
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  /** The build under way: a fresh process, or an in-process rebuild. */
  let running: ChildProcess | Promise<number> | undefined;
  let stopping = false;
  let exitCode = 0;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((r) => (finish = r));

  const rebuild = () => {
    timer = undefined;
    if (running || stopping || pending.size === 0) return;
    const changed = [...pending].sort();
    pending.clear();
    const t0 = performance.now();
    if (inProcess && !changed.every((p) => p.startsWith("modules/") && !p.endsWith("/"))) {
      inProcess = false;
      log(`[${timestamp()}] ${changed.find((p) => !p.startsWith("modules/")) ?? changed[0]} changed: rebuilding in a fresh process from now on (restart --watch for fast rebuilds)`);
    }
    if (inProcess) {
      let lines = "";
      const rebuilt = (async () => {
        await nextGeneration();
        return build(root, { ...opts, check: false }, { checker, log: (l) => (lines += `${l}\n`) });
      })();
      running = rebuilt;
      void rebuilt
        .catch((e: unknown) => ((lines += `error: ${(e as Error).stack ?? String(e)}\n`), 1))
        .then((code) => {
          running = undefined;
          if (stopping) return finish(exitCode);
          log(`[${timestamp()}] ${rebuildResult(code, null, lines, Math.round(performance.now() - t0), changed)}`);
          if (pending.size > 0) schedule();
        });
      return;
    }
    let stderr = "";
    // Its own process group: a Ctrl-C reaches only this process, which lets the
    // build finish writing generated/ before exiting.
    const child = spawn(process.execPath, childArgs, {
      cwd: process.cwd(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    running = child;
    child.stdout!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (e) => (stderr += `${e.message}\n`));
    child.on("close", (code, signal) => {
      running = undefined;
      if (stopping) return finish(exitCode);
      log(`[${timestamp()}] ${rebuildResult(code, signal, stderr, Math.round(performance.now() - t0), changed)}`);
      if (pending.size > 0) schedule();
    });
  };
  const schedule = () => {
    if (stopping) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(rebuild, DEBOUNCE_MS);
  };

  const trees: { close(): void }[] = [];
  const stop = (code: number) => {
    if (timer) clearTimeout(timer);
    for (const t of trees) t.close();
    if (!stopping) {
      stopping = true;
      exitCode = code;
      if (running) log("stopping after the build under way…");
    } else if (running !== undefined && !(running instanceof Promise) && running.pid !== undefined) {
      try {
        process.kill(-running.pid, "SIGTERM"); // a second Ctrl-C: do not wait
      } catch {
        // It has just ended.
      }
    }
    if (!running) finish(code);
  };
  for (const dir of WATCHED) {
    if (!existsSync(join(root, dir))) continue;
    trees.push(
      watchTree(
        root,
        dir,
        (path) => {
          // Editors' swap and backup files are not sources; a new folder may hold some.
          if (/\.(ts|mts|cts|json)$/.test(path) || path.endsWith("/")) {
            pending.add(path);
            schedule();
          }
        },
        (e) => {
          log(`error: cannot watch ${dir}/: ${e.message}`);
          stop(1);
        },
      ),
    );
  }
  const onSignal = () => stop(0);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  log(`[${timestamp()}] watching ${WATCHED.map((d) => `${d}/`).join(", ")} for changes (Ctrl-C to stop)`);
  const code = await done;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  await checker?.close();
  return code;
}

process.exitCode = await main();
