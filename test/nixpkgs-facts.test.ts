/**
 * Stand-ins that tell the truth: the test-only package set (test/nix/pkgs.nix) held to what
 * nixpkgs says, as recorded with its sources in test/nixpkgs-facts.json.
 *
 * - `[facts]` (no Nix needed): every nixpkgs attribute, path, `lib.getExe` and name test the
 *   project's Nix files use (found mechanically by test/support/nixpkgs-usage.ts) has its record.
 * - `[nix eval] stand-ins`: each stand-in's `lib.getName`, version, `meta.mainProgram` and used
 *   outputs agree with its record; every stand-in has a record (or says why it has none).
 * - `[nix build] stand-in paths`: each recorded path exists in the built stand-in, where this
 *   machine has its package (skipped by name where it does not).
 * - `[nix eval] both sides of a name or version branch`: mysql's MariaDB/MySQL first start, tempo's
 *   Tempo 3 live store.
 *
 * A fact the record says was not read is reported skipped by name, never passed.
 */
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  buildDrv,
  evalProcessComposeFull,
  nixAvailable,
  nixEvalJsonRW,
  nixPath,
  nixString,
  nixTestDir,
  repoRoot,
  upstreamSeeded,
  upstreamSkipReason,
} from "./support/nix";
import { loadFacts, type PackageFacts, shippedVersions, versionKey } from "./support/nixpkgs-facts";
import { nixpkgsUsage } from "./support/nixpkgs-usage";
import { installed, loadPackages } from "./support/packages";

const facts = loadFacts();
const usage = nixpkgsUsage(new Set(facts.packageSets));
const SEEDED = nixAvailable() && upstreamSeeded();
if (nixAvailable() && !SEEDED) console.warn(`[nix eval] stand-ins skipped: ${upstreamSkipReason}`);
const packagesJson = loadPackages();

describe("[facts] test/nixpkgs-facts.json records every nixpkgs attribute the Nix files use", () => {
  it("finds uses mechanically (generated modules, NixOS modules, service tests, stacks, examples)", () => {
    // The helper itself: it must see what the mysql module reads, or every check below is empty.
    const mariadb = usage.get("mariadb");
    expect(mariadb?.readsName).toBe(true);
    expect([...(mariadb?.paths ?? [])]).toContain("bin/mysqladmin");
    expect(usage.get("tempo")?.readsVersion).toBe(true);
    expect(usage.get("mailcap")?.paths.has("etc/nginx/mime.types")).toBe(true);
    expect(usage.size).toBeGreaterThan(40);
  });

  it("reads `${pkg}/path`, getExe', getExe, getName, .version and package options below the instance", () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "services-ts-usage-"));
    try {
      mkdirSync(path.join(root, "generated"));
      writeFileSync(
        path.join(root, "generated", "x.nix"),
        [
          "{ lib, pkgs, config, ... }: {",
          "  options = {",
          "    enable = lib.mkEnableOption \"x\";",
          "    package = lib.mkPackageOption pkgs \"alpha\" { };",
          "    sub = lib.mkOption {",
          "      type = lib.types.submodule { options = {",
          "        package = lib.mkPackageOption pkgs [ \"someSet\" \"beta\" ] { };",
          "      }; };",
          "    };",
          "  };",
          '  a = "${lib.escapeShellArg config.package}/share/x ${config.sub.package}/lib/*.jar ${pkgs.gamma}/etc/g.conf";',
          "  b = lib.getExe' config.sub.package \"tool\"; c = lib.getExe pkgs.delta; d = lib.getName config.package == \"x\";",
          "  e = config.package.version or \"0\"; f = \"see pkgs.epsilon_$major\";",
          "}",
        ].join("\n"),
      );
      const u = nixpkgsUsage(new Set(["someSet"]), root);
      expect([...u.keys()].sort()).toEqual(["alpha", "delta", "gamma", "someSet.beta"]);
      expect([...u.get("alpha")!.paths]).toEqual(["share/x"]);
      expect([...u.get("someSet.beta")!.paths].sort()).toEqual(["bin/tool", "lib/*.jar"]);
      expect([...u.get("gamma")!.paths]).toEqual(["etc/g.conf"]);
      expect(u.get("delta")!.mainProgram).toBe(true);
      expect(u.get("alpha")!.readsName).toBe(true);
      expect(u.get("alpha")!.readsVersion).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("every used attribute has an entry (a package, or a function of the package set)", () => {
    const missing = [...usage.keys()].filter((a) => !(a in facts.packages) && !(a in facts.functions));
    expect(missing, "read these attributes from nixpkgs into test/nixpkgs-facts.json (test/nixpkgs-facts.md says how)").toEqual([]);
  });

  it("every path a module reaches into a package has an entry in that package's paths", () => {
    const missing = [...usage.values()].flatMap((u) => {
      const e = facts.packages[u.attr];
      return e ? [...u.paths].filter((p) => !(p in e.paths) && !(p in (e.optionalPaths ?? {}))).map((p) => `${u.attr}: ${p} (${[...u.files].join(", ")})`) : [];
    });
    expect(missing).toEqual([]);
  });

  it("every package run with lib.getExe has a meta.mainProgram in nixpkgs", () => {
    // Without one, nixpkgs' lib.getExe warns and guesses bin/<pname>, which the module would then run.
    const bad = [...usage.values()]
      .filter((u) => u.mainProgram && facts.packages[u.attr] && facts.packages[u.attr]!.mainProgram === null)
      .map((u) => `${u.attr} (${[...u.files].join(", ")})`);
    expect(bad).toEqual([]);
  });

  it("every entry names the nixpkgs file it was read from, and says what was not read", () => {
    const bad = Object.entries(facts.packages).flatMap(([attr, e]) => [
      ...(e.source.length === 0 || e.source.some((s) => !s.file) ? [`${attr}: no source file`] : []),
      ...(e.unread === undefined && e.pname === undefined ? [`${attr}: no pname and no "unread" reason`] : []),
      ...(e.unread === undefined && e.source.every((s) => !s.commit && !s.indexId) ? [`${attr}: no commit or index id of what was read`] : []),
    ]);
    expect(bad).toEqual([]);
  });
});

/** What test/nix/pkgs.nix's stand-in for an attribute says about itself. */
interface StandIn {
  name: string;
  version: string;
  mainProgram: string | null;
  outputs: string[];
  has: Record<string, boolean>;
  drv: string;
  out: string;
}

const pkgsNix = `(import ${nixPath(path.join(nixTestDir, "pkgs.nix"))} {
  lib = import ((import ${nixPath(path.join(nixTestDir, "sources.nix"))}).nixpkgs-lib + "/lib");
})`;

/** The stand-ins of every recorded attribute, and the derivations the test package set has. */
function readStandIns(): { standIns: Record<string, StandIn | null>; derivations: string[] } {
  const attrs = Object.keys(facts.packages);
  const used: Record<string, string[]> = Object.fromEntries(attrs.map((a) => [a, [...(facts.packages[a]!.outputsUsed ?? [])]]));
  return nixEvalJsonRW(`
    let
      pkgs = ${pkgsNix};
      lib = pkgs.lib;
      used = builtins.fromJSON ${nixString(JSON.stringify(used))};
      isDrv = v: (builtins.tryEval (lib.isDerivation v)).value;
      fact = a:
        let d = lib.attrByPath (lib.splitString "." a) null pkgs; in
        if d == null || !(isDrv d) then null else {
          name = lib.getName d;
          version = d.version or (builtins.parseDrvName d.name).version;
          mainProgram = d.meta.mainProgram or null;
          outputs = d.outputs or [ "out" ];
          has = lib.genAttrs used.\${a} (o: d ? \${o});
          # Not drvPath/outPath: an attribute set holding outPath is written to JSON as that string.
          drv = d.drvPath;
          out = d.outPath;
        };
      inSet = s: lib.optionals (pkgs ? \${s}) (map (n: "\${s}.\${n}") (builtins.attrNames (lib.filterAttrs (_: isDrv) pkgs.\${s})));
    in {
      standIns = lib.genAttrs (builtins.attrNames used) fact;
      derivations = builtins.attrNames (lib.filterAttrs (_: isDrv) pkgs)
        ++ lib.concatMap inSet (builtins.fromJSON ${nixString(JSON.stringify(facts.packageSets))});
    }`) as { standIns: Record<string, StandIn | null>; derivations: string[] };
}

describe.skipIf(!SEEDED)("[nix eval] stand-ins of test/nix/pkgs.nix agree with test/nixpkgs-facts.json", () => {
  let standIns: Record<string, StandIn | null> = {};
  let derivations: string[] = [];
  beforeAll(() => {
    ({ standIns, derivations } = readStandIns());
  }, 120_000);

  it("every derivation of the test package set has a record, or the record says why not", () => {
    const unaccounted = derivations.filter((d) => !(d in facts.packages) && !(d in facts.unrecorded));
    expect(unaccounted).toEqual([]);
  });

  for (const [attr, entry] of Object.entries(facts.packages)) {
    compareStandIn(attr, entry, () => standIns[attr]);
  }
});

/** One `it` per fact of an entry: compared, or skipped by name when the fact was not read or there is no stand-in. */
function compareStandIn(attr: string, entry: PackageFacts, standIn: () => StandIn | null | undefined): void {
  if (entry.unread !== undefined) {
    it.skip(`${attr}: not compared, its facts were not read (${entry.unread})`, () => {});
    return;
  }
  if (entry.noStandIn !== undefined) {
    it.skip(`${attr}: not compared, no stand-in (${entry.noStandIn})`, () => {});
    return;
  }
  const present = (): StandIn => {
    const s = standIn();
    if (!s) throw new Error(`${attr}: test/nix/pkgs.nix has no stand-in for it`);
    return s;
  };
  it(`${attr}: lib.getName is nixpkgs' pname ${entry.pname}`, () => {
    const s = standIn();
    if (s === null) return expect(usage.has(attr), `${attr} is used but has no stand-in`).toBe(false);
    expect(present().name).toBe(entry.pname);
  });
  it(`${attr}: meta.mainProgram ${entry.mainProgram === undefined ? "(not read: compared as absent)" : String(entry.mainProgram)}`, () => {
    const s = standIn();
    if (s === null) return;
    // An unread mainProgram may not be claimed by the stand-in either.
    expect(present().mainProgram, "the stand-in's meta.mainProgram").toBe(entry.mainProgram ?? null);
  });
  const shipped = shippedVersions(entry);
  it(`${attr}: version is one nixpkgs ships (${entry.versionMatch ?? "exact"}: ${shipped.join(", ") || "none read"})`, () => {
    const s = standIn();
    if (s === null) return;
    const v = present().version;
    if (v === "") {
      // No version: fine unless a module reads it (it would read nothing, or its own default).
      expect(usage.get(attr)?.readsVersion ?? false, `${attr}: a module reads its version, so the stand-in must claim one`).toBe(false);
      return;
    }
    if (entry.standInVersion !== undefined) {
      // A divergence the record names, with its reason: held to exactly that, and said.
      expect(v, `${attr}: the record names the stand-in's version as ${entry.standInVersion.version}`).toBe(entry.standInVersion.version);
      console.warn(`[facts] ${attr}: the stand-in is ${v}, nixpkgs ships ${shipped.join(", ") || "(not read)"}: ${entry.standInVersion.why}`);
      return;
    }
    expect(shipped.length, `${attr}: the stand-in claims version ${v}, but no nixpkgs version was read to hold it to`).toBeGreaterThan(0);
    expect(shipped.map((x) => versionKey(x, entry.versionMatch))).toContain(versionKey(v, entry.versionMatch));
  });
  if ((entry.outputsUsed ?? []).length > 0) {
    it(`${attr}: has the outputs modules and tests name (${entry.outputsUsed!.join(", ")})`, () => {
      const s = present();
      expect(Object.entries(s.has).filter(([, ok]) => !ok).map(([o]) => o)).toEqual([]);
    });
  }
}

/** Paths of `dir` matching `rel`, whose segments may hold `*`. */
function matchPaths(dir: string, rel: string): string[] {
  let found = [dir];
  for (const seg of rel.split("/")) {
    const re = new RegExp(`^${seg.split("*").map((x) => x.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    found = found.flatMap((d) => {
      if (!seg.includes("*")) return existsSync(path.join(d, seg)) ? [path.join(d, seg)] : [];
      try {
        return readdirSync(d).filter((n) => re.test(n)).map((n) => path.join(d, n));
      } catch {
        return [];
      }
    });
  }
  return found;
}

/** Why this machine cannot build an attribute's stand-in, or null when it can. */
function notInstallable(attr: string): string | null {
  const entry = packagesJson[attr.split(".").at(-1)!];
  if (!entry) return null;
  if (installed(entry)) return null;
  return entry.unavailable ?? `${entry.debian.join(", ") || entry.npm || entry.pypi || entry.url} not installed here`;
}

describe.skipIf(!SEEDED)("[nix build] each recorded path exists in the built stand-in", () => {
  let standIns: Record<string, StandIn | null> = {};
  beforeAll(() => {
    ({ standIns } = readStandIns());
  }, 120_000);
  for (const [attr, entry] of Object.entries(facts.packages)) {
    const paths = Object.keys(entry.paths);
    if (paths.length === 0) continue;
    const why = notInstallable(attr);
    if (why !== null) {
      it.skip(`${attr}: ${paths.join(", ")} not checked, the stand-in cannot be built here (${why})`, () => {});
      continue;
    }
    it(`${attr}: ${paths.join(", ")}`, () => {
      const s = standIns[attr];
      if (!s) throw new Error(`${attr}: test/nix/pkgs.nix has no stand-in for it`);
      const out = buildDrv(s.drv);
      expect(paths.filter((p) => matchPaths(out, p).length === 0), `missing in ${out}`).toEqual([]);
    }, 120_000);
  }
});

/** The text of a store derivation file, which holds a trivial builder's `text` verbatim. */
function drvText(drv: string): string {
  return readFileSync(drv, "utf8");
}

/** The store derivation among `drv`'s inputs whose name ends in `suffix` (a writeText the script reads). */
function inputDrv(drv: string, suffix: string): string {
  const m = new RegExp(`/nix/store/[a-z0-9]{32}-[^"]*${suffix.replace(/\./g, "\\.")}\\.drv`).exec(drvText(drv));
  if (!m) throw new Error(`no input ${suffix} in ${drv}`);
  return m[0];
}

describe.skipIf(!SEEDED)("[nix eval] both sides of a name or version branch", () => {
  const generated = nixPath(path.join(repoRoot, "generated", "default.nix"));

  it("mysql: pkgs.mariadb (pname mariadb-server) runs mysql_install_db; mysql80 and mysql84 (pname mysql) run mysqld --initialize-insecure", () => {
    const ev = evalProcessComposeFull(`[ ${generated} ({ pkgs, ... }: {
      services.mysql."maria".enable = true;
      services.mysql."my80" = { enable = true; package = pkgs.mysql80; settings.mysqld.port = 3307; };
      services.mysql."my84" = { enable = true; package = pkgs.mysql84; settings.mysqld.port = 3308; };
    }) ]`);
    const script = (p: string) => drvText(ev.commandDrvs[p]!);
    expect(script("maria")).toContain("mysql_install_db --defaults-file=");
    expect(script("maria")).not.toContain("--initialize-insecure");
    for (const p of ["my80", "my84"]) {
      expect(script(p)).toContain("--initialize-insecure");
      expect(script(p)).not.toContain("mysql_install_db");
    }
  });

  it("tempo: nixpkgs' version (the stand-in's, 3.x) writes the live store, also read from the name alone; a Tempo 2 package does not", () => {
    const tempoYaml = (overlay?: string) => {
      const ev = evalProcessComposeFull(`[ ${generated} { services.tempo."t".enable = true; } ]`, overlay ? { pkgsOverlays: overlay } : {});
      return drvText(inputDrv(ev.commandDrvs["t"]!, "tempo.yaml"));
    };
    expect(facts.packages.tempo!.version).toMatch(/^3\./);
    expect(tempoYaml()).toContain("live_store");
    expect(tempoYaml(`[ (final: prev: { tempo = prev.tempo // { version = "2.9.0"; }; }) ]`)).not.toContain("live_store");
    // A package that carries its version only in its name (as lib.getVersion reads it) is Tempo 3 too.
    expect(tempoYaml(`[ (final: prev: { tempo = builtins.removeAttrs prev.tempo [ "version" ]; }) ]`)).toContain("live_store");
  });
});

