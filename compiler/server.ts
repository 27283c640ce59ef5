/**
 * The build server of `pnpm build-modules`: a process per checkout that keeps the
 * compiler, the DSL and a type checker loaded between builds, so that a one-shot build
 * after a change to `modules/` costs what a `--watch` rebuild costs (TypeScript's
 * standard library and @types/node stay parsed; the modules are loaded afresh by
 * compiler/reload.ts) instead of a fresh Node's seconds.
 *
 * compiler/launch.mjs asks it first (over a Unix socket in the build cache folder, mode
 * 0600) and starts it after a build done the slow way — by default only when that build
 * runs in a terminal outside CI (`SERVICES_TS_BUILD_SERVER=1` always, `=0` never).
 * `--check` never goes through it. It serves one build at a time and ends:
 * - after {@link IDLE_MS} without a request;
 * - when anything a build reads apart from `modules/` changed since it started (dsl/,
 *   compiler/, nix/, the project files, the Node or ShellCheck version): it answers
 *   `restart`, and the launcher builds in a fresh process, then starts a new server;
 * - after {@link MAX_BUILDS} builds (each keeps its generation of the modules loaded);
 * - on `pnpm build-modules --stop-server`, SIGINT or SIGTERM;
 * - killed by a launcher that heard nothing from it for two minutes (its pid is in
 *   `<socket>.pid`), which then builds in a fresh process.
 *
 * The protocol, one JSON value per line: the launcher sends `{ "build": { "typecheck",
 * "cache" } }` or `{ "stop": true }`; the server answers `{ "line": "…" }` for each line
 * the build prints, then `{ "code": 0|1, "emitted": "<digest>" | null }` (the digest of
 * what the build wrote, for the launcher's up-to-date record), or `{ "restart": "<why>" }`.
 */
import { chmodSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, createServer, type Socket } from "node:net";
import { SourceSnapshot } from "./cache";
import { enableReload, nextGeneration } from "./reload";
import { buildServerSocket, frameDigest } from "./stamp.mjs";
import { TypeCheckServer } from "./typecheck";

/** A server with no request for this long ends (15 minutes). */
export const IDLE_MS = 15 * 60 * 1000;
/** A server ends after this many builds: each keeps a generation of the modules in memory. */
export const MAX_BUILDS = 200;

/** Every `.ts` file under `root`'s modules/ (helpers included). */
function moduleSources(root: string): string[] {
  const dir = join(root, "modules");
  try {
    return readdirSync(dir, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

/** Each readable file of modules/ with the hash of its text and its imports, as `sources` read them. */
function closures(root: string, sources: SourceSnapshot): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of moduleSources(root)) {
    try {
      out.set(f, sources.closure(f));
    } catch {
      // Removed meanwhile: loaded afresh if anything still imports it.
    }
  }
  return out;
}

const sameEntries = (a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>) =>
  a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);

/** What a build asks for: `pnpm build-modules [--no-typecheck] [--no-cache]`. */
export interface BuildRequest {
  typecheck: boolean;
  cache: boolean;
}

/** Messages from the server to the launcher. */
export type ServerMessage = { line: string } | { code: number; emitted: string | null } | { restart: string } | { stopped: true };

/**
 * Whether a server answers on `socketPath`.
 * @returns false when nothing listens there (no file, or a file left by a server that died).
 */
export function serverAlive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = connect(socketPath);
    conn.once("connect", () => (conn.destroy(), resolve(true)));
    conn.once("error", () => resolve(false));
  });
}

/**
 * Runs the build server of `root` until one of its ends (see the file's comment).
 * @param build one build with the given options, the kept type checker (when the request
 *   type-checks) and where its lines go; resolves to its exit code.
 * @param warmTypecheck whether the first (warm-up) build type-checks.
 * @returns 0 (also when another server already serves `root`, or its socket path is too long).
 */
export async function serve(
  root: string,
  build: (
    request: BuildRequest,
    checker: TypeCheckServer | undefined,
    log: (line: string) => void,
    load: { beforeImport: (sources: SourceSnapshot) => Promise<void>; imported: Map<string, unknown> },
  ) => Promise<number>,
  warmTypecheck: boolean,
  idleMs: number = IDLE_MS,
): Promise<number> {
  const socketPath = buildServerSocket(root);
  if (!socketPath || (await serverAlive(socketPath))) return 0;
  rmSync(socketPath, { force: true }); // left by a server that died
  const frame = frameDigest(root);
  enableReload(root);
  const emittedKey = Symbol.for("services-ts.emitted");
  let checker: TypeCheckServer | undefined;
  let builds = 0;
  let closing = false;
  let idle: NodeJS.Timeout | undefined;
  let queue: Promise<void> = Promise.resolve();

  const server = createServer();
  const closed = new Promise<void>((resolve) => server.once("close", () => resolve()));
  const stop = () => {
    if (closing) return;
    closing = true;
    if (idle) clearTimeout(idle);
    server.close();
    rmSync(socketPath, { force: true });
    rmSync(`${socketPath}.pid`, { force: true });
  };
  const resetIdle = () => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(stop, idleMs);
  };

  /** One build, its lines to `log`; answers the launcher's record with the digest of what it wrote. */
  /** Bumped when a module changed while a build imported it: no instance loaded before is trusted again. */
  let salt = 0;
  /** What the builds imported, by file and version (compileAll's `imported`): emptied with each new salt. */
  let imported = new Map<string, unknown>();
  const runBuild = async (request: BuildRequest, log: (line: string) => void): Promise<{ code: number; emitted: string | null }> => {
    builds += 1;
    (globalThis as Record<symbol, unknown>)[emittedKey] = undefined;
    if (request.typecheck) checker ??= new TypeCheckServer(root);
    // Only what changed is loaded afresh: each file of modules/ is imported under a version, the
    // hash of its text and of everything it imports as this build read them (compileAll's snapshot).
    let read: Map<string, string> | undefined;
    const beforeImport = async (sources: SourceSnapshot) => {
      read = closures(root, sources);
      await nextGeneration(new Map([...read].map(([f, hash]) => [f, `${hash}.${salt}`])));
    };
    let code: number;
    try {
      code = await build(request, request.typecheck ? checker : undefined, log, { beforeImport, imported });
    } catch (e) {
      log(`error: ${(e as Error).stack ?? String(e)}`);
      code = 1;
    }
    // A file edited between the snapshot and its import may be loaded under its old text's version.
    if (read && !sameEntries(read, closures(root, new SourceSnapshot(root)))) {
      salt += 1;
      imported = new Map();
    }
    const emitted = (globalThis as Record<symbol, unknown>)[emittedKey];
    return { code, emitted: code === 0 && typeof emitted === "string" ? emitted : null };
  };

  const answer = (conn: Socket, request: { build?: BuildRequest; stop?: boolean }) => async () => {
    const send = (m: ServerMessage) => {
      if (!conn.destroyed) conn.write(`${JSON.stringify(m)}\n`);
    };
    if (closing) return void conn.destroy();
    resetIdle();
    if (request.stop) {
      send({ stopped: true });
      conn.end();
      return stop();
    }
    const why =
      frameDigest(root) !== frame
        ? "dsl/, compiler/, nix/ or a project file changed since the build server started"
        : builds >= MAX_BUILDS
          ? `the build server has served ${MAX_BUILDS} builds`
          : undefined;
    if (why || !request.build) {
      send({ restart: why ?? "not a request this server knows" });
      conn.end();
      if (why) stop();
      return;
    }
    const result = await runBuild(request.build, (line) => send({ line }));
    send(result);
    conn.end();
    resetIdle();
  };

  server.on("connection", (conn) => {
    let buffered = "";
    conn.setEncoding("utf8");
    conn.on("error", () => conn.destroy()); // the launcher went away (Ctrl-C): the build under way still finishes
    conn.on("data", (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf("\n");
      if (end < 0) return;
      conn.removeAllListeners("data");
      let request: { build?: BuildRequest; stop?: boolean };
      try {
        request = JSON.parse(buffered.slice(0, end)) as typeof request;
      } catch {
        return void conn.destroy();
      }
      queue = queue.then(answer(conn, request));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => (server.off("error", reject), resolve()));
  });
  chmodSync(socketPath, 0o600);
  // For a launcher that finds this server stuck (compiler/launch.mjs ends it).
  writeFileSync(`${socketPath}.pid`, String(process.pid));
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, stop);
  resetIdle();
  // Warm up: the first build loads the modules and parses what the type checker reads; it
  // writes nothing unless modules/ changed since the build that started this server.
  queue = queue.then(async () => void (await runBuild({ typecheck: warmTypecheck, cache: true }, () => {})));
  await closed;
  await queue;
  await checker?.close();
  return 0;
}
