/**
 * Proves the Nix test infrastructure on this machine: the upstream seeding
 * tool, the TEST-ONLY package set (test/nix/pkgs.nix), evaluation through
 * process-compose-flake (test/nix/eval.nix) and flake-parts
 * (test/nix/eval-flake-parts.nix), and the TS helpers in test/support/nix.ts.
 *
 * Tiers that need Nix or seeded upstream sources are skipped by name, never
 * passed without running.
 */
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installed, loadPackages } from "./support/packages";
import { findProcessCompose, runProcessCompose } from "./support/run";
import {
  buildDrv,
  evalFlakeParts,
  evalProcessCompose,
  evalProcessComposeFull,
  fixedSourcePath,
  nixAvailable,
  nixEnv,
  nixEvalJson,
  nixPath,
  nixString,
  nixTestDir,
  readProcessScript,
  readUpstreamLock,
  repoRoot,
  storePathValid,
  upstreamMissing,
  upstreamSeeded,
  upstreamSkipReason,
  type ProcessComposeEval,
} from "./support/nix";

const NIX = nixAvailable();
const SEEDED = NIX && upstreamSeeded();
const HAS_SHELLCHECK = existsSync("/usr/bin/shellcheck");
const SLOW = 120_000;

if (!NIX) console.warn("[nix] tiers skipped: nix-instantiate is not available");
else if (!SEEDED) console.warn(`${upstreamSkipReason} (missing: ${upstreamMissing().join(", ")})`);

/** Nix source evaluating to the test package set. */
const pkgsExpr = `(import ${nixPath(path.join(nixTestDir, "pkgs.nix"))} {
  lib = import ((import ${nixPath(path.join(nixTestDir, "sources.nix"))}).nixpkgs-lib + "/lib");
})`;

const tmpRoots: string[] = [];
function tmpDir(prefix: string): string {
  const d = mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpRoots.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

describe("upstream lock", () => {
  it("pins nixpkgs-lib, process-compose-flake, flake-parts and services-flake like shared/upstream.json", () => {
    const lock = readUpstreamLock();
    expect(Object.keys(lock).sort()).toEqual(["flake-parts", "nixpkgs-lib", "process-compose-flake", "services-flake"]);
    for (const e of Object.values(lock)) {
      expect(e.rev).toMatch(/^[0-9a-f]{40}$/);
      expect(e.sha256).toMatch(/^[0-9a-df-np-sv-z]{52}$/);
      expect(e.url).toBe(`https://github.com/${e.repo}/archive/${e.rev}.tar.gz`);
    }
    const shared = path.resolve(repoRoot, "../shared/upstream.json");
    if (existsSync(shared)) {
      const sources = (JSON.parse(readFileSync(shared, "utf8")) as { sources: Record<string, Record<string, string>> })
        .sources;
      for (const [name, e] of Object.entries(lock)) {
        expect({ name, rev: e.rev, sha256: e.sha256 }).toEqual({
          name,
          rev: sources[name]?.rev,
          sha256: sources[name]?.sha256,
        });
      }
    }
  });
});

describe.skipIf(!NIX)("[nix] seed-upstream tool", () => {
  const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx");
  const tool = path.join(repoRoot, "test", "tools", "seed-upstream.ts");
  let root: string;
  let hash: string;
  let rev: string;
  const added: string[] = [];

  function seed(lock: object, ...args: string[]) {
    const lockFile = path.join(root, `lock-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(lockFile, JSON.stringify(lock));
    return spawnSync(tsx, [tool, "--lock", lockFile, "--no-gc-root", ...args], {
      encoding: "utf8",
      env: { ...process.env, SERVICES_TS_UPSTREAM_MIRRORS: path.join(root, "none") },
    });
  }
  const entry = (name: string, sha256: string, r = rev) => ({
    [name]: { repo: `test-owner/${name}`, rev: r, url: `https://example.invalid/${name}.tar.gz`, sha256 },
  });

  beforeAll(() => {
    root = tmpDir("seed-test-");
    // A tree with unique content, so the store path is new on every run.
    const tree = path.join(root, "tree");
    mkdirSync(path.join(tree, "sub"), { recursive: true });
    writeFileSync(path.join(tree, "default.nix"), `{ nonce = "${Date.now()}-${Math.random()}"; }\n`);
    writeFileSync(path.join(tree, "sub", "run.sh"), "#!/bin/sh\necho run\n", { mode: 0o755 });
    hash = spawnSync("nix-hash", ["--type", "sha256", "--base32", tree], { encoding: "utf8", env: nixEnv }).stdout.trim();
    expect(hash).toMatch(/^[0-9a-z]{52}$/);
    // The same tree as a plain directory and as a git repository.
    const plain = path.join(root, "mirrors", "test-owner+plainthing");
    mkdirSync(plain, { recursive: true });
    spawnSync("cp", ["-a", `${tree}/.`, plain]);
    const git = path.join(root, "mirrors", "test-owner+gitthing");
    mkdirSync(git, { recursive: true });
    spawnSync("cp", ["-a", `${tree}/.`, git]);
    const g = (...a: string[]) =>
      spawnSync("git", ["-C", git, "-c", "user.name=t", "-c", "user.email=t@example.invalid", ...a], {
        encoding: "utf8",
      });
    g("init", "-q");
    g("add", "-A");
    g("commit", "-q", "-m", "tree");
    rev = g("rev-parse", "HEAD").stdout.trim();
    expect(rev).toMatch(/^[0-9a-f]{40}$/);
  });
  afterAll(() => {
    for (const p of added) spawnSync("nix-store", ["--delete", p], { env: nixEnv });
  });

  it("adds a plain directory, fetchTarball then resolves it offline, and a rerun skips it", () => {
    const lock = entry("plainthing", hash);
    const r = seed(lock, "--from", path.join(root, "mirrors"));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const expected = fixedSourcePath(hash);
    added.push(expected);
    expect(r.stdout).toContain(`plainthing: hash ok, added ${expected}`);
    expect(storePathValid(expected)).toBe(true);
    const resolved = nixEvalJson(
      `builtins.fetchTarball { url = "https://example.invalid/plainthing.tar.gz"; sha256 = ${nixString(hash)}; }`,
    );
    expect(resolved).toBe(expected);
    expect(readFileSync(path.join(expected, "sub", "run.sh"), "utf8")).toContain("echo run");

    const again = seed(lock, "--from", path.join(root, "mirrors"));
    expect(again.status).toBe(0);
    expect(again.stdout).toContain(`plainthing: already in store ${expected}`);
  }, SLOW);

  it("exports a git repository at the pinned rev with git archive", () => {
    // Same tree → same hash → same store path; delete it first so the git path is exercised.
    const expected = fixedSourcePath(hash);
    spawnSync("nix-store", ["--delete", expected], { env: nixEnv });
    expect(storePathValid(expected)).toBe(false);
    const r = seed(entry("gitthing", hash), "--from", path.join(root, "mirrors"));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`gitthing: hash ok, added ${expected}`);
    added.push(expected);
  }, SLOW);

  it("refuses a tree whose NAR hash differs from the lock", () => {
    const wrong = "0".repeat(52);
    const r = seed(entry("plainthing", wrong), "--from", path.join(root, "mirrors"));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("NAR hash mismatch");
    expect(r.stderr).toContain(`computed: ${hash}`);
    expect(r.stderr).toContain("Refusing to add it to the store");
  }, SLOW);

  it("fails on a missing source, and only warns with --optional", () => {
    const lock = entry("nowhere", "1".repeat(52));
    const r = seed(lock);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nowhere: no copy of test-owner\/nowhere under /);
    const o = seed(lock, "--optional");
    expect(o.status).toBe(0);
    expect(o.stderr).toMatch(/warning: nowhere: no copy .*\(skipped: --optional\)/);
  }, SLOW);

  it("rejects a git mirror that lacks the pinned commit", () => {
    const r = seed(entry("gitthing", "1".repeat(52), "f".repeat(40)), "--from", path.join(root, "mirrors"));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`none has commit ${"f".repeat(40)}`);
  }, SLOW);
});

describe.skipIf(!SEEDED)("[nix eval] test package set (test/nix/pkgs.nix)", () => {
  it("postgresql: bin/pg_ctl and bin/postgres after build, no meta.mainProgram (as nixpkgs'); withPackages is a tree of its own whose server finds only the chosen extensions", () => {
    const info = nixEvalJson(`let p = ${pkgsExpr}; in {
      main = p.postgresql.meta.mainProgram or null;
      out = p.postgresql.outPath;
      withPkgs = (p.postgresql.withPackages (ps: [ ])).outPath;
      extensions = builtins.attrNames p.postgresql.pkgs;
      version = p.postgresql.version;
      withVersion = (p.postgresql.withPackages (ps: [ ])).psqlSchema;
    }`) as { main: string | null; out: string; withPkgs: string; extensions: string[]; version: string; withVersion: string };
    expect(info.main).toBeNull();
    expect(info.withPkgs).not.toBe(info.out);
    expect(info.extensions).toEqual(expect.arrayContaining(["pg_cron", "pg_partman", "pgaudit", "pgtap", "postgis"]));
    expect(info.version).toMatch(/^\d+$/);
    expect(info.withVersion).toBe(info.version);
    const out = buildDrv(`${pkgsExpr}.postgresql`);
    expect(out).toBe(info.out);
    expect(existsSync(path.join(out, "bin", "pg_ctl"))).toBe(true);
    expect(existsSync(path.join(out, "bin", "postgres"))).toBe(true);
    expect(existsSync(path.join(out, "bin", "initdb"))).toBe(true);
    if (!installed(loadPackages().pgtap!)) return;
    // The tree's postgres is a copy (PostgreSQL finds share/ and lib/ from its real path); pgtap is there, pg_cron not.
    const tree = buildDrv(`(${pkgsExpr}.postgresql.withPackages (ps: [ ps.pgtap ]))`);
    const major = info.version;
    expect(lstatSync(path.join(tree, "lib", "postgresql", major, "bin", "postgres")).isSymbolicLink()).toBe(false);
    expect(existsSync(path.join(tree, "share", "postgresql", major, "extension", "pgtap.control"))).toBe(true);
    expect(existsSync(path.join(tree, "share", "postgresql", major, "extension", "pg_cron.control"))).toBe(false);
    expect(existsSync(path.join(tree, "share", "postgresql", major, "extension", "pgcrypto.control"))).toBe(true);
  }, SLOW);

  it("redis: redis-server --version runs from the store package", () => {
    const out = buildDrv(`${pkgsExpr}.redis`);
    const r = spawnSync(path.join(out, "bin", "redis-server"), ["--version"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Redis server v=\d+\./);
    expect(existsSync(path.join(out, "bin", "redis-cli"))).toBe(true);
  }, SLOW);

  it("coreutils, gnugrep, gawk, findutils, gnused, bash build and getExe points into those with a meta.mainProgram", () => {
    // findutils has none in nixpkgs (test/nixpkgs-facts.json), so neither has its stand-in.
    const exes = nixEvalJson(`let p = ${pkgsExpr}; in map p.lib.getExe [ p.gnugrep p.gawk p.gnused p.bash ]`) as string[];
    expect(exes.map((e) => e.replace(/^\/nix\/store\/[a-z0-9]{32}-/, ""))).toEqual([
      "gnugrep/bin/grep",
      "gawk/bin/gawk",
      "gnused/bin/sed",
      "bash/bin/bash",
    ]);
    const out = buildDrv(
      `let p = ${pkgsExpr}; in p.symlinkJoin { name = "tools"; paths = with p; [ coreutils gnugrep gawk findutils gnused bash ]; }`,
    );
    const r = spawnSync(
      path.join(out, "bin", "bash"),
      ["-c", "echo a:b | awk -F: '{print $2}' | sed s/b/c/ | grep c && find /dev/null -maxdepth 0 | wc -l"],
      // stdin "ignore": Node's stdin pipe is a socketpair, which makes bash read ~/.bashrc.
      { encoding: "utf8", env: { PATH: path.join(out, "bin") }, stdio: ["ignore", "pipe", "pipe"] },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("c\n1\n");
  }, SLOW);

  it("writeShellApplication: nixpkgs layout, runtimeEnv, mainProgram, text kept as an attribute", () => {
    const info = nixEvalJson(`let p = ${pkgsExpr}; a = p.writeShellApplication {
        name = "greet"; runtimeInputs = [ p.coreutils ]; runtimeEnv = { WHO = "a b"; };
        text = ''echo "hi $WHO" | tr a-z A-Z'';
      }; in { exe = p.lib.getExe a; main = a.meta.mainProgram; text = a.text; body = a.scriptText; coreutils = p.coreutils.outPath; }`) as Record<string, string>;
    expect(info.main).toBe("greet");
    expect(info.exe).toMatch(/-greet\/bin\/greet$/);
    expect(info.body).toBe(`echo "hi $WHO" | tr a-z A-Z`);
    expect(info.text).toBe(
      [
        "#!/bin/bash",
        "set -o errexit",
        "set -o nounset",
        "set -o pipefail",
        "WHO='a b'",
        "export WHO",
        "",
        `export PATH="${info.coreutils}/bin:$PATH"`,
        "",
        `echo "hi $WHO" | tr a-z A-Z`,
        "",
      ].join("\n"),
    );
  }, SLOW);

  it.skipIf(!HAS_SHELLCHECK)("[shellcheck] writeShellApplication fails the build on a shellcheck finding", () => {
    expect(() =>
      buildDrv(`let p = ${pkgsExpr}; in p.writeShellApplication { name = "bad-${Date.now()}"; text = "echo $1"; }`),
    ).toThrow(/SC2086/);
    const ok = buildDrv(
      `let p = ${pkgsExpr}; in p.writeShellApplication { name = "quoted"; excludeShellChecks = [ ]; text = ''echo "$@"''; }`,
    );
    expect(existsSync(path.join(ok, "bin", "quoted"))).toBe(true);
  }, SLOW);

  it("a build failure throws with Nix's stderr", () => {
    expect(() => buildDrv(`let p = ${pkgsExpr}; in p.runCommand "fails" { } "echo boom-from-builder >&2; exit 3"`)).toThrow(
      /boom-from-builder/,
    );
  }, SLOW);
});

describe.skipIf(!SEEDED)("[nix eval] process-compose-flake through test/nix/eval.nix", () => {
  let dir: string;
  let ev: ProcessComposeEval;

  beforeAll(() => {
    dir = tmpDir("pc-fixture-");
    writeFileSync(
      path.join(dir, "hello.nix"),
      `{ pkgs, ... }: {
        settings.processes.hello = {
          command = pkgs.writeShellApplication {
            name = "hello";
            runtimeInputs = [ pkgs.coreutils ];
            text = "echo hi";
          };
        };
        settings.processes.plain = {
          command = "echo plain";
          environment = { A = "1"; };
          depends_on.hello.condition = "process_completed_successfully";
        };
      }\n`,
    );
    ev = evalProcessComposeFull(`[ ${nixPath(path.join(dir, "hello.nix"))} ]`);
  }, SLOW);

  it("returns process-compose-flake's settings JSON (nulls and empty sets stripped)", () => {
    const hello = ev.settings.processes?.hello;
    expect(hello?.namespace).toBe("default");
    expect(hello?.command).toMatch(/^\/nix\/store\/[a-z0-9]{32}-hello\/bin\/hello$/);
    expect(Object.keys(hello ?? {}).sort()).toEqual(["command", "log_configuration", "namespace"]);
    expect(ev.settings.processes?.plain).toEqual({
      command: "echo plain",
      environment: ["A=1"],
      depends_on: { hello: { condition: "process_completed_successfully" } },
      log_configuration: {},
      namespace: "default",
    });
    expect(ev.settings.shell?.shell_argument).toBe("-c");
    expect(ev.settings.shell?.shell_command).toMatch(/-bash\/bin\/bash$/);
    expect(ev.settings.disable_env_expansion).toBe(true);
    expect(ev.settingsTest).toBeNull();
    expect(ev.commandDrvs.plain).toBeNull();
    expect(ev.commandDrvs.hello).toMatch(/^\/nix\/store\/[a-z0-9]{32}-hello\.drv$/);
  });

  it("evalProcessCompose returns the same settings", () => {
    expect(evalProcessCompose(`[ ${nixPath(path.join(dir, "hello.nix"))} ]`)).toEqual(ev.settings);
  }, SLOW);

  it("builds the command script, which runs and prints hi", () => {
    const out = buildDrv(ev.commandDrvs.hello as string);
    expect(ev.settings.processes?.hello?.command).toBe(`${out}/bin/hello`);
    const r = spawnSync(`${out}/bin/hello`, [], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("hi\n");
    const script = readProcessScript(ev, "hello");
    expect(script.startsWith("#!/bin/bash\nset -o errexit\n")).toBe(true);
    expect(script).toMatch(/export PATH="\/nix\/store\/[a-z0-9]{32}-coreutils\/bin:\$PATH"/);
    expect(script.trimEnd().endsWith("echo hi")).toBe(true);
  }, SLOW);

  it("a `test` process yields settingsTest like process-compose-flake's settingsTestFile", () => {
    const t = evalProcessComposeFull(
      `[ ${nixPath(path.join(dir, "hello.nix"))} { settings.processes.test.command = "true"; } ]`,
      { name: "withtest" },
    );
    expect(t.settings.processes?.test?.disabled).toBe(true);
    expect(t.settingsTest?.processes?.test).toMatchObject({
      disabled: false,
      availability: { exit_on_end: true, exit_on_skipped: true },
    });
  }, SLOW);

  it("pkgsOverlays replace packages in the test set", () => {
    const s = evalProcessCompose(`[ ({ pkgs, ... }: { settings.processes.x.command = pkgs.lib.getExe pkgs.redis; }) ]`, {
      pkgsOverlays: `[ (final: prev: { redis = prev.redis // { meta.mainProgram = "redis-server"; }; }) ]`,
    });
    expect(s.processes?.x?.command).toMatch(/-redis\/bin\/redis-server$/);
  }, SLOW);

  it("evaluation errors throw with Nix's message", () => {
    expect(() => evalProcessCompose(`[ { settings.processes.bad = { command = "x"; namespace = 42; }; } ]`)).toThrow(
      /nix-instantiate --eval failed:[\s\S]*settings\.processes\.bad\.namespace/,
    );
  }, SLOW);

  it("services-flake's own redis module evaluates against the test package set (reference)", () => {
    const s = evalProcessCompose(
      `[ ((import ${nixPath(path.join(nixTestDir, "sources.nix"))}).services-flake + "/nix/services") { services.redis.r1.enable = true; } ]`,
    );
    expect(s.processes?.r1?.namespace).toBe("redis.r1");
    expect(s.processes?.r1?.command).toMatch(/-start-redis\/bin\/start-redis$/);
  }, SLOW);
});

describe.skipIf(!SEEDED)("[nix eval] flake-parts through test/nix/eval-flake-parts.nix", () => {
  it("mkFlake with process-compose-flake's flakeModule exposes packages/checks and the same settings", () => {
    const dir = tmpDir("fp-fixture-");
    const mod = path.join(dir, "hello.nix");
    writeFileSync(
      mod,
      `{ pkgs, ... }: {
        settings.processes.hello.command = pkgs.writeShellApplication { name = "hello"; text = "echo hi"; };
      }\n`,
    );
    const fp = evalFlakeParts({
      name: "dev",
      perSystemNix: `{ pkgs, ... }: {
        process-compose.dev = { imports = [ ${nixPath(mod)} ]; settings.processes.test.command = "true"; };
        process-compose.other = { };
      }`,
      flakeModulesNix: `[ ({ lib, ... }: { flake.marker = true; }) ]`,
    });
    expect(fp.system).toMatch(/-linux$|-darwin$/);
    expect(fp.configurations).toEqual(["dev", "other"]);
    expect(fp.packages).toEqual(["dev", "other"]);
    expect(fp.checks).toEqual(["dev"]);
    expect(fp.settings.processes?.hello?.namespace).toBe("default");
    expect(fp.settingsTest?.processes?.test?.disabled).toBe(false);
    const direct = evalProcessComposeFull(`[ ${nixPath(mod)} { settings.processes.test.command = "true"; } ]`, {
      name: "dev",
    });
    expect(fp.settings).toEqual(direct.settings);
    expect(fp.commandDrvs).toEqual(direct.commandDrvs);
  }, SLOW);

  it("an unknown configuration name throws with the names available", () => {
    expect(() => evalFlakeParts({ name: "nope", perSystemNix: `{ process-compose.dev = { }; }` })).toThrow(
      /no process-compose\.nope; have: dev/,
    );
  }, SLOW);
});

describe.skipIf(!SEEDED || findProcessCompose() === null)("[run] harness (test/support/run.ts)", () => {
  it("a run killed on its timeout leaves none of its processes running (each process-compose process has a group of its own)", async () => {
    const marker = `services-ts-harness-${process.pid}-${Date.now()}`;
    const ev = evalProcessComposeFull(`[ {
      settings.processes.sleeper.command = "exec -a ${marker} sleep 600";
      settings.processes.test = { command = "sleep 600"; availability.exit_on_end = true; };
    } ]`);
    const r = await runProcessCompose(findProcessCompose()!, ev, { timeoutSeconds: 3 });
    expect(r.timedOut).toBe(true);
    const left = spawnSync("pgrep", ["-f", marker], { encoding: "utf8" }).stdout.trim();
    rmSync(r.workDir, { recursive: true, force: true });
    expect(left, `processes left running: ${left}`).toBe("");
  });
});
