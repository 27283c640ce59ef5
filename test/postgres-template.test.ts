/**
 * `[run] postgres initdbTemplate`: a first start copies a cluster template made
 * once per set of initdb inputs into a per-user cache (modules/postgres.ts,
 * `initdbTemplate`), run for real with Debian's PostgreSQL:
 * - equivalence: a cluster copied from a template made by an earlier instance
 *   and one made by `initdb` (`initdbTemplate.enable = false`) have the same
 *   `pg_controldata` (apart from the identifier, the nonce and the times), the
 *   same roles and databases, the same files with the same modes and owner, and
 *   the same `postgresql.auto.conf`, `pg_hba.conf`, `pg_ident.conf`; another
 *   superuser makes a template of its own;
 * - a start killed while it builds the template leaves no partial one; two instances starting at once on an
 *   empty cache both succeed, one template results; a build a killed
 *   start left behind is removed after an hour;
 * - a cache that cannot be used (HOME `/nonexistent`, no HOME, a read-only
 *   directory) falls back to `initdb`, saying so in one line.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildDrvs, evalProcessComposeFull, nixAvailable, nixPath, repoRoot, upstreamSeeded } from "./support/nix";
import { installed, loadPackages } from "./support/packages";
import { unprivileged } from "./support/run";

const packages = loadPackages();
const runMissing = [
  ...(nixAvailable() ? [] : ["nix (Debian package nix-bin)"]),
  ...(nixAvailable() && !upstreamSeeded() ? ["the pinned upstream sources (pnpm seed-upstream)"] : []),
  ...(installed(packages.postgresql!) ? [] : ["postgresql (Debian package postgresql)"]),
];
if (runMissing.length > 0) console.warn(`[run] postgres initdbTemplate skipped: missing ${runMissing.join("; ")}`);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A directory the unprivileged user may write in. */
function workDir(): string {
  const d = mkdtempSync(join(tmpdir(), "services-ts-pgtpl-"));
  chmodSync(d, 0o777);
  dirs.push(d);
  return d;
}

const pgBin = (): string => `/usr/lib/postgresql/${readdirSync("/usr/lib/postgresql").sort().reverse()[0]}/bin`;

/**
 * The instances, evaluated and built once: `tpl` (the default, a template), `plain` (`initdbTemplate.enable = false`),
 * `admin` (a template, superuser "admin"), `group` and `groupPlain` (`--allow-group-access`, with and without), `dir` (a relative `initdbTemplate.directory`),
 * `waldir` (`--waldir`, which a template cannot carry). Each instance's commands run in a directory of its own.
 */
let built: Record<string, { init: string; server: string }> | undefined;
/** `waldir`'s WAL directory (initdb wants an absolute path), one per test process. */
const walDir = join(tmpdir(), `services-ts-pgtpl-wal-${process.pid}`);
dirs.push(walDir);
function commands(): Record<string, { init: string; server: string }> {
  if (built) return built;
  const ev = evalProcessComposeFull(
    `[ ${nixPath(join(repoRoot, "generated", "default.nix"))} ({ ... }: { services.postgres = {
      tpl = { enable = true; port = 25831; };
      plain = { enable = true; port = 25832; initdbTemplate.enable = false; };
      admin = { enable = true; port = 25833; superuser = "admin"; };
      group = { enable = true; port = 25834; initdbArgs = [ "--locale=C" "--encoding=UTF8" "--allow-group-access" ]; };
      groupPlain = { enable = true; port = 25835; initdbArgs = [ "--locale=C" "--encoding=UTF8" "--allow-group-access" ]; initdbTemplate.enable = false; };
      dir = { enable = true; port = 25836; initdbTemplate.directory = "./templates"; };
      waldir = { enable = true; port = 25837; initdbArgs = [ "--locale=C" "--waldir=${walDir}" ]; };
    }; }) ]`,
  );
  buildDrvs([ev.settingsDrv]);
  const p = ev.settings.processes!;
  built = Object.fromEntries(["tpl", "plain", "admin", "group", "groupPlain", "dir", "waldir"].map((n) => [n, { init: String(p[`${n}-init`]!.command), server: String(p[n]!.command) }]));
  return built;
}

/** The environment of a start: a home of its own and, unless `cache` is null, XDG_CACHE_HOME. */
function env(home: string | undefined, cache: string | null): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    LANG: "C.UTF-8",
    ...(home === undefined ? {} : { HOME: home }),
    ...(cache === null ? {} : { XDG_CACHE_HOME: cache }),
  };
}

/** Runs a command (with `shell`, a line for `sh -c`) as the unprivileged user. */
function run(cmd: string, cwd: string, e: NodeJS.ProcessEnv, shell = false): { code: number | null; out: string } {
  const argv = unprivileged(shell ? ["sh", "-c", cmd] : [cmd]);
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: "utf8", timeout: 120_000, env: e });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function runAsync(cmd: string, cwd: string, e: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const argv = unprivileged([cmd]);
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: e, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out })));
}

function tool(name: string, args: string[], cwd: string): string {
  const argv = unprivileged([join(pgBin(), name), ...args]);
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: "utf8", env: { PATH: process.env.PATH, LC_ALL: "C" } });
  if (r.status !== 0) throw new Error(`${name}: ${r.stderr}`);
  return r.stdout;
}

/**
 * pg_controldata without what differs between any two clusters made alike: the system identifier (every cluster
 * copied from one template shares the template's: the accepted difference), the mock authentication nonce (random
 * per initdb, shared likewise) and the wall-clock times. Every LSN, XID, OID and setting must match: both clusters
 * went through the same initdb and the same first-start SQL.
 */
function controlData(dataDir: string, cwd: string): string {
  return tool("pg_controldata", ["-D", dataDir], cwd)
    .split("\n")
    .filter((l) => !/^(Database system identifier|Mock authentication nonce|pg_control last modified|Time of latest checkpoint):/.test(l))
    .join("\n");
}

const identifier = (dataDir: string, cwd: string): string => /Database system identifier:\s+(\d+)/.exec(tool("pg_controldata", ["-D", dataDir], cwd))![1]!;

/** Every entry under `dir` but the server's runtime files: path, type and mode, owner and group; contents of the named files. */
function files(dir: string, contentsOf: string[]): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    if (/^(postmaster\.pid|postmaster\.opts|log)$/.test(rel)) return;
    const p = join(dir, rel);
    const st = lstatSync(p);
    out.push(`${rel || "."} ${st.mode.toString(8)} ${st.uid}:${st.gid}`);
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(rel === "" ? e : `${rel}/${e}`);
  };
  walk("");
  for (const f of contentsOf) out.push(`${f}:\n${readFileSync(join(dir, f), "utf8")}`);
  return out;
}

async function until(pred: () => boolean, seconds: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`not within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the server, returns what `sql` gives over loopback TCP, stops it (SIGINT). */
async function query(server: string, cwd: string, port: number, sql: string, user?: string): Promise<string> {
  const argv = unprivileged([server]);
  const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: "ignore", detached: true, env: env(cwd, null) });
  const psql = () => {
    const a = unprivileged([join(pgBin(), "psql"), "-X", "-w", "-At", "-h", "127.0.0.1", "-p", String(port), "-d", "postgres", ...(user === undefined ? [] : ["-U", user]), "-c", sql]);
    return spawnSync(a[0]!, a.slice(1), { cwd, encoding: "utf8" });
  };
  try {
    await until(() => psql().status === 0, 30);
    return psql().stdout;
  } finally {
    process.kill(-child.pid!, "SIGINT");
    await until(() => child.exitCode !== null || child.signalCode !== null, 30);
  }
}

const rolesSql =
  "SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, rolpassword IS NULL, rolvaliduntil, oid FROM pg_authid ORDER BY rolname";
const databasesSql =
  "SELECT datname, pg_encoding_to_char(encoding), datlocprovider, datcollate, datctype, daticulocale, datistemplate, datallowconn, datconnlimit, pg_get_userbyid(datdba), oid FROM pg_database ORDER BY datname";

/** The templates in a cache (`<cache>/services-ts/postgres-templates`), unfinished builds included. */
const templates = (cache: string): string[] => {
  const d = join(cache, "services-ts", "postgres-templates");
  return existsSync(d) ? readdirSync(d).sort() : [];
};
const templateLines = (out: string): string[] => out.split("\n").filter((l) => l.startsWith("initdbTemplate:"));

describe.skipIf(runMissing.length > 0)("[run] postgres initdbTemplate", () => {
  it("a cluster copied from a template is what initdb gives: pg_controldata, roles, databases, files, modes, owner, configuration files", async () => {
    const c = commands();
    const cache = workDir();
    // The template is made by a first instance in another directory; the second copies it.
    const first = workDir();
    const made = run(c.tpl!.init, first, env(first, cache));
    expect(made.code, made.out).toBe(0);
    expect(templateLines(made.out)).toEqual([expect.stringMatching(/^initdbTemplate: making the template /), expect.stringMatching(/^initdbTemplate: the cluster is a copy of /)]);
    expect(templates(cache)).toHaveLength(1);

    const copied = workDir();
    const r = run(c.tpl!.init, copied, env(copied, cache));
    expect(r.code, r.out).toBe(0);
    expect(templateLines(r.out)).toEqual([`initdbTemplate: the cluster is a copy of ${cache}/services-ts/postgres-templates/${templates(cache)[0]}`]);
    const plain = workDir();
    const p = run(c.plain!.init, plain, env(plain, cache));
    expect(p.code, p.out).toBe(0);
    expect(templateLines(p.out)).toEqual([]);
    expect(templates(cache)).toHaveLength(1);

    const a = join(copied, "data/tpl");
    const b = join(plain, "data/plain");
    expect(controlData(a, copied)).toBe(controlData(b, plain));
    expect(controlData(a, copied)).toContain("Database cluster state:               shut down");
    // The accepted difference: copies of one template share its identifier; initdb makes a new one.
    expect(identifier(a, copied)).toBe(identifier(join(first, "data/tpl"), first));
    expect(identifier(a, copied)).not.toBe(identifier(b, plain));
    // postgresql.conf is the module's (it differs in the port); its mode and owner are compared with the rest.
    const same = ["PG_VERSION", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf"];
    expect(files(a, same)).toEqual(files(b, same));
    expect(lstatSync(a).mode & 0o777).toBe(0o700);
    expect(lstatSync(a).uid).toBe(process.getuid?.() === 0 ? 65534 : process.getuid?.());

    for (const sql of [rolesSql, databasesSql]) {
      const viaTemplate = await query(c.tpl!.server, copied, 25831, sql);
      expect(viaTemplate).toBe(await query(c.plain!.server, plain, 25832, sql));
      expect(viaTemplate).not.toBe("");
    }

    // Another superuser is another key: a template of its own, and the role is that name.
    const admin = workDir();
    const ad = run(c.admin!.init, admin, env(admin, cache));
    expect(ad.code, ad.out).toBe(0);
    expect(ad.out).toContain("initdbTemplate: making the template ");
    expect(templates(cache)).toHaveLength(2);
    expect(await query(c.admin!.server, admin, 25833, "SELECT rolname FROM pg_authid WHERE rolsuper", "admin")).toBe("admin\n");
  }, 240_000);

  it("--allow-group-access under umask 077 (as systemd units run): the copy keeps initdb's 0750/0640", () => {
    const c = commands();
    const cache = workDir();
    const made: Record<string, string> = {};
    for (const [n, times] of [["group", 2], ["groupPlain", 1]] as const) {
      for (let i = 0; i < times; i++) {
        const d = workDir();
        const r = run(`umask 077 && exec ${c[n]!.init}`, d, env(d, cache), true);
        expect(r.code, r.out).toBe(0);
        made[n] = join(d, "data", n);
      }
    }
    expect(templates(cache)).toHaveLength(1);
    const same = ["PG_VERSION", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf"];
    expect(files(made.group!, same)).toEqual(files(made.groupPlain!, same));
    expect(lstatSync(made.group!).mode & 0o777).toBe(0o750);
    expect(lstatSync(join(made.group!, "PG_VERSION")).mode & 0o777).toBe(0o640);
  }, 240_000);

  it("two instances starting at once on an empty cache both succeed, and one template results", async () => {
    const c = commands();
    // Both must build (neither finds a template when it looks): repeated on a fresh cache until they did, at most three times.
    for (let attempt = 1; ; attempt++) {
      const cache = workDir();
      const [d1, d2] = [workDir(), workDir()];
      const [r1, r2] = await Promise.all([runAsync(c.tpl!.init, d1, env(d1, cache)), runAsync(c.tpl!.init, d2, env(d2, cache))]);
      expect(r1.code, r1.out).toBe(0);
      expect(r2.code, r2.out).toBe(0);
      const built = [r1, r2].filter((r) => r.out.includes("initdbTemplate: making the template ")).length;
      if (built < 2 && attempt < 3) continue;
      expect(built, "both starts built a template at once").toBe(2);
      // One rename won; the other start said so and used the winner's; no unfinished build is left.
      expect(`${r1.out}${r2.out}`.split("initdbTemplate: another start made the template first; using it").length - 1).toBe(1);
      const [t] = templates(cache);
      expect(templates(cache)).toEqual([t]);
      for (const r of [r1, r2]) expect(r.out).toContain(`initdbTemplate: the cluster is a copy of ${cache}/services-ts/postgres-templates/${t}`);
      // Both clusters are whole copies of that template (same files and modes), and are set up.
      const [a, b] = [join(d1, "data/tpl"), join(d2, "data/tpl")];
      expect(files(a, ["PG_VERSION"])).toEqual(files(b, ["PG_VERSION"]));
      expect(identifier(a, d1)).toBe(identifier(join(cache, "services-ts/postgres-templates", t!), d1));
      expect(existsSync(join(d1, "data/tpl.init")) || existsSync(join(d2, "data/tpl.init"))).toBe(false);
      return;
    }
  }, 240_000);

  it("a start killed while it builds the template leaves no template that is not whole; the next start makes one", async () => {
    const c = commands();
    for (const [signal, ms] of [["SIGINT", 300], ["SIGKILL", 300], ["SIGKILL", 700]] as const) {
      const cache = workDir();
      const d = workDir();
      const argv = unprivileged([c.tpl!.init]);
      const child = spawn(argv[0]!, argv.slice(1), { cwd: d, env: env(d, cache), stdio: "ignore", detached: true });
      await new Promise((r) => setTimeout(r, ms));
      process.kill(-child.pid!, signal);
      await until(() => child.exitCode !== null || child.signalCode !== null, 30);
      const base = join(cache, "services-ts", "postgres-templates");
      for (const e of templates(cache)) {
        // An unfinished build keeps its name (SIGKILL cannot be trapped; SIGINT's trap removes it); a template is whole.
        if (e.startsWith(".building-")) expect(signal, e).toBe("SIGKILL");
        else expect(existsSync(join(base, e, "global", "pg_control")), `${signal} at ${ms} ms: ${e}`).toBe(true);
      }
      rmSync(join(d, "data"), { recursive: true, force: true });
      const r = run(c.tpl!.init, d, env(d, cache));
      expect(r.code, r.out).toBe(0);
      expect(r.out).toContain("initdbTemplate: the cluster is a copy of ");
      expect(templates(cache).filter((e) => !e.startsWith("."))).toHaveLength(1);
    }
  }, 240_000);

  it("a build a killed start left behind is removed after an hour; a younger one (a start building now) is kept", () => {
    const c = commands();
    const cache = workDir();
    const base = join(cache, "services-ts", "postgres-templates");
    mkdirSync(join(base, ".building-old"), { recursive: true });
    mkdirSync(join(base, ".building-new"));
    chmodSync(base, 0o777);
    const twoHoursAgo = Date.now() / 1000 - 7200;
    utimesSync(join(base, ".building-old"), twoHoursAgo, twoHoursAgo);
    const d = workDir();
    const r = run(c.tpl!.init, d, env(d, cache));
    expect(r.code, r.out).toBe(0);
    expect(templates(cache).filter((e) => e.startsWith("."))).toEqual([".building-new"]);
  }, 120_000);

  it("initdbTemplate.directory: a relative path is taken from where the stack runs; initdbArgs with --waldir make no template", () => {
    const c = commands();
    const d = workDir();
    const r = run(c.dir!.init, d, env("/nonexistent", null));
    expect(r.code, r.out).toBe(0);
    expect(templateLines(r.out)[0]).toMatch(new RegExp(`^initdbTemplate: making the template ${d}/templates/[0-9a-f]{64}$`));
    expect(readdirSync(join(d, "templates"))).toHaveLength(1);
    const cache = workDir();
    const w = run(c.waldir!.init, d, env(d, cache));
    expect(w.code, w.out).toBe(0);
    expect(templateLines(w.out)).toEqual([`initdbTemplate: initdbArgs has --waldir=${walDir}, which names something outside the cluster: running initdb without the template`]);
    expect(templates(cache)).toEqual([]);
    expect(lstatSync(join(d, "data/waldir/pg_wal")).isSymbolicLink()).toBe(true);
  }, 120_000);

  it("a cache that cannot be used (HOME /nonexistent, no HOME, a read-only directory) falls back to initdb, saying so in one line", () => {
    const c = commands();
    const readOnly = workDir();
    mkdirSync(join(readOnly, "services-ts", "postgres-templates"), { recursive: true });
    chmodSync(join(readOnly, "services-ts", "postgres-templates"), 0o555);
    const cases: [string, NodeJS.ProcessEnv, string][] = [
      ["HOME /nonexistent", env("/nonexistent", null), "initdbTemplate: cannot create or write /nonexistent/.cache/services-ts/postgres-templates: running initdb without the template"],
      ["no HOME", env(undefined, null), "initdbTemplate: neither XDG_CACHE_HOME nor HOME is set, so there is no cache directory: running initdb without the template"],
      ["read-only", env("/nonexistent", readOnly), `initdbTemplate: cannot create or write ${readOnly}/services-ts/postgres-templates: running initdb without the template`],
    ];
    for (const [label, e, line] of cases) {
      const d = workDir();
      const r = run(c.tpl!.init, d, e);
      expect(r.code, `${label}: ${r.out}`).toBe(0);
      expect(templateLines(r.out), label).toEqual([line]);
      // initdb ran (its own output) and the cluster is in place.
      expect(r.out, label).toContain("Success. You can now start the database server");
      expect(existsSync(join(d, "data/tpl/global/pg_control")), label).toBe(true);
    }
    expect(readdirSync(join(readOnly, "services-ts", "postgres-templates"))).toEqual([]);
  }, 240_000);
});
