/**
 * [systemd] tier support: evaluates NixOS modules against the test-only
 * declaration of the NixOS options they set (test/nix/nixos-options.nix),
 * renders them to unit files (test/nix/render-units.nix), and boots them
 * under real systemd (the host's, Debian's) in a `systemd-nspawn` container:
 *
 *   systemd-nspawn -D / --volatile=yes --bind-ro=/nix --private-network
 *     --register=no --keep-unit -M <unique>
 *     --bind-ro=<rendered>/system:/etc/systemd/system
 *     --bind-ro=<rendered>/sysusers.d:/etc/sysusers.d
 *     --bind=<host state dir>:/var/lib/services-ts
 *     --boot systemd.firstboot=off systemd.unit=services-ts.target
 *
 * The root is a fresh tmpfs with the host's /usr (`--volatile=yes`), so only
 * the bound state directory survives a reboot. `--register=no --keep-unit`
 * because PID 1 of the test machines is not systemd (no system bus to
 * register with). Commands run inside with `nsenter -t <container PID 1> -a`.
 * Every container started here is stopped by `stop()` or, failing that, by
 * `stopAll()` (call it in afterAll) and at process exit.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { nixAvailable, nixEvalJsonRW, nixString, nixPath, nixTestDir, buildDrvs } from "./nix";

/** Why the [systemd] tier cannot run here, or null when it can. */
export function systemdSkipReason(): string | null {
  if (!nixAvailable()) return "Nix (nix-instantiate) is not installed";
  const missing = ["systemd-nspawn", "nsenter", "systemd-analyze"].filter(
    (p) => spawnSync("sh", ["-c", `command -v ${p}`]).status !== 0,
  );
  if (missing.length > 0) return `${missing.join(", ")} not found (apt-get install systemd-container util-linux systemd)`;
  if (process.getuid?.() !== 0) return "systemd-nspawn needs root";
  if (!existsSync("/usr/lib/systemd/systemd") && !existsSync("/lib/systemd/systemd")) return "no systemd binary to boot";
  return null;
}

/** One evaluated and rendered NixOS configuration. */
export interface RenderedSystem {
  /** Store path: system/ (unit files, .wants links) and sysusers.d/. */
  readonly dir: string;
  /** Enabled systemd.services names (without .service). */
  readonly services: string[];
  /** Enabled systemd.targets names (without .target). */
  readonly targets: string[];
}

/**
 * Evaluates several NixOS configurations (each a Nix list of modules) in one
 * `nix-instantiate` and builds all their rendered unit directories in one
 * `nix-store --realise`.
 * @param configs label → Nix source of a module list, e.g. `[ /abs/generated/nixos/tests/redis.nix ]`.
 * @throws Error carrying Nix's stderr (failed assertions included) when evaluation or a build fails.
 */
export function renderSystems(configs: Record<string, string>): Record<string, RenderedSystem> {
  const evalNix = nixPath(join(nixTestDir, "eval-nixos.nix"));
  const body = Object.entries(configs)
    .map(
      ([label, modules]) =>
        `${nixString(label)} = let r = import ${evalNix} { modules = ${modules}; }; in ` +
        `{ drv = r.rendered.drvPath; dir = r.rendered.outPath; inherit (r) services targets; };`,
    )
    .join("\n");
  const ev = nixEvalJsonRW(`{ ${body} }`) as Record<string, RenderedSystem & { drv: string }>;
  buildDrvs(Object.values(ev).map((e) => e.drv));
  const out: Record<string, RenderedSystem> = {};
  for (const [label, e] of Object.entries(ev)) out[label] = { dir: e.dir, services: e.services, targets: e.targets };
  return out;
}

/** `systemd-analyze verify` over every unit file of a rendered system (run on the host). */
export function verifyUnits(sys: RenderedSystem): { ok: boolean; output: string } {
  const files = [
    ...sys.services.map((s) => join(sys.dir, "system", `${s}.service`)),
    ...sys.targets.map((t) => join(sys.dir, "system", `${t}.target`)),
  ];
  const r = spawnSync("systemd-analyze", ["verify", "--man=no", ...files], {
    cwd: join(sys.dir, "system"),
    encoding: "utf8",
    env: { ...process.env, SYSTEMD_LOG_LEVEL: "notice", SYSTEMD_UNIT_PATH: `${join(sys.dir, "system")}:` },
  });
  return { ok: r.status === 0 && (r.stderr + r.stdout).trim() === "", output: `${r.stdout}${r.stderr}`.trim() };
}

const running = new Set<Container>();
let counter = 0;

/** A booted container. */
export class Container {
  private exited = false;
  private readonly exitedP: Promise<void>;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly pid1: number,
    readonly logFile: string,
  ) {
    this.exitedP = new Promise((resolve) => child.on("exit", () => resolve()));
    void this.exitedP.then(() => (this.exited = true));
  }

  /** Runs argv inside the container (all its namespaces). */
  exec(argv: string[], timeoutMs = 30_000): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("nsenter", ["-t", String(this.pid1), "-a", ...argv], { encoding: "utf8", timeout: timeoutMs });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** `systemctl show` properties of a unit, as an object. */
  show(unit: string, props: string[]): Record<string, string> {
    const r = this.exec(["systemctl", "show", `-p${props.join(",")}`, unit]);
    const out: Record<string, string> = {};
    for (const line of r.stdout.split("\n")) {
      const i = line.indexOf("=");
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  /** The journal of the services-ts units (and the failed-units list), for failure reports. */
  journal(): string {
    const failed = this.exec(["systemctl", "--no-pager", "--failed", "--all"]).stdout;
    const j = this.exec(["journalctl", "--no-pager", "-o", "short-monotonic", "-u", "services-ts*"]);
    const w = this.exec(["journalctl", "--no-pager", "-o", "short-monotonic", "-p", "warning", "-n", "40"]);
    return `systemctl --failed:\n${failed}\njournal of services-ts*:\n${j.stdout}${j.stderr}\nlast warnings of the boot:\n${w.stdout}`;
  }

  /** The console output of the container so far. */
  console(): string {
    try {
      return readFileSync(this.logFile, "utf8");
    } catch {
      return "";
    }
  }

  /**
   * Stops the container: an orderly shutdown (SIGTERM to nspawn, which asks
   * systemd to power off), then after `graceMs` SIGKILL to its PID 1 (ends
   * the whole PID namespace) and to nspawn.
   */
  async stop(graceMs = 30_000): Promise<{ clean: boolean; seconds: number }> {
    const started = performance.now();
    let clean = true;
    if (!this.exited) {
      this.child.kill("SIGTERM");
      const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), graceMs));
      if ((await Promise.race([this.exitedP.then(() => "exited" as const), timer])) === "timeout") {
        clean = false;
        this.kill();
        await Promise.race([this.exitedP, new Promise((r) => setTimeout(r, 5_000))]);
      }
    }
    running.delete(this);
    return { clean, seconds: (performance.now() - started) / 1000 };
  }

  /** SIGKILL, synchronously (also used at process exit). */
  kill(): void {
    try {
      process.kill(this.pid1, "SIGKILL");
    } catch {
      /* already gone */
    }
    try {
      this.child.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
}

/** Stops every container still running (afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop(10_000)));
}

process.on("exit", () => {
  for (const c of running) c.kill();
});

/** The container's PID 1: nspawn's child process running systemd. */
function findPid1(nspawnPid: number): number | null {
  try {
    const children = readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, "utf8").trim().split(/\s+/);
    for (const c of children) {
      if (!c) continue;
      const exe = readFileSync(`/proc/${c}/cmdline`, "utf8").split("\0")[0];
      if (exe.endsWith("/systemd")) return Number(c);
    }
  } catch {
    /* not there yet */
  }
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Boots a rendered system in a fresh container with `stateDir` as
 * /var/lib/services-ts, and waits until its systemd answers.
 * @param opts.setenv variables for every unit (systemd.setenv= on PID 1's command line).
 * @throws Error (with the console output) when systemd does not come up in 30 s.
 */
export async function boot(
  sys: RenderedSystem,
  stateDir: string,
  opts: { setenv?: Record<string, string>; unit?: string } = {},
): Promise<Container> {
  const name = `sts-h10-${process.pid}-${++counter}`;
  const logDir = mkdtempSync(join(tmpdir(), "services-ts-nspawn-"));
  const logFile = join(logDir, "console.log");
  const fd = openSync(logFile, "w");
  const args = [
    "--quiet",
    "-D",
    "/",
    "--volatile=yes",
    "--bind-ro=/nix",
    `--bind-ro=${join(sys.dir, "system")}:/etc/systemd/system`,
    `--bind-ro=${join(sys.dir, "sysusers.d")}:/etc/sysusers.d`,
    `--bind=${stateDir}:/var/lib/services-ts`,
    "--private-network",
    "--register=no",
    "--keep-unit",
    "--console=read-only",
    `--machine=${name}`,
    "--boot",
    "systemd.firstboot=off",
    `systemd.unit=${opts.unit ?? "services-ts.target"}`,
    "systemd.show_status=false",
    ...Object.entries(opts.setenv ?? {}).map(([k, v]) => `systemd.setenv=${k}=${v}`),
  ];
  const child = spawn("systemd-nspawn", args, { stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const deadline = performance.now() + 30_000;
  let pid1: number | null = null;
  while (performance.now() < deadline && child.exitCode === null) {
    pid1 ??= findPid1(child.pid!);
    if (pid1 !== null) {
      const r = spawnSync("nsenter", ["-t", String(pid1), "-a", "systemctl", "is-system-running"], { encoding: "utf8", timeout: 5_000 });
      if (r.stdout.trim() !== "" && !/offline|Failed to connect/.test(r.stdout + r.stderr)) break;
    }
    await sleep(50);
  }
  if (pid1 === null || child.exitCode !== null || performance.now() >= deadline) {
    if (pid1 !== null) process.kill(pid1, "SIGKILL");
    child.kill("SIGKILL");
    throw new Error(`systemd did not come up in container ${name}; console:\n${readFileSync(logFile, "utf8")}`);
  }
  const c = new Container(name, child, pid1, logFile);
  running.add(c);
  return c;
}

/** How a unit ended. */
export interface UnitOutcome {
  readonly ok: boolean;
  readonly timedOut: boolean;
  /** Seconds from the call until the unit reached an end state. */
  readonly seconds: number;
  readonly props: Record<string, string>;
}

const props = ["ActiveState", "SubState", "Result", "ExecMainStatus", "ExecMainExitTimestampMonotonic", "Type", "Job"];

/**
 * Waits until `unit` (a oneshot: the test) has ended: active (RemainAfterExit)
 * or inactive after running, or failed, or left without a start job (a
 * dependency failed). ok: it ran and exited 0.
 */
export async function waitForUnit(c: Container, unit: string, timeoutMs = 180_000): Promise<UnitOutcome> {
  const started = performance.now();
  for (;;) {
    const p = c.show(unit, props);
    const ran = (p.ExecMainExitTimestampMonotonic ?? "0") !== "0";
    const jobs = c.exec(["systemctl", "list-jobs", "--no-legend", unit]).stdout.trim();
    const done =
      p.ActiveState === "failed" ||
      (p.ActiveState === "active" && p.SubState !== "start") ||
      (p.ActiveState === "inactive" && (ran || jobs === ""));
    if (done) {
      const ok = p.Result === "success" && ran && p.ExecMainStatus === "0" && p.ActiveState !== "failed";
      return { ok, timedOut: false, seconds: (performance.now() - started) / 1000, props: p };
    }
    if (performance.now() - started > timeoutMs) {
      return { ok: false, timedOut: true, seconds: (performance.now() - started) / 1000, props: p };
    }
    await sleep(200);
  }
}

/** A fresh host directory for /var/lib/services-ts. */
export function makeStateDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `services-ts-systemd-${label}-`));
}

/** Removes a state directory (after a passing test). */
export function removeStateDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** One boot of a rendered system until its test unit ends. */
export interface BootResult extends UnitOutcome {
  /** Failure report: unit properties, journal and console, empty when ok. */
  readonly report: string;
  /** Seconds for the orderly shutdown. */
  readonly stopSeconds: number;
  readonly stoppedCleanly: boolean;
}

/**
 * Boots `sys` with `stateDir`, waits for `testUnit`, collects the journal on
 * failure and stops the container (always).
 */
export async function bootAndTest(
  sys: RenderedSystem,
  stateDir: string,
  opts: { testUnit?: string; setenv?: Record<string, string>; timeoutMs?: number; label?: string } = {},
): Promise<BootResult> {
  const unit = opts.testUnit ?? "services-ts-test.service";
  const c = await boot(sys, stateDir, { setenv: opts.setenv });
  try {
    const outcome = await waitForUnit(c, unit, opts.timeoutMs);
    const report = outcome.ok
      ? ""
      : `---- ${opts.label ?? sys.dir}: ${unit} ${outcome.timedOut ? "timed out" : "failed"} ` +
        `(${JSON.stringify(outcome.props)}); state dir ${stateDir}\n${c.journal()}\nconsole:\n${c.console()}`;
    const s = await c.stop();
    return { ...outcome, report, stopSeconds: s.seconds, stoppedCleanly: s.clean };
  } catch (e) {
    await c.stop(5_000);
    throw e;
  }
}
