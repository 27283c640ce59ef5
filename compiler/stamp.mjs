// Plain JavaScript (no TypeScript loader needed), so that compiler/launch.mjs can decide
// in a few milliseconds whether a build has anything to do. Types: stamp.d.mts.
//
// Two records, in the build cache folder (node_modules/.cache/services-ts/), one per checkout:
// - the type check's inputs: every file the last successful check's program read (by the
//   hash of the text it checked), the root file names, the TypeScript version and the
//   project files that steer resolution (tsconfig.json, package.json, the lockfile) and
//   the listing of every project folder holding a checked file (a new file there may
//   change what an import resolves to). Equal inputs: the check's verdict cannot differ.
// - "up to date": a digest of everything else a build reads (modules/, dsl/, compiler/, nix/,
//   the files above, test/packages.json, test/nix/pkgs.nix, the Node and ShellCheck versions,
//   whether it type-checked) and of generated/ as the build left it.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join, relative, resolve } from "node:path";

const sha256 = (...parts) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex");
};

/** The build cache folder of `root` (as compiler/cache.ts's cacheDir). */
export const cacheDir = (root) => join(root, "node_modules", ".cache", "services-ts");
const perCheckout = (root, suffix) => join(cacheDir(root), `modules-${sha256(resolve(root)).slice(0, 12)}.${suffix}`);
/** TypeScript's build info for the incremental check (the same file as compiler/cache.ts's typecheckBuildInfo). */
export const typecheckBuildInfoFile = (root) => perCheckout(root, "tsbuildinfo");
/** The record of the last successful type check's inputs. */
export const typecheckStampFile = (root) => perCheckout(root, "typecheck.json");
/** The record of the last successful build. */
export const upToDateStampFile = (root) => perCheckout(root, "uptodate.json");

/** A file's text as the type checker reads it (without a byte order mark), or undefined when it cannot be read. */
function text(file) {
  try {
    const t = readFileSync(file, "utf8");
    return t.charCodeAt(0) === 0xfeff ? t.slice(1) : t;
  } catch {
    return undefined;
  }
}

/** The version of the TypeScript that `root` resolves, or "none". */
function typescriptVersion(root) {
  const t = text(join(root, "node_modules", "typescript", "package.json"));
  return t === undefined ? "none" : String(JSON.parse(t).version);
}

/** Files and folders that steer how the project's imports resolve. */
const STEERING = ["tsconfig.json", "package.json", "pnpm-lock.yaml"];

/**
 * What of `dir` can change where an import resolves, sorted: its files that TypeScript may
 * resolve an import to (scripts, declarations, JSON) and a `node_modules` folder; or "absent".
 * Other folders are left out: one appearing cannot take an import from a file that resolved
 * (a file is found before a folder's index), and generated/ appears with the first build.
 */
function resolvable(dir) {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => (e.isDirectory() ? e.name === "node_modules" : /\.([cm]?[jt]sx?|json)$/.test(e.name)))
      .map((e) => e.name)
      .sort()
      .join("\n");
  } catch {
    return "absent";
  }
}

/** What a check's verdict depends on, apart from the checked files' texts. */
function typecheckContext(root, rootNames, folders) {
  return sha256(
    typescriptVersion(root),
    ...STEERING.map((f) => text(join(root, f)) ?? "absent"),
    ...[...rootNames].map((f) => relative(root, f)).sort(),
    ...folders.flatMap((d) => [d, resolvable(join(root, d))]),
  );
}

const readJson = (file) => {
  const t = text(file);
  if (t === undefined) return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined; // torn or foreign: as if absent
  }
};

const writeJson = (file, value) => {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value));
  renameSync(tmp, file);
};

/**
 * Whether a check of `rootNames` would read exactly what the last successful one read.
 * Reads files and hashes; loads no TypeScript.
 */
export function typecheckUnchanged(root, rootNames) {
  const stamp = readJson(typecheckStampFile(root));
  if (!stamp || !Array.isArray(stamp.files) || !Array.isArray(stamp.folders)) return false;
  if (stamp.context !== typecheckContext(root, rootNames, stamp.folders)) return false;
  for (const [file, hash] of stamp.files) {
    const t = text(file);
    if (t === undefined || sha256(t) !== hash) return false;
  }
  return true;
}

/**
 * Records a successful check of `rootNames` whose program read `files` (name and the text
 * it checked), for {@link typecheckUnchanged}.
 */
export function recordTypecheck(root, rootNames, files) {
  const abs = resolve(root);
  const folders = new Set();
  for (const f of files) {
    const rel = relative(abs, resolve(f.fileName));
    if (rel.startsWith("..") || rel.split("/").includes("node_modules")) continue;
    // Every folder from the file's up to the root: a new file anywhere there may be found instead.
    for (let d = dirname(rel); d !== "." && d !== ""; d = dirname(d)) folders.add(d);
  }
  folders.add(".");
  const sortedFolders = [...folders].sort();
  writeJson(typecheckStampFile(root), {
    context: typecheckContext(root, rootNames, sortedFolders),
    rootNames: [...rootNames],
    folders: sortedFolders,
    files: files.map((f) => [resolve(f.fileName), sha256(f.text)]),
  });
}

/** The folders whose every file a build reads. */
const SOURCE_DIRS = ["modules", "dsl", "compiler", "nix"];
/** Single files a build reads (absent ones count as absent). */
const SOURCE_FILES = [...STEERING, "test/packages.json", "test/nix/pkgs.nix"];

/** Every file under `dir`, recursively, as [path relative to `base`, text] (symbolic links followed). */
function tree(base, dir, out = []) {
  let entries;
  try {
    entries = readdirSync(join(base, dir), { withFileTypes: true });
  } catch {
    out.push([dir, "absent"]);
    return out;
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory() || (e.isSymbolicLink() && isDirectory(join(base, rel)))) tree(base, rel, out);
    else out.push([rel, text(join(base, rel)) ?? "unreadable"]);
  }
  return out;
}

const isDirectory = (path) => {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
};

let shellcheck;
/**
 * Which ShellCheck a build would run (the scripts' checks depend on it): the resolved path,
 * size and modification time of the first `shellcheck` on PATH, or "none". A new ShellCheck
 * is a new file there; asking the file is cheaper than starting it (this runs on every build).
 */
export function shellcheckVersion() {
  if (shellcheck === undefined) {
    shellcheck = "none";
    for (const dir of (process.env.PATH ?? "").split(delimiter)) {
      if (!dir) continue;
      try {
        const real = realpathSync(join(dir, "shellcheck"));
        const st = statSync(real);
        if (!st.isFile()) continue;
        shellcheck = `${real}:${st.size}:${st.mtimeMs}`;
        break;
      } catch {
        // Not in this folder.
      }
    }
  }
  return shellcheck;
}

/**
 * A digest of what a build of `root` reads apart from the type check's inputs (those are
 * {@link typecheckUnchanged}'s): its sources, the project files it reads, the tool versions.
 */
export function inputsDigest(root, typecheck) {
  return sourcesDigest(root, SOURCE_DIRS, typecheck ? "typecheck" : "no typecheck");
}

/** A digest of the files of `dirs` and SOURCE_FILES under `root`, the Node and ShellCheck versions and `extra`. */
function sourcesDigest(root, dirs, ...extra) {
  const h = createHash("sha256");
  const add = (...parts) => {
    for (const p of parts) h.update(p).update("\0");
  };
  add(process.version, shellcheckVersion(), ...extra);
  for (const d of dirs) for (const [f, t] of tree(root, d)) add(f, t);
  for (const f of SOURCE_FILES) add(f, text(join(root, f)) ?? "absent");
  return h.digest("hex");
}

/** A digest of files given as [path, text]: the same whatever their order. */
const filesDigest = (entries) =>
  sha256(...[...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flat());

/** A digest of generated/ as it is on disk. */
export const generatedDigest = (root) => filesDigest(tree(root, "generated").map(([p, t]) => [p.slice("generated/".length), t]));

/** The digest {@link generatedDigest} gives once `files` (paths relative to generated/) are all generated/ holds. */
export const emittedDigest = (files) => filesDigest(files.map((f) => [f.path, f.content]));

/**
 * Whether a build of `root` would find nothing to do: its inputs (`inputs`, from
 * {@link inputsDigest}) and generated/ are what the last successful build of the same kind
 * read and left, and, when `typecheckFiles` (the root names) are given, a check of them would
 * read exactly what the last successful check read.
 */
export function upToDate(root, inputs, typecheckFiles) {
  const stamp = readJson(upToDateStampFile(root));
  if (!stamp || stamp.inputs !== inputs || stamp.generated !== generatedDigest(root)) return false;
  return typecheckFiles === undefined || typecheckUnchanged(root, typecheckFiles);
}

/**
 * Records a successful build that read `inputs` (digested before it started, so that a file
 * edited during the build makes the next one build again) and wrote `generated` (the digest of
 * what it emitted, not of the disk: another build may have written since).
 */
export function recordBuild(root, inputs, generated) {
  writeJson(upToDateStampFile(root), { inputs, generated });
}

/** Forgets the last build (a failed build, or one whose inputs are unknown). */
export function forgetBuild(root) {
  writeJson(upToDateStampFile(root), {});
}

/**
 * A digest of what a build reads apart from modules/: dsl/, compiler/, nix/, the project
 * files and the tool versions. The build server (compiler/server.ts) keeps the compiler and
 * the DSL loaded, so it serves builds only while this digest is the one it started with.
 */
export function frameDigest(root) {
  return sourcesDigest(root, SOURCE_DIRS.filter((d) => d !== "modules"));
}

/**
 * The Unix socket of `root`'s build server, in the build cache folder; undefined when that
 * path is too long for a socket address (108 bytes on Linux, with a margin).
 */
export function buildServerSocket(root) {
  const path = perCheckout(root, "server.sock");
  return Buffer.byteLength(path) <= 100 ? path : undefined;
}
