/**
 * `[run] faults`: postgres's setup under the faults a developer meets, run for
 * real (Debian's PostgreSQL, as uid 65534 when the tests run as root) by calling
 * the built process commands directly:
 * - a dataDir with shell syntax in it (`$(…)`, `"`) is a path, never code;
 * - a second stack on a data directory whose server runs is refused, and the
 *   running server is left alone;
 * - a first start whose schema fails, or which is killed half-way, leaves no
 *   cluster that later starts take as set up; the next start sets it up again;
 * - redis stops on SIGTERM (process-compose's stop) even when it cannot save,
 *   where it used to refuse and stay up until killed;
 * - a server that ignores its stop signal altogether is killed after the stop
 *   timeout, so the stack still ends (process-compose alone would wait for ever).
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildDrvs, evalProcessComposeFull, nixAvailable, nixPath, nixString, type ProcessComposeEval, repoRoot, upstreamSeeded } from "./support/nix";
import { installed, loadPackages } from "./support/packages";
import { findProcessCompose, runProcessCompose, unprivileged } from "./support/run";

const missing = [
  ...(nixAvailable() ? [] : ["nix (Debian package nix-bin)"]),
  ...(nixAvailable() && !upstreamSeeded() ? ["the pinned upstream sources (pnpm seed-upstream)"] : []),
  ...(installed(loadPackages().postgresql!) ? [] : ["postgresql (Debian package postgresql)"]),
  ...(installed(loadPackages().redis!) ? [] : ["redis (Debian package redis-server)"]),
];
if (missing.length > 0) console.warn(`[run] faults skipped: missing ${missing.join("; ")}`);

const asUser = unprivileged;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A fresh working directory, writable by the unprivileged user. */
function workDir(): string {
  const d = mkdtempSync(join(tmpdir(), "services-ts-faults-"));
  chmodSync(d, 0o777);
  dirs.push(d);
  return d;
}

/** Evaluates one instance `name` of `service` with `options` (Nix source) and builds its commands (and their probes). */
function instance(service: string, name: string, options: string): Record<string, string> & { readiness: Record<string, string> } {
  const ev: ProcessComposeEval = evalProcessComposeFull(
    `[ ${nixPath(join(repoRoot, "generated", "default.nix"))} { services.${service}.${name} = { enable = true; ${options} }; } ]`,
  );
  buildDrvs([ev.settingsDrv]);
  const procs = Object.entries(ev.settings.processes!);
  return Object.assign(Object.fromEntries(procs.map(([k, p]) => [k, String(p.command)])), {
    readiness: Object.fromEntries(
      procs.flatMap(([k, p]) => {
        const cmd = (p.readiness_probe as { exec?: { command?: string } } | undefined)?.exec?.command;
        return cmd ? [[k, cmd]] : [];
      }),
    ),
  });
}

/** Whether a readiness command reports healthy, run in `cwd` as process-compose runs it. */
function ready(command: string, cwd: string): boolean {
  return spawnSync(asUser(["bash", "-c", command])[0]!, asUser(["bash", "-c", command]).slice(1), { cwd, timeout: 30_000 }).status === 0;
}

/** One postgres instance `pg` with `options` (Nix source): its setup and server commands, built. */
function postgres(options: string): { init: string; server: string } {
  const pg = instance("postgres", "pg", options);
  return { init: pg["pg-init"]!, server: pg.pg! };
}

/** Runs a built command to its end in `cwd`. */
function run(cmd: string, cwd: string): { code: number | null; out: string } {
  const r = spawnSync(asUser([cmd])[0]!, asUser([cmd]).slice(1), { cwd, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function pgIsReady(cwd: string, port: number): boolean {
  const bin = readdirSync("/usr/lib/postgresql").sort().reverse()[0];
  return spawnSync(`/usr/lib/postgresql/${bin}/bin/pg_isready`, ["-q", "-h", "127.0.0.1", "-p", String(port)], { cwd }).status === 0;
}

async function until(pred: () => boolean, seconds: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`not within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(missing.length > 0)("[run] faults: postgres setup", () => {
  it("takes a dataDir holding $(…) and quotes as a path: nothing runs, the cluster is there", () => {
    const dir = workDir();
    const dataDir = './data/x $(touch pwned) "q" `touch pwned2`';
    const { init } = postgres(`dataDir = ${nixString(dataDir)}; port = 25801;`);
    const r = run(init, dir);
    expect(r.code, r.out).toBe(0);
    expect(existsSync(join(dir, "pwned")) || existsSync(join(dir, "pwned2"))).toBe(false);
    expect(existsSync(join(dir, dataDir, "PG_VERSION"))).toBe(true);
  });

  it("refuses a second setup on a data directory whose server runs, and leaves that server running", async () => {
    const dir = workDir();
    const { init, server } = postgres("port = 25802; ensureDatabases = [ \"app\" ];");
    expect(run(init, dir).code).toBe(0);
    const first = spawn(asUser([server])[0]!, asUser([server]).slice(1), { cwd: dir, stdio: "ignore", detached: true });
    try {
      await until(() => pgIsReady(dir, 25802), 30);
      const second = run(init, dir);
      expect(second.code).toBe(1);
      expect(second.out).toMatch(/PostgreSQL is already running on .*\/data\/pg \(pid \d+\), from another stack or started by hand; stop it first\. Nothing was changed\./);
      expect(first.exitCode).toBeNull();
      expect(pgIsReady(dir, 25802)).toBe(true);
    } finally {
      process.kill(-first.pid!, "SIGINT");
      await until(() => first.exitCode !== null || first.signalCode !== null, 30);
    }
  });

  it("leaves no set-up-looking cluster when a schema fails; the next start with a good schema sets it up", () => {
    const dir = workDir();
    const bad = postgres(`port = 25803; initialDatabases = [ { name = "app"; schemas = [ (builtins.toFile "bad.sql" "CREATE TABLE t (id int); SELECT nope;") ]; } ];`);
    const r1 = run(bad.init, dir);
    expect(r1.code).not.toBe(0);
    expect(existsSync(join(dir, "data/pg/PG_VERSION"))).toBe(false);
    // Still failing, never green, on the next start with the same schema.
    expect(run(bad.init, dir).code).not.toBe(0);
    const good = postgres(`port = 25803; initialDatabases = [ { name = "app"; schemas = [ (builtins.toFile "good.sql" "CREATE TABLE t (id int);") ]; } ];`);
    const r2 = run(good.init, dir);
    expect(r2.code, r2.out).toBe(0);
    expect(r2.out).toContain("a previous first start did not finish: setting up the cluster again");
    expect(existsSync(join(dir, "data/pg/PG_VERSION"))).toBe(true);
    expect(existsSync(join(dir, "data/pg.init"))).toBe(false);
  });

  it("recovers from a first start killed half-way (five times, at different moments)", async () => {
    const dir = workDir();
    const slow = postgres(
      `port = 25804; initialDatabases = [ { name = "app"; schemas = [ (builtins.toFile "slow.sql" "CREATE TABLE t (id int); SELECT pg_sleep(3);") ]; } ];`,
    );
    for (const ms of [300, 700, 900, 1100, 1800]) {
      const child = spawn(asUser([slow.init])[0]!, asUser([slow.init]).slice(1), { cwd: dir, stdio: "ignore", detached: true });
      await new Promise((r) => setTimeout(r, ms));
      // As a terminal's Ctrl-C does: the whole process group.
      process.kill(-child.pid!, "SIGINT");
      try {
        await until(() => child.exitCode !== null || child.signalCode !== null, 30);
      } catch (e) {
        console.error(`setup still running 30 s after SIGINT at ${ms} ms:\n${spawnSync("ps", ["-o", "pid,stat,args", "-g", String(child.pid)], { encoding: "utf8" }).stdout}`);
        process.kill(-child.pid!, "SIGKILL");
        throw e;
      }
      expect(existsSync(join(dir, "data/pg/PG_VERSION")), `killed after ${ms} ms`).toBe(false);
    }
    const r = run(slow.init, dir);
    expect(r.code, r.out).toBe(0);
    expect(existsSync(join(dir, "data/pg/PG_VERSION"))).toBe(true);
  }, 120_000);
});

describe.skipIf(missing.length > 0)("[run] faults: redis shutdown", () => {
  it("ends on SIGTERM when its save fails (redis used to refuse to exit: 'Errors trying to shut down the server')", async () => {
    const dir = workDir();
    const cmds = instance("redis", "r", "port = 25811; extraConfig = \"save 3600 1\";");
    const server = spawn(asUser([cmds.r!])[0]!, asUser([cmds.r!]).slice(1), { cwd: dir, stdio: ["ignore", "ignore", "pipe"], detached: true });
    const cli = (...args: string[]) => spawnSync("redis-cli", ["-p", "25811", ...args], { encoding: "utf8" });
    try {
      await until(() => cli("ping").stdout.trim() === "PONG", 30);
      expect(cli("set", "k", "v").stdout.trim()).toBe("OK");
      // Saving can no longer succeed: the dump file's directory is read-only.
      chmodSync(join(dir, "data", "r"), 0o500);
      process.kill(-server.pid!, "SIGTERM");
      await until(() => server.exitCode !== null || server.signalCode !== null, 15);
    } finally {
      if (server.exitCode === null && server.signalCode === null) process.kill(-server.pid!, "SIGKILL");
      chmodSync(join(dir, "data", "r"), 0o700);
    }
    expect(server.exitCode !== null || server.signalCode === "SIGTERM").toBe(true);
  });
});

describe.skipIf(missing.length > 0)("[run] faults: another stack's server on the same port is not taken for this one", () => {
  it("postgres: this instance's server failed to bind, the other stack's answers; readiness stays false", async () => {
    const [a, b] = [workDir(), workDir()];
    const pg = instance("postgres", "pg", "port = 25831;");
    expect(run(pg["pg-init"]!, a).code).toBe(0);
    expect(run(pg["pg-init"]!, b).code).toBe(0);
    const other = spawn(asUser([pg.pg!])[0]!, asUser([pg.pg!]).slice(1), { cwd: a, stdio: "ignore", detached: true });
    try {
      await until(() => ready(pg.readiness.pg!, a), 30);
      // This stack's server cannot bind the port and exits.
      const mine = spawnSync(asUser([pg.pg!])[0]!, asUser([pg.pg!]).slice(1), { cwd: b, encoding: "utf8", timeout: 30_000 });
      expect(mine.status).not.toBe(0);
      expect(ready(pg.readiness.pg!, b)).toBe(false);
    } finally {
      process.kill(-other.pid!, "SIGINT");
      await until(() => other.exitCode !== null || other.signalCode !== null, 30);
    }
  });

  it("redis: the server on the port works in another directory; readiness stays false", async () => {
    const [a, b] = [workDir(), workDir()];
    const r = instance("redis", "r", "port = 25832;");
    const other = spawn(asUser([r.r!])[0]!, asUser([r.r!]).slice(1), { cwd: a, stdio: "ignore", detached: true });
    try {
      await until(() => ready(r.readiness.r!, a), 30);
      expect(ready(r.readiness.r!, b)).toBe(false);
    } finally {
      process.kill(-other.pid!, "SIGTERM");
      await until(() => other.exitCode !== null || other.signalCode !== null, 30);
    }
  });
});

describe.skipIf(missing.length > 0)("[run] faults: postgres-with-replica clone", () => {
  it("an interrupted pg_basebackup leaves no replica to crash-loop on; the next start clones again", async () => {
    const dir = workDir();
    const p = instance("postgres-with-replica", "db", "port = 25841; replicaPort = 25842;");
    expect(run(p["db-init"]!, dir).code).toBe(0);
    const primary = spawn(asUser([p.db!])[0]!, asUser([p.db!]).slice(1), { cwd: dir, stdio: "ignore", detached: true });
    try {
      await until(() => ready(p.readiness.db!, dir), 30);
      // Enough data that the clone takes a while.
      const user = spawnSync("id", ["-nu", process.getuid?.() === 0 ? "65534" : String(process.getuid?.())], { encoding: "utf8" }).stdout.trim();
      const seed = spawnSync("psql", ["-X", "-q", "-h", "127.0.0.1", "-p", "25841", "-U", user, "-d", "postgres", "-c", "CREATE TABLE big AS SELECT g, repeat('x', 300) AS pad FROM generate_series(1, 300000) g"], { encoding: "utf8" });
      expect(seed.status, seed.stderr).toBe(0);
      const clone = spawn(asUser([p["pg-basebackup-db"]!])[0]!, asUser([p["pg-basebackup-db"]!]).slice(1), { cwd: dir, stdio: "ignore", detached: true });
      await until(() => existsSync(join(dir, "data/db-replica.clone/PG_VERSION")), 30);
      process.kill(-clone.pid!, "SIGINT");
      await until(() => clone.exitCode !== null || clone.signalCode !== null, 30);
      expect(clone.exitCode, "the clone was interrupted before it finished").not.toBe(0);
      expect(existsSync(join(dir, "data/db-replica/PG_VERSION"))).toBe(false);
      const again = run(p["pg-basebackup-db"]!, dir);
      expect(again.code, again.out).toBe(0);
      expect(again.out).toContain("a previous clone did not finish: cloning again");
      expect(existsSync(join(dir, "data/db-replica/standby.signal"))).toBe(true);
      expect(existsSync(join(dir, "data/db-replica.clone"))).toBe(false);
    } finally {
      process.kill(-primary.pid!, "SIGINT");
      await until(() => primary.exitCode !== null || primary.signalCode !== null, 30);
    }
  }, 120_000);
});

describe.skipIf(missing.length > 0)("[run] faults: redis replica stopped during its first sync", () => {
  it("a replica writing its first AOF from a 150 MB master ends on SIGTERM within 10 s, at four moments of the sync", async () => {
    const dir = workDir();
    const m = instance("redis", "m", 'port = 25861; extraConfig = "enable-debug-command local\nrepl-diskless-sync-delay 0";');
    const r = instance("redis", "rep", 'port = 25862; extraConfig = "replicaof 127.0.0.1 25861\\nappendonly yes";');
    const master = spawn(asUser([m.m!])[0]!, asUser([m.m!]).slice(1), { cwd: dir, stdio: "ignore", detached: true });
    const cli = (port: number, ...args: string[]) => spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" });
    try {
      await until(() => ready(m.readiness.m!, dir), 30);
      expect(cli(25861, "debug", "populate", "1500000", "key", "100").stdout.trim()).toBe("OK");
      for (const ms of [200, 600, 1200, 2500]) {
        rmSync(join(dir, "data", "rep"), { recursive: true, force: true });
        const replica = spawn(asUser([r.rep!])[0]!, asUser([r.rep!]).slice(1), { cwd: dir, stdio: "ignore", detached: true });
        await new Promise((res) => setTimeout(res, ms));
        const syncing = cli(25862, "info", "replication").stdout;
        console.log(`[faults] SIGTERM at ${ms} ms: ${(syncing.match(/master_link_status:\w+|master_sync_in_progress:\d/g) ?? ["no answer"]).join(" ")}`);
        const sent = Date.now();
        process.kill(-replica.pid!, "SIGTERM");
        try {
          await until(() => replica.exitCode !== null || replica.signalCode !== null, 10);
        } catch (e) {
          process.kill(-replica.pid!, "SIGKILL");
          throw new Error(`the replica was still running 10 s after SIGTERM at ${ms} ms (${/master_link_status:\w+|master_sync_in_progress:\d/g.exec(syncing)?.[0] ?? "?"})`, { cause: e });
        }
        expect(Date.now() - sent).toBeLessThan(10_000);
      }
    } finally {
      process.kill(-master.pid!, "SIGTERM");
      await until(() => master.exitCode !== null || master.signalCode !== null, 30);
    }
  }, 120_000);
});

describe.skipIf(missing.length > 0 || !findProcessCompose())("[run] faults: a server that ignores its stop signal", () => {
  it("is killed after the stop timeout (10 s by default), and the stack ends", async () => {
    // memcached's package replaced by a server that ignores SIGTERM, as a wedged one would;
    // the test process ends the run as soon as it does.
    const wedged = String.raw`(final: prev: {
      memcached = final.writeShellScriptBin "memcached" ''
        trap "" TERM
        echo "wedged server up"
        : > wedged-server-up   # in its working directory, data/m
        while true; do ${"$"}{final.coreutils}/bin/sleep 0.2; done
      '';
    })`;
    const ev = evalProcessComposeFull(
      `[ ${nixPath(join(repoRoot, "generated", "default.nix"))} ({ pkgs, ... }: {
        services.memcached."m".enable = true;
        services.memcached."m".port = 25861;
        # Ends the run once the server ignores SIGTERM (not before: a SIGTERM that came first would end it).
        settings.processes.test = {
          command = "until [ -e data/m/wedged-server-up ]; do ${"$"}{pkgs.coreutils}/bin/sleep 0.1; done";
          depends_on.m.condition = "process_started";
        };
      }) ]`,
      { pkgsOverlays: `[ ${wedged} ]` },
    );
    expect(ev.settings.processes!.m!.shutdown).toMatchObject({ timeout_seconds: 10 });
    const r = await runProcessCompose(findProcessCompose()!, ev, { workDir: workDir(), timeoutSeconds: 60 });
    if (r.timedOut || r.seconds > 30) console.error(r.output);
    expect(r.output).toContain("wedged server up");
    expect({ timedOut: r.timedOut, code: r.code }).toEqual({ timedOut: false, code: 0 });
    // The signal was ignored for the whole timeout, then the server was killed.
    expect(r.seconds).toBeGreaterThanOrEqual(9);
    expect(r.seconds).toBeLessThan(30);
  }, 120_000);
});
