/**
 * `pnpm seed-upstream [--from DIR]… [--optional] [--only NAME]… [--lock FILE] [--no-gc-root]`
 *
 * Makes `test/nix/sources.nix` resolve without network: for every entry of
 * the upstream lock it finds a local copy of the pinned tree, checks its Nix
 * NAR hash against the lock, and adds it to the local store under the name
 * `source` as a fixed-output (recursive sha256) path, which is exactly where
 * `builtins.fetchTarball { url; sha256; }` looks before downloading. Finally
 * it evaluates those fetchTarball calls offline to prove they resolve.
 *
 * Where a copy is looked for, in order, under each root directory:
 *   `<root>/<owner>+<name>/repo`, `<root>/<owner>+<name>`, `<root>/<owner>/<name>`,
 *   `<root>/<name>`, `<root>/<lock entry name>`.
 * Roots: every `--from DIR`, then `$SERVICES_TS_UPSTREAM_MIRRORS` (colon-separated)
 * or, when that is unset, `/work/.mirror`.
 * A candidate is either a git directory (bare, or a work tree with `.git`)
 * containing the pinned commit — its tree is taken with `git archive <rev>` —
 * or a plain directory taken as the source tree itself.
 *
 * Each source in the store is pinned against `nix-collect-garbage` by a
 * symlink `/nix/var/nix/gcroots/services-ts-upstream/<entry>` (skip with
 * `--no-gc-root`).
 *
 * Exit status: 0 when every source is in the store (or, with `--optional`,
 * when the only problems are sources with no local copy, reported as
 * warnings); 1 otherwise; 2 on bad usage.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import {
  fixedSourcePath,
  nixAvailable,
  nixEnv,
  nixString,
  readUpstreamLock,
  storePathValid,
  upstreamLockFile,
  type UpstreamLockEntry,
} from "../support/nix";

/** Where {@link pinGcRoot} keeps its symlinks (direct GC roots). */
const gcRootDir = "/nix/var/nix/gcroots/services-ts-upstream";

const usage = `usage: pnpm seed-upstream [--from DIR]... [--optional] [--only NAME]... [--lock FILE] [--no-gc-root]

  --from DIR    look for upstream copies under DIR first (repeatable)
  --optional    a source with no local copy is a warning, not an error
  --only NAME   seed only this lock entry (repeatable)
  --lock FILE   lock file (default test/nix/upstream.lock.json)
  --no-gc-root  do not pin the sources with GC roots in ${gcRootDir}

Copies are looked up as <root>/<owner>+<name>/repo, <root>/<owner>+<name>,
<root>/<owner>/<name>, <root>/<name> and <root>/<entry>; roots are the --from
directories, then $SERVICES_TS_UPSTREAM_MIRRORS (colon-separated) or /work/.mirror.`;

/** Raised for problems that make one source fail. */
class SeedError extends Error {}

/** Raised when no local copy of a source exists (a warning under --optional). */
class MissingSourceError extends SeedError {}

interface Candidate {
  kind: "git" | "plain";
  dir: string;
}

function run(cmd: string, args: string[], opts: { cwd?: string } = {}) {
  return spawnSync(cmd, args, { env: nixEnv, encoding: "utf8", cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 });
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function classify(dir: string): Candidate | null {
  if (!isDir(dir)) return null;
  const bare = existsSync(path.join(dir, "HEAD")) && isDir(path.join(dir, "objects")) && isDir(path.join(dir, "refs"));
  if (bare || existsSync(path.join(dir, ".git"))) return { kind: "git", dir };
  return { kind: "plain", dir };
}

function searchRoots(from: string[]): string[] {
  const env = process.env.SERVICES_TS_UPSTREAM_MIRRORS;
  const defaults = env !== undefined && env !== "" ? env.split(":").filter(Boolean) : ["/work/.mirror"];
  return [...from.map((d) => path.resolve(d)), ...defaults];
}

function candidatesFor(name: string, entry: UpstreamLockEntry, roots: string[]): Candidate[] {
  const [owner, repo] = entry.repo.split("/");
  const rel = [
    `${owner}+${repo}/repo`,
    `${owner}+${repo}`,
    `${owner}/${repo}`,
    `${repo}`,
    name,
  ];
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const root of roots) {
    for (const r of rel) {
      const dir = path.join(root, r);
      if (seen.has(dir)) continue;
      seen.add(dir);
      const c = classify(dir);
      if (c) out.push(c);
    }
  }
  return out;
}

function gitHasCommit(dir: string, rev: string): boolean {
  return run("git", ["-C", dir, "cat-file", "-e", `${rev}^{commit}`]).status === 0;
}

/** `git archive <rev>` of `gitDir` extracted into `<tmp>/source`. */
function exportGitTree(gitDir: string, rev: string, tmp: string): string {
  const tar = path.join(tmp, "tree.tar");
  const a = run("git", ["-C", gitDir, "archive", "--format=tar", "-o", tar, rev]);
  if (a.status !== 0) throw new SeedError(`git archive ${rev} in ${gitDir} failed:\n${a.stderr}`);
  const src = path.join(tmp, "source");
  const mk = run("mkdir", ["-p", src]);
  if (mk.status !== 0) throw new SeedError(`mkdir ${src} failed: ${mk.stderr}`);
  const x = run("tar", ["-xf", tar, "-C", src]);
  if (x.status !== 0) throw new SeedError(`tar -xf ${tar} failed:\n${x.stderr}`);
  rmSync(tar);
  return src;
}

/** Copies a plain directory to `<tmp>/source` (the store path name must be `source`). */
function copyPlainTree(dir: string, tmp: string): string {
  const src = path.join(tmp, "source");
  cpSync(dir, src, { recursive: true, verbatimSymlinks: true });
  return src;
}

function narHash(dir: string): string {
  const r = run("nix-hash", ["--type", "sha256", "--base32", dir]);
  if (r.status !== 0) throw new SeedError(`nix-hash ${dir} failed:\n${r.stderr}`);
  return r.stdout.trim();
}

/** Why a git archive can differ from GitHub's: .gitattributes export-ignore/export-subst. */
function gitattributesHint(gitDir: string, rev: string): string {
  const ls = run("git", ["-C", gitDir, "ls-tree", "-r", "--name-only", rev]);
  const files = ls.stdout.split("\n").filter((f) => f === ".gitattributes" || f.endsWith("/.gitattributes"));
  if (files.length === 0) return "The tree has no .gitattributes, so export-ignore/export-subst cannot explain it.";
  const notes = files.map((f) => {
    const body = run("git", ["-C", gitDir, "show", `${rev}:${f}`]).stdout;
    const hits = body.split("\n").filter((l) => /export-(ignore|subst)/.test(l));
    return hits.length ? `${f}: ${hits.join("; ")}` : `${f}: no export-* attributes`;
  });
  return `.gitattributes in the tree:\n  ${notes.join("\n  ")}`;
}

interface Outcome {
  name: string;
  path: string;
}

function seedOne(name: string, entry: UpstreamLockEntry, roots: string[]): Outcome {
  const expected = fixedSourcePath(entry.sha256);
  if (storePathValid(expected)) {
    console.log(`${name}: already in store ${expected}`);
    return { name, path: expected };
  }

  const candidates = candidatesFor(name, entry, roots);
  const usable = candidates.find((c) => c.kind === "plain" || gitHasCommit(c.dir, entry.rev));
  if (!usable) {
    const looked = candidates.length
      ? `found ${candidates.map((c) => c.dir).join(", ")} but none has commit ${entry.rev}`
      : `no copy of ${entry.repo} under ${roots.join(", ")}`;
    throw new MissingSourceError(`${name}: ${looked}`);
  }

  const tmp = mkdtempSync(path.join(os.tmpdir(), `seed-${name}-`));
  try {
    const src = usable.kind === "git" ? exportGitTree(usable.dir, entry.rev, tmp) : copyPlainTree(usable.dir, tmp);
    const got = narHash(src);
    if (got !== entry.sha256) {
      const why =
        usable.kind === "git"
          ? gitattributesHint(usable.dir, entry.rev)
          : "A plain directory must hold exactly the tree of that revision (no .git, no build products).";
      throw new SeedError(
        `${name}: NAR hash mismatch for ${usable.dir} at ${entry.rev}\n` +
          `  lock:     ${entry.sha256}\n  computed: ${got}\n  ${why}\nRefusing to add it to the store.`,
      );
    }
    const add = run("nix-store", ["--add-fixed", "--recursive", "sha256", src]);
    if (add.status !== 0) throw new SeedError(`${name}: nix-store --add-fixed failed:\n${add.stderr}`);
    const added = add.stdout.trim();
    if (added !== expected) {
      throw new SeedError(`${name}: nix-store added ${added}, but fetchTarball expects ${expected}`);
    }
    console.log(`${name}: hash ok, added ${added}`);
    return { name, path: added };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Keeps a seeded source from `nix-collect-garbage` with a direct GC root
 * (a symlink under /nix/var/nix/gcroots). Best effort: a failure is a warning.
 */
function pinGcRoot(name: string, storePath: string, gcRoots: string): void {
  try {
    mkdirSync(gcRoots, { recursive: true });
    const link = path.join(gcRoots, name);
    rmSync(link, { force: true });
    symlinkSync(storePath, link);
  } catch (e) {
    console.warn(`warning: ${name}: could not add a GC root in ${gcRoots}: ${(e as Error).message}`);
  }
}

/** Evaluates fetchTarball for each seeded entry offline; returns name → path. */
function fetchTarballPaths(entries: [string, UpstreamLockEntry][]): Record<string, string> {
  const body = entries
    .map(
      ([name, e]) =>
        `${nixString(name)} = builtins.fetchTarball { url = ${nixString(e.url)}; sha256 = ${nixString(e.sha256)}; };`,
    )
    .join(" ");
  const r = run("nix-instantiate", [
    "--eval",
    "--strict",
    "--json",
    "--option",
    "connect-timeout",
    "5",
    "--expr",
    `{ ${body} }`,
  ]);
  if (r.status !== 0) throw new SeedError(`offline fetchTarball check failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, string>;
}

function main(argv: string[]): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        from: { type: "string", multiple: true },
        optional: { type: "boolean" },
        only: { type: "string", multiple: true },
        lock: { type: "string" },
        "no-gc-root": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (!nixAvailable()) {
    const msg = "seed-upstream: nix-instantiate does not run on this machine (Debian package nix-bin)";
    if (values.optional) {
      console.warn(`warning: ${msg}; nothing seeded`);
      return 0;
    }
    console.error(msg);
    return 1;
  }

  const lockFile = values.lock ? path.resolve(values.lock) : upstreamLockFile;
  const lock = readUpstreamLock(lockFile);
  const only = values.only ?? [];
  for (const n of only) {
    if (!(n in lock)) {
      console.error(`seed-upstream: no entry ${n} in ${lockFile}; have ${Object.keys(lock).join(", ")}`);
      return 2;
    }
  }
  const entries = Object.entries(lock).filter(([n]) => only.length === 0 || only.includes(n));
  const roots = searchRoots(values.from ?? []);

  const ok: [string, UpstreamLockEntry, string][] = [];
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const [name, entry] of entries) {
    try {
      const o = seedOne(name, entry, roots);
      ok.push([name, entry, o.path]);
      if (!values["no-gc-root"]) pinGcRoot(name, o.path, gcRootDir);
    } catch (e) {
      if (e instanceof MissingSourceError && values.optional) warnings.push(e.message);
      else errors.push(e instanceof Error ? e.message : String(e));
    }
  }

  if (ok.length > 0) {
    try {
      const resolved = fetchTarballPaths(ok.map(([n, e]) => [n, e]));
      for (const [name, , p] of ok) {
        if (resolved[name] !== p) errors.push(`${name}: fetchTarball resolved to ${resolved[name]}, expected ${p}`);
      }
      if (errors.length === 0) console.log(`fetchTarball resolves offline for ${ok.map(([n]) => n).join(", ")}`);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }

  for (const w of warnings) console.warn(`warning: ${w} (skipped: --optional)`);
  for (const e of errors) console.error(`error: ${e}`);
  if (errors.length > 0) {
    console.error(`seed-upstream: ${errors.length} source(s) failed`);
    return 1;
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
