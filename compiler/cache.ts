/**
 * The build cache of `pnpm build-modules`: what lowering a module (or a test)
 * produced, keyed by a hash of everything that output can depend on, so a
 * rebuild after a one-file change lowers, prints and ShellChecks only what
 * that change can affect.
 *
 * A key covers the module's own source and every file it imports, transitively
 * (the DSL and other modules included); the compiler's and the Nix printer's
 * sources; the lockfile (prettier's layout); the ShellCheck version; and the
 * package names "did you mean" knows. Entries live in
 * `node_modules/.cache/services-ts/build/` (one JSON file each; entries unused
 * for a week are removed; delete the folder to start afresh). `--check` never
 * reads them.
 */
import { createHash } from "node:crypto";
import { cacheDir, shellcheckVersion, typecheckBuildInfoFile } from "./stamp.mjs";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * Import specifiers: `… from "x"` (import and export), `import("x")`, `import "x"`. It may
 * also match inside a comment or string, which only makes a key cover one file more.
 */
const IMPORT = /\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm;

const sha256 = (...parts: readonly string[]): string => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex");
};

// The cache folder, the type check's build info and the ShellCheck identity are compiler/stamp.mjs's
// (plain JavaScript, for compiler/launch.mjs): one definition each.
export { cacheDir, shellcheckVersion } from "./stamp.mjs";
/** TypeScript's build info for the incremental type check of the checkout at `root` (one file per checkout). */
export const typecheckBuildInfo = (root: string): string => typecheckBuildInfoFile(root);

/** Every `.ts` file under `dir` (sorted), for hashing a folder's sources. */
function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) out.push(p);
  }
  return out.sort();
}

const pruned = new Set<string>();

/**
 * Entries this process has read or written, by folder and key: a process that builds many
 * times (the build server, `--watch`) reads each from disk once. An entry never changes under
 * its key; the values are shared, and nobody modifies them. Bounded: the oldest go first.
 */
const remembered = new Map<string, unknown>();
const REMEMBERED_MAX = 1000;
function remember(key: string, value: unknown): void {
  remembered.delete(key);
  remembered.set(key, value);
  if (remembered.size > REMEMBERED_MAX) remembered.delete(remembered.keys().next().value!);
}

/**
 * The sources as one build read them: each file's text read once, each import closure
 * hashed once. A build takes this snapshot before it imports the modules, so that a key
 * names the text the build started from (see {@link BuildCache.set}).
 */
export class SourceSnapshot {
  private readonly contents = new Map<string, string>();
  private readonly digests = new Map<string, string>();
  private readonly importLists = new Map<string, string[]>();
  private readonly closures = new Map<string, string>();

  /** @param root the project root (paths in the hashes are relative to it). */
  constructor(private readonly root: string) {}

  /** `file`'s text, read the first time it is asked for. */
  read(file: string): string {
    let c = this.contents.get(file);
    if (c === undefined) this.contents.set(file, (c = readFileSync(file, "utf8")));
    return c;
  }

  /** A hash of `file`'s path (relative to the root) and text. */
  private digest(file: string): string {
    let d = this.digests.get(file);
    if (d === undefined) this.digests.set(file, (d = sha256(relative(this.root, file), this.read(file))));
    return d;
  }

  /** The files `file` imports by relative path (`./x`, `../dsl`), resolved as the bundler resolution does. */
  private imports(file: string): string[] {
    const known = this.importLists.get(file);
    if (known) return known;
    const out: string[] = [];
    for (const m of this.read(file).matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (!spec.startsWith(".")) continue;
      const base = resolve(dirname(file), spec);
      const found = [base, `${base}.ts`, join(base, "index.ts")].find((p) => existsSync(p) && statSync(p).isFile());
      if (found) out.push(found);
    }
    this.importLists.set(file, out);
    return out;
  }

  /** A hash of `file` and everything it imports, transitively. */
  closure(file: string): string {
    const known = this.closures.get(file);
    if (known) return known;
    const seen = new Set<string>();
    const visit = (f: string) => {
      if (seen.has(f)) return;
      seen.add(f);
      for (const i of this.imports(f)) visit(i);
    };
    visit(file);
    // Paths relative to the root: checkouts that share a cache (worktrees, copies) share entries.
    const h = sha256(...[...seen].map((f) => this.digest(f)).sort());
    this.closures.set(file, h);
    return h;
  }
}

/** The cache of one build, keyed by a {@link SourceSnapshot} taken before the modules were imported. */
export class BuildCache {
  private readonly dir: string;
  private readonly toolchain: string;

  /**
   * @param root the project root (holding `modules/`, `compiler/`, `nix/`).
   * @param extra strings every key must also cover (e.g. the known package names).
   * @param dir the cache folder (default {@link cacheDir}).
   * @param sources the sources as the build read them before importing any module (default: read now).
   */
  constructor(
    private readonly root: string,
    extra: readonly string[],
    dir: string = cacheDir(root),
    private readonly sources: SourceSnapshot = new SourceSnapshot(root),
  ) {
    this.dir = join(dir, "build");
    const files = [...tsFiles(join(root, "compiler")), ...tsFiles(join(root, "nix"))];
    const lock = join(root, "pnpm-lock.yaml");
    this.toolchain = sha256(
      ...files.flatMap((f) => [relative(root, f), this.sources.read(f)]),
      existsSync(lock) ? this.sources.read(lock) : "",
      shellcheckVersion(),
      ...extra,
    );
  }

  /**
   * Whether `source` and everything it imports still read as in the snapshot. A file edited
   * while a build runs may have been imported in its new text after the snapshot took the
   * old: what the build made of it must then not be stored under the old text's key.
   */
  unchanged(source: string): boolean {
    return new SourceSnapshot(this.root).closure(source) === this.sources.closure(source);
  }

  /** The key of what `source` (a module or test file) compiles to. */
  key(source: string): string {
    return sha256(this.toolchain, this.sources.closure(source));
  }

  /** The value stored under `key`, or undefined. A hit counts as a use (see {@link prune}). */
  get<T>(key: string): T | undefined {
    const known = remembered.get(`${this.dir}\0${key}`);
    if (known !== undefined) return known as T;
    const f = join(this.dir, `${key}.json`);
    if (!existsSync(f)) return undefined;
    try {
      const value = JSON.parse(readFileSync(f, "utf8")) as T;
      const now = new Date();
      utimesSync(f, now, now);
      remember(`${this.dir}\0${key}`, value);
      return value;
    } catch {
      return undefined; // a torn or foreign file: recompute
    }
  }

  /** Removes entries unused for `days` days (7 by default), so that edits do not pile up. */
  prune(days = 7): void {
    // Once per process and folder: a week-old entry does not appear between two rebuilds of a --watch.
    if (pruned.has(this.dir) || !existsSync(this.dir)) return;
    pruned.add(this.dir);
    const before = Date.now() - days * 24 * 3600 * 1000;
    for (const name of readdirSync(this.dir)) {
      const f = join(this.dir, name);
      try {
        if (statSync(f).mtimeMs < before) rmSync(f, { force: true });
      } catch {
        // Removed meanwhile by another build.
      }
    }
  }

  /** Stores `value` under `key` (written beside and renamed, so a reader never sees half a file). */
  set(key: string, value: unknown): void {
    mkdirSync(this.dir, { recursive: true });
    const f = join(this.dir, `${key}.json`);
    const tmp = `${f}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(value));
    renameSync(tmp, f);
    remember(`${this.dir}\0${key}`, value);
  }
}
