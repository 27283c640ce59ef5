/**
 * The record of what nixpkgs says about the attributes this project uses,
 * `test/nixpkgs-facts.json`: each package's `pname`, the versions nixpkgs ships,
 * `meta.mainProgram`, outputs and the paths inside it the modules reach into, each
 * with the nixpkgs file (and revision) it was read from. `test/nixpkgs-facts.test.ts`
 * holds the stand-ins of `test/nix/pkgs.nix` to it; `test/nixpkgs-facts.md` says how a new
 * attribute gets its entry.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./nix";

/** Where a fact was read: a file of a repository (NixOS/nixpkgs unless `repo` says otherwise). */
export interface FactSource {
  /** Path inside the repository, e.g. `pkgs/servers/sql/mariadb/default.nix`. */
  readonly file: string;
  /** `owner/name`; absent means NixOS/nixpkgs. */
  readonly repo?: string;
  /** The commit the file was read at, when the reader was given one. */
  readonly commit?: string;
  /** The search index's id of the file version read, when no commit was given. */
  readonly indexId?: string;
  /** What was read there, when more than the file says by itself. */
  readonly note?: string;
}

/** How exactly a stand-in's version must match one nixpkgs ships. */
export type VersionMatch = "exact" | "majorMinor" | "major";

/**
 * What nixpkgs says about one package attribute. A fact that was not read is absent (not
 * null): the test reports its comparison skipped, by name, instead of passing it.
 */
export interface PackageFacts {
  /** Files the facts were read from, first the one that defines the package. */
  readonly source: readonly FactSource[];
  /** Why nothing but the file was read: every comparison of this entry is reported skipped. */
  readonly unread?: string;
  /** The package's `pname` (what `lib.getName` returns). */
  readonly pname?: string;
  /** The version of the attribute itself, or null when it was not read (see `notes`). */
  readonly version: string | null;
  /** Versioned sibling attributes nixpkgs ships, attribute → version (`mariadb_1011` → `10.11.14`). */
  readonly versions?: Readonly<Record<string, string>>;
  /** How closely a stand-in's version must match one of `version`/`versions` (default exact). */
  readonly versionMatch?: VersionMatch;
  /** `meta.mainProgram`, or null when nixpkgs sets none (`lib.getExe` then warns and guesses `pname`). */
  readonly mainProgram?: string | null;
  /** The derivation's outputs. */
  readonly outputs?: readonly string[];
  /** Outputs (or passthru packages) the modules or tests use by name (`netcat.nc`): the stand-in must have them. */
  readonly outputsUsed?: readonly string[];
  /** Paths inside the package (`share/mysql`, `bin/mysqladmin`, `libs/*`), each with where in the source it comes from. */
  readonly paths: Readonly<Record<string, string>>;
  /** Paths a module reaches only after testing they exist (`[ -f … ]`), each with why it is not a fact: not checked in stand-ins. */
  readonly optionalPaths?: Readonly<Record<string, string>>;
  /** Why the test package set has no stand-in for this attribute (named in messages or examples only): its comparisons are reported skipped. */
  readonly noStandIn?: string;
  /**
   * A stand-in of another version than any nixpkgs ships, named here with the reason (the registry serves
   * only that version; the issue asks for that one): the version test then holds the stand-in to exactly
   * this version and reports the divergence instead of failing, and fails when the stand-in changes.
   */
  readonly standInVersion?: { readonly version: string; readonly why: string };
  readonly notes?: string;
}

/** The whole record. */
export interface NixpkgsFacts {
  readonly _about: string;
  /** The date (UTC) the facts were read. */
  readonly read: string;
  /** First names of `pkgs.a.b` chains that are package sets (`python3Packages`): the attribute is `a.b`. */
  readonly packageSets: readonly string[];
  /** Attributes that are functions, not packages (`writeShellApplication`), with where nixpkgs defines them. */
  readonly functions: Readonly<Record<string, FactSource>>;
  /** Derivations of the test package set that have no entry, each with why (not a nixpkgs attribute there, or used by nothing). */
  readonly unrecorded: Readonly<Record<string, string>>;
  readonly packages: Readonly<Record<string, PackageFacts>>;
}

/** `test/nixpkgs-facts.json`. */
export const factsFile: string = join(repoRoot, "test", "nixpkgs-facts.json");

/** Reads the record. @throws Error when the file is missing or not JSON. */
export function loadFacts(file: string = factsFile): NixpkgsFacts {
  return JSON.parse(readFileSync(file, "utf8")) as NixpkgsFacts;
}

/** `version` cut to what `match` compares: `10.11.14` → `10.11` for majorMinor. */
export function versionKey(version: string, match: VersionMatch = "exact"): string {
  const parts = version.split(/[.-]/);
  if (match === "major") return parts[0]!;
  if (match === "majorMinor") return parts.slice(0, 2).join(".");
  return version;
}

/** Every version nixpkgs ships for an entry: its own and its versioned siblings'. */
export function shippedVersions(entry: PackageFacts): string[] {
  return [...(entry.version === null ? [] : [entry.version]), ...Object.values(entry.versions ?? {})];
}
