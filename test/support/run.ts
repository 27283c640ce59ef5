/**
 * Run tier support: runs a process-compose configuration built by real Nix
 * with real process-compose, as an unprivileged user when the tests run as
 * root (PostgreSQL refuses to run as root).
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { buildDrv, type ProcessComposeEval } from "./nix";

/**
 * The process-compose binary: $PROCESS_COMPOSE, /opt/services-ts/bin (where test/tools/install-process-compose.sh
 * puts it), $GOPATH/bin, ~/go/bin, then PATH; null when none runs.
 */
export function findProcessCompose(): string | null {
  const candidates = [
    process.env.PROCESS_COMPOSE,
    "/opt/services-ts/bin/process-compose",
    process.env.GOPATH ? join(process.env.GOPATH, "bin", "process-compose") : undefined,
    join(homedir(), "go", "bin", "process-compose"),
    "process-compose",
  ].filter((c): c is string => !!c);
  for (const c of candidates) {
    const r = spawnSync(c, ["version"], { encoding: "utf8" });
    if (r.status === 0) return c;
  }
  return null;
}

/**
 * The cache directory (`XDG_CACHE_HOME`) of every run of this test process, as a machine keeps one between
 * stacks: PostgreSQL's initdbTemplate makes a cluster template once per set of initdb inputs and later cold
 * starts copy it. Made on first use, writable by the unprivileged user, removed when the process exits.
 */
let sharedCache: string | undefined;
export function runCacheDir(): string {
  if (sharedCache === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "services-ts-cache-"));
    chmodSync(dir, 0o777);
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    sharedCache = dir;
  }
  return sharedCache;
}

/** How a run ended. */
export interface RunResult {
  /** process-compose's exit code: the test process's verdict (null when killed on timeout). */
  readonly code: number | null;
  readonly timedOut: boolean;
  /** Seconds from start to exit. */
  readonly seconds: number;
  /** Everything process-compose printed (process output, one line per log line). */
  readonly output: string;
  /** The working directory (data dirs live under ./data). */
  readonly workDir: string;
}

/**
 * Kills every process of the session `sid` (the detached child the harness started leads it): process-compose
 * and the servers it started, which it puts in process groups of their own, so that a killed run leaves no
 * server holding its port for the next one (`pkill -s`, procps).
 */
export function killSession(sid: number): void {
  try {
    process.kill(-sid, "SIGKILL");
  } catch {
    /* already gone */
  }
  spawnSync("pkill", ["-KILL", "-s", String(sid)]);
}

/** Wraps a command so it runs unprivileged when we are root (setpriv, uid/gid 65534). */
export function unprivileged(argv: string[]): string[] {
  if (process.getuid?.() !== 0) return argv;
  return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", ...argv];
}

/**
 * Builds the test settings of an evaluated configuration and runs
 * `process-compose up` on it until the `test` process ends (`exit_on_end`), or
 * until `timeoutSeconds` pass, then kills the whole process group.
 * @throws Error when the configuration has no `test` process or a build fails.
 */
export async function runProcessCompose(
  pc: string,
  ev: ProcessComposeEval,
  opts: {
    timeoutSeconds?: number;
    workDir?: string;
    env?: Record<string, string>;
    /**
     * Run in a network namespace of its own with only loopback up (`unshare -n`, root only), so that
     * configurations on fixed default ports (5432, 6379, …) meet no other server of the machine.
     */
    isolatedNetwork?: boolean;
    /**
     * Serve process-compose's HTTP API on this Unix socket (relative to the working directory), as
     * process-compose-flake's wrapper does with `pc-<name>.sock`; by default the API is off.
     */
    apiSocket?: string;
    /**
     * Run the configuration's own settings (no `test` process: one of its processes ends the run
     * with `exit_on_end`, as a load test does) instead of the test settings.
     */
    ownSettings?: boolean;
    /**
     * Run the test settings through process-compose-flake's own wrapper (`outputs.testPackage`, evaluated
     * with `wrapper: true`), as `nix run .#<name>-test` does: the stack's `cli.options` decide the API
     * server, the harness adds no `--no-server` of its own.
     */
    wrapper?: boolean;
  } = {},
): Promise<RunResult> {
  if (!opts.ownSettings && !ev.settingsTestDrv) throw new Error("the configuration has no `test` process");
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), "services-ts-run-"));
  chmodSync(workDir, 0o777);
  const log = ["--ordered-shutdown", "-L", join(workDir, "process-compose.log")];
  let up: string[];
  if (opts.wrapper) {
    if (!ev.testPackageDrv || !ev.testPackageName) throw new Error("evaluate with { wrapper: true } to run through process-compose-flake's wrapper");
    buildDrv(ev.settingsTestDrv!); // what the settings name (commands, probes), which the wrapper's own closure leaves out
    up = unprivileged([join(buildDrv(ev.testPackageDrv), "bin", ev.testPackageName), "--tui=false", ...log]);
  } else {
    const settingsFile = buildDrv(opts.ownSettings ? ev.settingsDrv : ev.settingsTestDrv!);
    const server = opts.apiSocket !== undefined ? ["-U", "-u", join(workDir, opts.apiSocket)] : ["--no-server"];
    up = unprivileged([pc, "up", "-f", settingsFile, "--tui=false", ...server, ...log]);
  }
  const argv = opts.isolatedNetwork ? ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", ...up] : up;
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: workDir,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: workDir, TMPDIR: workDir, LANG: "C.UTF-8", XDG_CACHE_HOME: runCacheDir(), ...opts.env },
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killSession(child.pid!);
  }, (opts.timeoutSeconds ?? 120) * 1000);
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  clearTimeout(timer);
  // process-compose stops its processes when it ends; one killed on the timeout cannot, and each of its
  // processes runs in a process group of its own: whatever is left of the session goes too.
  if (timedOut) killSession(child.pid!);
  return { code, timedOut, seconds: (performance.now() - started) / 1000, output, workDir };
}

/**
 * Starts a configuration twice in the same directory, as a developer stops and
 * restarts a stack (the test process sees SERVICES_TS_RUN=1, then 2), and returns
 * each start's result. The directory is removed when both succeed; a failing
 * start's output is printed with its directory, which is kept for inspection.
 */
export async function runTwice(pc: string, ev: ProcessComposeEval, label: string): Promise<RunResult[]> {
  const results: RunResult[] = [];
  let workDir: string | undefined;
  for (const run of ["1", "2"]) {
    const result = await runProcessCompose(pc, ev, { timeoutSeconds: 180, workDir, env: { SERVICES_TS_RUN: run } });
    workDir = result.workDir;
    results.push(result);
    if (result.code !== 0) {
      console.error(
        `---- ${label}, start ${run}: process-compose exited ${result.timedOut ? "(timed out)" : result.code} after ${result.seconds.toFixed(1)} s in ${workDir}; its output:\n${result.output}`,
      );
      return results;
    }
  }
  rmSync(workDir!, { recursive: true, force: true });
  return results;
}
