/**
 * Test-side access to the real Nix binaries (Debian's `nix-bin`).
 *
 * Every helper runs Nix in single-user local mode (`NIX_REMOTE=local`) and
 * never reaches the network. Tiers check {@link nixAvailable} (and, for
 * evaluation against upstream modules, {@link upstreamSeeded}) and are skipped
 * by name when it is false; they never pass silently without Nix.
 */
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Environment for every Nix invocation: local store, no substituters. */
export const nixEnv: NodeJS.ProcessEnv = {
  ...process.env,
  NIX_REMOTE: "local",
  NIX_CONFIG: ["substituters =", "experimental-features = nix-command flakes"].join("\n"),
};

let cached: boolean | undefined;
/** True when `nix-instantiate` runs on this machine. */
export function nixAvailable(): boolean {
  if (cached === undefined) {
    const r = spawnSync("nix-instantiate", ["--version"], { env: nixEnv, encoding: "utf8" });
    cached = r.status === 0;
  }
  return cached;
}

/**
 * Evaluates a Nix expression strictly and returns its JSON value.
 * @throws Error carrying Nix's stderr when evaluation fails.
 */
export function nixEvalJson(expr: string, opts: { cwd?: string } = {}): unknown {
  const r = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "--expr", expr], {
    env: nixEnv,
    encoding: "utf8",
    cwd: opts.cwd,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`nix-instantiate --eval failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Parses a Nix file with the real Nix parser.
 * @throws Error carrying Nix's stderr on a parse error.
 */
export function nixParseFile(file: string): void {
  execFileSync("nix-instantiate", ["--parse", file], { env: nixEnv, stdio: ["ignore", "ignore", "pipe"] });
}

// ---------------------------------------------------------------------------
// Paths and the upstream lock
// ---------------------------------------------------------------------------

/** Absolute path of the repository root. */
export const repoRoot: string = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Absolute path of `test/nix` (eval.nix, eval-flake-parts.nix, pkgs.nix, sources.nix, the lock). */
export const nixTestDir: string = path.join(repoRoot, "test", "nix");

/** Absolute path of the project's upstream lock, `test/nix/upstream.lock.json`. */
export const upstreamLockFile: string = path.join(nixTestDir, "upstream.lock.json");

/** One pinned upstream source: GitHub `owner/name`, commit, archive URL and NAR hash (Nix base32 sha256). */
export interface UpstreamLockEntry {
  repo: string;
  rev: string;
  url: string;
  sha256: string;
}

/** The upstream lock: source name (e.g. `nixpkgs-lib`) → entry. */
export type UpstreamLock = Record<string, UpstreamLockEntry>;

/**
 * Reads and validates an upstream lock file.
 * @param file defaults to {@link upstreamLockFile}.
 * @throws Error when the file is unreadable or an entry lacks `repo`, `rev`, `url` or `sha256`.
 */
export function readUpstreamLock(file: string = upstreamLockFile): UpstreamLock {
  const raw = JSON.parse(readFileSync(file, "utf8")) as unknown;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error(`${file}: expected an object of lock entries`);
  }
  const lock: UpstreamLock = {};
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    const e = value as Partial<Record<keyof UpstreamLockEntry, unknown>>;
    for (const key of ["repo", "rev", "url", "sha256"] as const) {
      if (typeof e?.[key] !== "string" || e[key] === "") {
        throw new Error(`${file}: entry ${name} has no string field ${key}`);
      }
    }
    lock[name] = { repo: e.repo as string, rev: e.rev as string, url: e.url as string, sha256: e.sha256 as string };
  }
  return lock;
}

function runNix(cmd: string, args: string[], opts: { cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, {
    env: nixEnv,
    encoding: "utf8",
    cwd: opts.cwd,
    maxBuffer: 256 * 1024 * 1024,
  });
}

function nixOrThrow(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = runNix(cmd, args, opts);
  if (r.error) throw new Error(`${cmd} could not be run: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.slice(0, 3).join(" ")} … failed (exit ${r.status}):\n${r.stderr}`);
  }
  return r.stdout;
}

/**
 * Like nixOrThrow, without blocking the test worker: a long evaluation or build in a synchronous call stops the
 * worker's event loop, and vitest's worker RPC (a 60 s timeout) then fails the run with "Timeout calling
 * onTaskUpdate" although every test passed. The one-evaluation hooks (rendered, smoke, systemd, facts) use this.
 */
function nixOrThrowAsync(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: nixEnv, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => reject(new Error(`${cmd} could not be run: ${e.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else reject(new Error(`${cmd} ${args.slice(0, 3).join(" ")} … failed (exit ${code}):\n${Buffer.concat(err).toString("utf8")}`));
    });
  });
}

/**
 * {@link nixEvalJsonRW}, without blocking the test worker while Nix runs.
 * @throws Error carrying Nix's stderr when evaluation fails.
 */
export async function nixEvalJsonRWAsync(expr: string, opts: NixEvalOptions = {}): Promise<unknown> {
  const args = ["--eval", "--strict", "--json", "--read-write-mode"];
  if (opts.showTrace || process.env.SERVICES_TS_NIX_TRACE === "1") args.push("--show-trace");
  args.push("--expr", expr);
  return JSON.parse(await nixOrThrowAsync("nix-instantiate", args, { cwd: opts.cwd ?? repoRoot }));
}

/**
 * {@link buildDrvs}, without blocking the test worker while Nix builds.
 * @throws Error carrying Nix's stderr when a build fails, or when `drvs` holds something else than `.drv` paths.
 */
export async function buildDrvsAsync(drvs: readonly string[]): Promise<void> {
  if (drvs.length === 0) return;
  const bad = drvs.filter((d) => !storeDrvRe.test(d));
  if (bad.length > 0) throw new Error(`not store derivations: ${bad.join(", ")}`);
  await nixOrThrowAsync("nix-store", ["--realise", ...drvs]);
}

/**
 * The store path `builtins.fetchTarball { url; sha256; }` resolves to: the
 * fixed-output, recursive-sha256 path named `source` with that NAR hash.
 * @param sha256 Nix base32 (or hex) sha256 NAR hash.
 * @throws Error carrying nix-store's stderr when the hash is malformed.
 */
export function fixedSourcePath(sha256: string, name = "source"): string {
  return nixOrThrow("nix-store", ["--print-fixed-path", "--recursive", "sha256", sha256, name]).trim();
}

/** True when `storePath` is a valid path in the local Nix store. Never throws. */
export function storePathValid(storePath: string): boolean {
  const r = runNix("nix-store", ["--check-validity", storePath]);
  return r.status === 0;
}

/**
 * Names of lock entries whose source tree is not in the local store.
 * Returns every name when Nix itself is unavailable.
 */
export function upstreamMissing(lock: UpstreamLock = readUpstreamLock()): string[] {
  if (!nixAvailable()) return Object.keys(lock);
  return Object.entries(lock)
    .filter(([, e]) => {
      try {
        return !storePathValid(fixedSourcePath(e.sha256));
      } catch {
        return true;
      }
    })
    .map(([name]) => name);
}

let seededCache: boolean | undefined;
/**
 * True when Nix runs here and every lock entry's source is in the local store,
 * so `test/nix/sources.nix` resolves offline. Cached per process.
 */
export function upstreamSeeded(): boolean {
  if (seededCache === undefined) seededCache = upstreamMissing().length === 0;
  return seededCache;
}

/** Skip reason for tiers that need {@link upstreamSeeded}. */
export const upstreamSkipReason =
  "eval tier skipped: upstream sources not in the Nix store; run pnpm seed-upstream";

// ---------------------------------------------------------------------------
// Evaluating process-compose configurations
// ---------------------------------------------------------------------------

/**
 * process-compose settings as process-compose-flake writes them to its JSON
 * file: `null` and `{}` values removed (twice, as upstream does). Commands are
 * store path strings (`lib.getExe` of the script package).
 */
export interface ProcessComposeSettings {
  processes?: Record<string, ProcessSettings>;
  shell?: { shell_command: string; shell_argument: string };
  [key: string]: unknown;
}

/** One process in {@link ProcessComposeSettings}. */
export interface ProcessSettings {
  command?: string;
  namespace?: string;
  depends_on?: Record<string, { condition: string }>;
  environment?: string[];
  [key: string]: unknown;
}

/**
 * A whole evaluation: the settings, process name → `.drv` path that builds the
 * process's command (null when the command is a plain string or a path that
 * needs no build), and the test settings when a `test` process exists.
 */
export interface ProcessComposeEval {
  settings: ProcessComposeSettings;
  settingsTest: ProcessComposeSettings | null;
  commandDrvs: Record<string, string | null>;
  /** By process: the derivations its environment values name (a configuration file passed by its path). */
  environmentDrvs: Record<string, string[]>;
  /** The .drv of process-compose-flake's settings JSON file. */
  settingsDrv: string;
  /** The .drv of the settings JSON with the `test` process enabled, if there is one. */
  settingsTestDrv: string | null;
  /** What process-compose-flake puts on process-compose's command line (`cli.outputs.options`, shell words). */
  cliOptions: string;
  /** With `wrapper: true`: the .drv of process-compose-flake's wrapper of the test settings (`outputs.testPackage`). */
  testPackageDrv?: string | null;
  /** With `wrapper: true`: its name, which is also its program in `bin/`. */
  testPackageName?: string | null;
}

/** Options shared by the evaluation helpers. */
export interface NixEvalOptions {
  /** Directory relative paths in the Nix source resolve against (default: repo root). */
  cwd?: string;
  /** Pass `--show-trace` (also on when SERVICES_TS_NIX_TRACE=1). */
  showTrace?: boolean;
}

/**
 * Evaluates `expr` strictly to JSON in read-write mode, so derivations met on
 * the way are written to the store and can be built with {@link buildDrv}.
 * @throws Error carrying Nix's stderr when evaluation fails.
 */
export function nixEvalJsonRW(expr: string, opts: NixEvalOptions = {}): unknown {
  const args = ["--eval", "--strict", "--json", "--read-write-mode"];
  if (opts.showTrace || process.env.SERVICES_TS_NIX_TRACE === "1") args.push("--show-trace");
  args.push("--expr", expr);
  const r = runNix("nix-instantiate", args, { cwd: opts.cwd ?? repoRoot });
  if (r.error) throw new Error(`nix-instantiate could not be run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`nix-instantiate --eval failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** A Nix string literal for `s` (for splicing paths and names into expressions). */
export function nixString(s: string): string {
  return JSON.stringify(s).replace(/\$\{/g, "\\${");
}

/**
 * A Nix path expression for an absolute filesystem path: a path literal when
 * the path's characters allow it, else `(/. + "…")`.
 * @throws Error when `p` is not absolute.
 */
export function nixPath(p: string): string {
  if (!path.isAbsolute(p)) throw new Error(`nixPath needs an absolute path, got ${p}`);
  const norm = path.normalize(p);
  return /^(\/[A-Za-z0-9._+-]+)+$/.test(norm) ? norm : `(/. + ${nixString(norm)})`;
}

/**
 * Evaluates process-compose-flake's module system (its `nix/lib.nix`
 * `evalModules`) over `modulesNix`, with the test package set as `pkgs`, and
 * returns settings, test settings and command derivations.
 *
 * @param modulesNix Nix source of a module list, e.g.
 *   `[ /abs/generated/default.nix { services.redis.r1.enable = true; } ]`.
 * @param opts.name the process-compose configuration's name (default `process-compose`).
 * @param opts.pkgsOverlays Nix source of a list of overlays applied to the test package set.
 * @throws Error carrying Nix's stderr when evaluation fails.
 */
export function evalProcessComposeFull(
  modulesNix: string,
  opts: NixEvalOptions & { name?: string; pkgsOverlays?: string; wrapper?: boolean } = {},
): ProcessComposeEval {
  const args = [`modules = ${modulesNix};`];
  if (opts.name !== undefined) args.push(`name = ${nixString(opts.name)};`);
  if (opts.wrapper) args.push("wrapper = true;");
  if (opts.pkgsOverlays !== undefined) args.push(`pkgsOverlays = ${opts.pkgsOverlays};`);
  const expr = `import ${nixString(path.join(nixTestDir, "eval.nix"))} { ${args.join(" ")} }`;
  return nixEvalJsonRW(expr, opts) as ProcessComposeEval;
}

/** {@link evalProcessComposeFull}, without blocking the test worker while Nix evaluates (for the one-evaluation hooks). */
export async function evalProcessComposeFullAsync(
  modulesNix: string,
  opts: NixEvalOptions & { name?: string; pkgsOverlays?: string } = {},
): Promise<ProcessComposeEval> {
  const args = [`modules = ${modulesNix};`];
  if (opts.name !== undefined) args.push(`name = ${nixString(opts.name)};`);
  if (opts.pkgsOverlays !== undefined) args.push(`pkgsOverlays = ${opts.pkgsOverlays};`);
  const expr = `import ${nixString(path.join(nixTestDir, "eval.nix"))} { ${args.join(" ")} }`;
  return (await nixEvalJsonRWAsync(expr, opts)) as ProcessComposeEval;
}

/**
 * Like {@link evalProcessComposeFull}, returning only the settings JSON.
 * @throws Error carrying Nix's stderr when evaluation fails.
 */
export function evalProcessCompose(
  modulesNix: string,
  opts: NixEvalOptions & { name?: string; pkgsOverlays?: string } = {},
): ProcessComposeSettings {
  return evalProcessComposeFull(modulesNix, opts).settings;
}

/** Arguments of {@link evalFlakeParts}; every `…Nix` field is Nix source. */
export interface FlakePartsArgs {
  /** The perSystem module, e.g. `{ process-compose.dev = { imports = [ ./m.nix ]; }; }`. */
  perSystemNix: string;
  /** A list of flake modules imported besides process-compose-flake's flakeModule. */
  flakeModulesNix?: string;
  /** Which `process-compose.<name>` configuration to report (default `default`). */
  name?: string;
  /** Extra flake inputs (an attrset), merged into `inputs`. */
  extraInputsNix?: string;
  /** Overlays (a list) applied to the test package set. */
  pkgsOverlaysNix?: string;
}

/** Result of {@link evalFlakeParts}: one configuration plus what flake-parts exposed. */
export interface FlakePartsEval extends ProcessComposeEval {
  /** The system evaluated (`builtins.currentSystem`). */
  system: string;
  /** Names under the flake's `packages.<system>`. */
  packages: string[];
  /** Names under the flake's `checks.<system>`. */
  checks: string[];
  /** Names of all `process-compose.*` configurations in perSystem. */
  configurations: string[];
}

/**
 * Evaluates flake-parts' `mkFlake` (via `evalFlakeModule`) with
 * process-compose-flake's flakeModule, the given flake modules and perSystem
 * module, for `builtins.currentSystem`, with perSystem `pkgs` set to the test
 * package set.
 * @throws Error carrying Nix's stderr when evaluation fails.
 */
export function evalFlakeParts(args: FlakePartsArgs, opts: NixEvalOptions = {}): FlakePartsEval {
  const parts = [`perSystem = ${args.perSystemNix};`];
  if (args.flakeModulesNix !== undefined) parts.push(`flakeModules = ${args.flakeModulesNix};`);
  if (args.name !== undefined) parts.push(`name = ${nixString(args.name)};`);
  if (args.extraInputsNix !== undefined) parts.push(`extraInputs = ${args.extraInputsNix};`);
  if (args.pkgsOverlaysNix !== undefined) parts.push(`pkgsOverlays = ${args.pkgsOverlaysNix};`);
  const expr = `import ${nixString(path.join(nixTestDir, "eval-flake-parts.nix"))} { ${parts.join(" ")} }`;
  return nixEvalJsonRW(expr, opts) as FlakePartsEval;
}

// ---------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------

const storeDrvRe = /^\/nix\/store\/[0-9a-z]{32}-[^/]+\.drv(![^/]*)?$/;
const storePathRe = /^\/nix\/store\/[0-9a-z]{32}-[^/]+$/;

/**
 * Builds a derivation and returns its (first) output path.
 *
 * @param storeDrvOrExpr either a store `.drv` path (realised with
 *   `nix-store --realise`), an existing store path (checked and returned), or
 *   Nix source of an expression evaluating to a derivation (built with
 *   `nix-build --no-out-link --expr`, relative paths against `opts.cwd`, default repo root).
 * @throws Error carrying Nix's stderr when the build fails.
 */
export function buildDrv(storeDrvOrExpr: string, opts: { cwd?: string } = {}): string {
  const s = storeDrvOrExpr.trim();
  let out: string;
  if (storeDrvRe.test(s) || storePathRe.test(s)) {
    out = nixOrThrow("nix-store", ["--realise", s]);
  } else {
    out = nixOrThrow("nix-build", ["--no-out-link", "--expr", s], { cwd: opts.cwd ?? repoRoot });
  }
  const first = out.split("\n").find((l) => l.startsWith("/nix/store/"));
  if (!first) throw new Error(`no output path printed for ${s.slice(0, 200)}:\n${out}`);
  return first.trim();
}

/**
 * Builds several store derivations in one `nix-store --realise` (Nix schedules them together).
 * @throws Error carrying Nix's stderr when a build fails, or when `drvs` holds something else than `.drv` paths.
 */
export function buildDrvs(drvs: readonly string[]): void {
  if (drvs.length === 0) return;
  const bad = drvs.filter((d) => !storeDrvRe.test(d));
  if (bad.length > 0) throw new Error(`not store derivations: ${bad.join(", ")}`);
  nixOrThrow("nix-store", ["--realise", ...drvs]);
}

/**
 * Builds the command of `process` from an evaluation and returns the text of
 * the file its `command` points at (the script for writeShellApplication).
 * @throws Error when the process is unknown, its command is not a store file
 *   built by a derivation, or the build fails (with Nix's stderr).
 */
export function readProcessScript(ev: ProcessComposeEval, processName: string): string {
  const proc = ev.settings.processes?.[processName];
  if (!proc) throw new Error(`no process ${processName}; have: ${Object.keys(ev.settings.processes ?? {}).join(", ")}`);
  const command = proc.command;
  if (typeof command !== "string" || !command.startsWith("/nix/store/")) {
    throw new Error(`process ${processName}: command is not a store path: ${String(command)}`);
  }
  // A command may carry arguments after the executable ("/nix/store/…/bin/x --flag").
  const file = command.split(/\s+/)[0] as string;
  const drv = ev.commandDrvs[processName];
  if (drv) buildDrv(drv);
  if (!existsSync(file)) throw new Error(`process ${processName}: ${file} does not exist after building`);
  return readFileSync(file, "utf8");
}
