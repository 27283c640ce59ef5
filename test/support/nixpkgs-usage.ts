/**
 * Which nixpkgs attributes this project's Nix files use, and how: read mechanically from the
 * generated modules (`generated/*.nix`, `generated/nixos/*.nix`), the generated service tests
 * (`generated/tests/`, `generated/nixos/tests/`), the stacks of `test/stacks/` and `examples/`.
 *
 * `test/nixpkgs-facts.test.ts` requires a record entry in `test/nixpkgs-facts.json` for every
 * attribute and every path listed here, so a module that starts using a new package (or a new
 * file inside one) cannot do so without its facts being read from nixpkgs first.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { repoRoot } from "./nix";

/** How the project's Nix files use one nixpkgs attribute. */
export interface AttributeUse {
  /** The attribute, dotted when it lives in a package set (`python3Packages.chromadb`). */
  readonly attr: string;
  /** Repository-relative files that use it. */
  readonly files: Set<string>;
  /**
   * Paths inside the package a file reaches into: `"${pkg}/share/mysql"` gives `share/mysql`,
   * `lib.getExe' pkg "mysqladmin"` gives `bin/mysqladmin`. May hold `*` (`libs/*`).
   */
  readonly paths: Set<string>;
  /** `lib.getExe pkg` is used: the package's `meta.mainProgram` matters. */
  mainProgram: boolean;
  /** `lib.getName pkg` is compared: the package's `pname` matters. */
  readsName: boolean;
  /** `pkg.version` (or `lib.getVersion`) is read: the package's version matters. */
  readsVersion: boolean;
}

/** The directories scanned, relative to the repository root, and whether to descend into them. */
const scanned: readonly { dir: string; recursive: boolean }[] = [
  { dir: "generated", recursive: false },
  { dir: "generated/nixos", recursive: false },
  { dir: "generated/tests", recursive: false },
  { dir: "generated/nixos/tests", recursive: false },
  { dir: "test/stacks", recursive: false },
  { dir: "examples", recursive: true },
];

function nixFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, recursive: boolean): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (recursive && name !== "node_modules") walk(p, true);
      } else if (name.endsWith(".nix")) {
        out.push(p);
      }
    }
  };
  for (const s of scanned) walk(join(root, s.dir), s.recursive);
  return out;
}

// A Nix attribute name as nixpkgs spells them (`nats-server`, `postgresql_15`, `google-cloud-sdk`).
const name = String.raw`[A-Za-z_][A-Za-z0-9_'-]*`;
// `pkgs.a.b.c`, not followed by more of a name or by an interpolation (`pkgs.postgresql_$major` in a message).
const pkgsRef = new RegExp(String.raw`\bpkgs\.(${name}(?:\.${name})*)(?![A-Za-z0-9_'$-])`, "g");
// `<option> = lib.mkPackageOption pkgs "attr"` or `… pkgs [ "set" "attr" ]`.
const packageOption = new RegExp(
  String.raw`(${name})\s*=\s*(?:lib\.)?mkPackageOption\s+pkgs\s+(?:"([^"]+)"|\[((?:\s*"[^"]+")+)\s*\])`,
  "g",
);
// A reference to a package: `pkgs.x`, `config.<…>.option`, or a let-bound name resolved below.
const ref = String.raw`(pkgs\.${name}(?:\.${name})*|config\.${name}(?:\.${name})*|${name})`;
const pathSeg = String.raw`[A-Za-z0-9_.*+-]+`;
// `${pkg}/a/b`, `${lib.escapeShellArg pkg}/a/b` (also inside a quoted `"${pkg}/a/b"`).
const pathRef = new RegExp(String.raw`\$\{(?:lib\.escapeShellArg )?${ref}\}/(${pathSeg}(?:/${pathSeg})*)`, "g");
const exeRef = new RegExp(String.raw`\bgetExe' \(?${ref}\)? "([^"]+)"`, "g");
const mainRef = new RegExp(String.raw`\bgetExe \(?${ref}\)?(?![A-Za-z0-9_'.-])`, "g");
const nameRef = new RegExp(String.raw`\bgetName \(?${ref}\)?`, "g");
const versionRef = new RegExp(String.raw`\(?${ref}\)?\.version\b|\bgetVersion \(?${ref}\)?`, "g");
// `x = config.package.override { … };` / `x = pkgs.y;`: x stands for that package.
const letAlias = new RegExp(String.raw`^\s*(${name})\s*=\s*\(?((?:config|pkgs)\.${name}(?:\.${name})*)`, "gm");

// Attribute paths that end in a function or passthru attribute of the package, not another package.
const memberNames = new Set(["override", "overrideAttrs", "withPackages", "withExtraComponents", "pkgs", "psqlSchema", "version"]);

/**
 * The attribute a `pkgs.a.b.c` chain names: `a`, or `a.b` when `a` is one of `packageSets`
 * (package sets such as `python3Packages`, whose members are the packages). Members that are
 * functions or passthru values (`override`, `withPackages`) are cut off.
 */
function attributeOf(chain: string, packageSets: ReadonlySet<string>): string {
  const parts = chain.split(".");
  const cut = parts.findIndex((p, i) => i > 0 && memberNames.has(p));
  const kept = cut === -1 ? parts : parts.slice(0, cut);
  return packageSets.has(kept[0]!) && kept.length > 1 ? kept.slice(0, 2).join(".") : kept[0]!;
}

/**
 * The path below the service's instance of the option defined at `offset` (named `option`):
 * the names of the enclosing `x = lib.mkOption {` lines, by indentation (the generated files are
 * nixfmt-formatted), up to the instance's own options, whose indentation is that of `enable`.
 */
function optionPath(text: string, offset: number, option: string): string {
  const lines = text.slice(0, offset).split("\n");
  const root = /^( *)enable = lib\.mkEnableOption/m.exec(text)?.[1]?.length ?? 0;
  let indent = /^ */.exec(lines.at(-1)!)![0].length;
  const path = [option];
  for (let i = lines.length - 2; i >= 0 && indent > root; i--) {
    const m = /^( *)([A-Za-z_][A-Za-z0-9_'-]*) = (?:lib\.)?mkOption\b/.exec(lines[i]!);
    if (m && m[1]!.length < indent && m[1]!.length >= root) {
      path.unshift(m[2]!);
      indent = m[1]!.length;
    }
  }
  return path.join(".");
}

/**
 * Every nixpkgs attribute the project's Nix files use, with the paths they reach into it and
 * which of its facts (main program, name, version) they read.
 *
 * @param packageSets first names that are package sets (`python3Packages`): `pkgs.python3Packages.x`
 *   is the attribute `python3Packages.x`.
 * @param root the repository root (default: this checkout).
 */
export function nixpkgsUsage(packageSets: ReadonlySet<string>, root: string = repoRoot): Map<string, AttributeUse> {
  const uses = new Map<string, AttributeUse>();
  const use = (attr: string, file: string): AttributeUse => {
    let u = uses.get(attr);
    if (!u) {
      u = { attr, files: new Set(), paths: new Set(), mainProgram: false, readsName: false, readsVersion: false };
      uses.set(attr, u);
    }
    u.files.add(file);
    return u;
  };
  for (const abs of nixFiles(root)) {
    const file = relative(root, abs);
    const text = readFileSync(abs, "utf8");
    // Package option (its path below the instance, `package`, `pgtap.package`) → the attribute it defaults to.
    const options = new Map<string, string>();
    for (const m of text.matchAll(packageOption)) {
      const attr = m[2] ?? [...m[3]!.matchAll(/"([^"]+)"/g)].map((x) => x[1]).join(".");
      options.set(optionPath(text, m.index!, m[1]!), attr);
      use(attr, file);
    }
    for (const m of text.matchAll(pkgsRef)) use(attributeOf(m[1]!, packageSets), file);
    const aliases = new Map<string, string>();
    for (const m of text.matchAll(letAlias)) aliases.set(m[1]!, m[2]!);
    // The attributes a reference stands for (none for config values that are no package option).
    const resolve = (r: string, depth = 0): string[] => {
      if (r.startsWith("pkgs.")) return [attributeOf(r.slice(5), packageSets)];
      if (r.startsWith("config.")) {
        const segs = r.split(".").slice(1);
        const cut = segs.findIndex((p) => memberNames.has(p));
        const attr = options.get((cut === -1 ? segs : segs.slice(0, cut)).join("."));
        return attr === undefined ? [] : [attr];
      }
      const alias = aliases.get(r);
      return alias && depth < 4 ? resolve(alias, depth + 1) : [];
    };
    for (const m of text.matchAll(pathRef)) {
      for (const attr of resolve(m[1]!)) {
        const p = m[2]!.replace(/\/+$/, "");
        if (p !== "") use(attr, file).paths.add(p);
      }
    }
    for (const m of text.matchAll(exeRef)) for (const attr of resolve(m[1]!)) use(attr, file).paths.add(`bin/${m[2]}`);
    for (const m of text.matchAll(mainRef)) for (const attr of resolve(m[1]!)) use(attr, file).mainProgram = true;
    for (const m of text.matchAll(nameRef)) for (const attr of resolve(m[1]!)) use(attr, file).readsName = true;
    for (const m of text.matchAll(versionRef)) for (const attr of resolve(m[1] ?? m[2]!)) use(attr, file).readsVersion = true;
  }
  return uses;
}
