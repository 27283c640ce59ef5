/**
 * The `[systemd]` tier's harness: real systemd (the machine's, Debian's) booted in a
 * container with `systemd-nspawn`, running units rendered from the generated NixOS
 * modules (test/nix/eval-nixos.nix, test/nix/render-units.nix).
 *
 * The container is the machine's own root, volatile (`--volatile=yes`: a fresh tmpfs
 * with the host's /usr, so Debian's servers are there), with /nix read-only, only
 * loopback networking (`--private-network`: default ports never meet the host's),
 * the units bound at /etc/systemd/system, the users at /etc/sysusers.d, and
 * /var/lib/services-ts bound to a directory of the test's, so that data outlives a
 * boot. It boots straight into `services-ts.target` (`systemd.unit=`), so none of the
 * host's own services start. Commands run inside with `nsenter` into the container's
 * PID 1. PID 1 of these machines is not systemd, so nspawn runs without registering
 * with a host systemd (`--register=no --keep-unit`).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Why the tier cannot run here, or undefined when it can. */
export function systemdSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "systemd-nspawn needs root";
  if (spawnSync("systemd-nspawn", ["--version"]).status !== 0) return "systemd-nspawn is missing (Debian package systemd-container)";
  if (!existsSync("/lib/systemd/systemd")) return "systemd is missing (Debian package systemd)";
  return undefined;
}

/** A booted container. */
export interface Container {
  readonly name: string;
  /** The container's PID 1 (systemd), as seen from the host. */
  readonly pid: number;
  /** Everything nspawn and the container's console printed so far. */
  console(): string;
  /** Runs `argv` inside the container (as root); returns its output and exit status. */
  exec(argv: string[], timeoutMs?: number): { status: number | null; stdout: string; stderr: string };
  /** Powers the container off and waits for nspawn to end (killing it after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<void>;
}

export interface BootOptions {
  /** The rendered units: a directory holding `system/` and `sysusers.d/` (render-units.nix). */
  readonly units: string;
  /** The host directory that is /var/lib/services-ts inside. */
  readonly state: string;
  /** Extra [Service] settings per unit, as drop-ins (`{ "services-ts-test.service": ["Environment=X=1"] }`). */
  readonly dropIns?: Readonly<Record<string, readonly string[]>>;
  /** Host directories bound read-write into the container (`{ host, container }`), which a reboot keeps. */
  readonly binds?: readonly { readonly host: string; readonly container: string }[];
  /** Seconds to wait for systemd to come up; default 60. */
  readonly bootTimeoutSeconds?: number;
}

let counter = 0;

/** Kill functions of the containers still running: none may outlive the test process (a vitest timeout, an abort). */
const liveContainers = new Set<() => void>();
process.on("exit", () => {
  for (const kill of liveContainers) kill();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The PID of `parent`'s child running `comm`, or undefined. */
function childPid(parent: number, comm: string): number | undefined {
  const r = spawnSync("pgrep", ["-P", String(parent), "-x", comm], { encoding: "utf8" });
  const pid = Number.parseInt(r.stdout.trim().split("\n")[0] ?? "", 10);
  return Number.isNaN(pid) ? undefined : pid;
}

/**
 * Boots systemd in a container with `units`.
 * @throws Error with the console output when systemd does not come up in time.
 */
export async function boot(opts: BootOptions): Promise<Container> {
  const name = `sts-${process.pid}-${++counter}`;
  // The units directory is a copy: drop-ins are added beside the store's read-only files.
  const etc = mkdtempSync(join(tmpdir(), "services-ts-units-"));
  cpSync(join(opts.units, "system"), join(etc, "system"), { recursive: true, dereference: false });
  cpSync(join(opts.units, "sysusers.d"), join(etc, "sysusers.d"), { recursive: true });
  const tmpfiles = existsSync(join(opts.units, "tmpfiles.d"));
  if (tmpfiles) cpSync(join(opts.units, "tmpfiles.d"), join(etc, "tmpfiles.d"), { recursive: true });
  for (const [unit, lines] of Object.entries(opts.dropIns ?? {})) {
    mkdirSync(join(etc, "system", `${unit}.d`), { recursive: true });
    writeFileSync(join(etc, "system", `${unit}.d`, "test.conf"), `[Service]\n${lines.join("\n")}\n`);
  }
  // The users exist before any unit starts, as on NixOS (its activation creates them before systemd
  // starts units): every services-ts unit is ordered after systemd-sysusers, which the
  // sysusers.extra credential makes run at every boot (its ConditionNeedsUpdate=/etc alone
  // may skip it; seen under load: a unit failing with 217/USER on a reboot).
  mkdirSync(join(etc, "system", "services-ts-.service.d"), { recursive: true });
  writeFileSync(join(etc, "system", "services-ts-.service.d", "users.conf"), "[Unit]\nAfter=systemd-sysusers.service\n");
  mkdirSync(opts.state, { recursive: true });
  const argv = [
    "--quiet",
    "--directory=/",
    "--volatile=yes",
    "--bind-ro=/nix",
    // Servers the test package set takes from outside Debian (npm, PyPI, downloads: test/packages.json);
    // the volatile root has only the host's /usr.
    ...(existsSync("/opt/services-ts") ? ["--bind-ro=/opt/services-ts"] : []),
    // Debian's alternatives (/usr/bin/nc -> /etc/alternatives/nc -> nc.openbsd): the volatile /etc starts empty.
    ...(existsSync("/etc/alternatives") ? ["--bind-ro=/etc/alternatives"] : []),
    `--bind-ro=${join(etc, "system")}:/etc/systemd/system`,
    `--bind-ro=${join(etc, "sysusers.d")}:/etc/sysusers.d`,
    `--load-credential=sysusers.extra:${join(etc, "sysusers.d", "services-ts.conf")}`,
    // systemd.tmpfiles.rules, applied at boot by systemd-tmpfiles-setup (before sysinit.target, so before
    // every unit with default dependencies), as on NixOS (which also applies them on every switch).
    ...(tmpfiles ? [`--bind-ro=${join(etc, "tmpfiles.d")}:/etc/tmpfiles.d`] : []),
    `--bind=${opts.state}:/var/lib/services-ts`,
    ...(opts.binds ?? []).map((b) => `--bind=${b.host}:${b.container}`),
    "--private-network",
    "--register=no",
    "--keep-unit",
    `--machine=${name}`,
    "--boot",
    "systemd.firstboot=off",
    "systemd.unit=services-ts.target",
    "systemd.show_status=false",
  ];
  let output = "";
  const child: ChildProcess = spawn("systemd-nspawn", argv, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const ended = new Promise<void>((r) => child.once("exit", () => r()));
  let exited = false;
  void ended.then(() => (exited = true));

  let pid: number | undefined;
  // The container's PID 1 first: it runs in a session of its own, so killing nspawn's process
  // group alone leaves it (and every server in it) running, adopted by the host's PID 1; its
  // end ends its whole PID namespace.
  const kill = () => {
    if (exited || child.pid === undefined) return;
    for (const target of [pid, -child.pid]) {
      if (target === undefined) continue;
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  };
  liveContainers.add(kill);
  void ended.then(() => liveContainers.delete(kill));
  const cleanup = () => rmSync(etc, { recursive: true, force: true });

  const deadline = Date.now() + (opts.bootTimeoutSeconds ?? 60) * 1000;
  while (Date.now() < deadline && !exited) {
    pid ??= child.pid === undefined ? undefined : childPid(child.pid, "systemd");
    if (pid !== undefined) {
      // Up once its manager answers.
      const r = spawnSync("nsenter", ["-t", String(pid), "-a", "systemctl", "is-system-running"], { encoding: "utf8" });
      if (r.stdout.trim() !== "" && !r.stdout.includes("offline")) break;
    }
    await sleep(100);
  }
  if (pid === undefined || exited || Date.now() >= deadline) {
    kill();
    await Promise.race([ended, sleep(5000)]);
    cleanup();
    throw new Error(`systemd did not come up in the container ${name}:\n${output}`);
  }
  const leader = pid;
  const exec = (cmd: string[], timeoutMs = 30_000) => {
    const r = spawnSync("nsenter", ["-t", String(leader), "-a", ...cmd], { encoding: "utf8", timeout: timeoutMs });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  };
  return {
    name,
    pid: leader,
    console: () => output,
    exec,
    async stop(timeoutMs = 60_000) {
      if (!exited) exec(["systemctl", "poweroff", "--no-block"]);
      const done = await Promise.race([ended.then(() => true), sleep(timeoutMs).then(() => false)]);
      if (!done) {
        kill();
        await Promise.race([ended, sleep(5000)]);
      }
      cleanup();
    },
  };
}

/** `systemctl show` properties of a unit inside `c`. */
export function unitProperties(c: Container, unit: string, props: readonly string[]): Record<string, string> {
  const r = c.exec(["systemctl", "show", unit, ...props.map((p) => `--property=${p}`)]);
  return Object.fromEntries(
    r.stdout
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

/**
 * Waits until `unit` is active (for a oneshot with RemainAfterExit: finished well) or failed,
 * or inactive with no job left for it: a unit it requires failed, so systemd dropped its start
 * job and it will never run (state "inactive", result "success": not a pass). Without that last
 * case a broken server would hold the test for the whole timeout.
 * @returns its final ActiveState and Result, and its journal when it did not succeed.
 */
export async function waitForUnit(c: Container, unit: string, timeoutSeconds: number): Promise<{ state: string; result: string; seconds: number; journal: string }> {
  const t0 = Date.now();
  let idle = 0;
  for (;;) {
    const p = unitProperties(c, unit, ["ActiveState", "Result", "Job"]);
    const state = p.ActiveState ?? "";
    // Twice in a row, 200 ms apart: not a moment between a job's end and the next one's start.
    idle = state === "inactive" && (p.Job ?? "") === "" ? idle + 1 : 0;
    if (state === "active" || state === "failed" || idle >= 2 || Date.now() - t0 > timeoutSeconds * 1000) {
      const seconds = (Date.now() - t0) / 1000;
      const ok = state === "active" && p.Result === "success";
      return { state, result: p.Result ?? "", seconds, journal: ok ? "" : journal(c) };
    }
    await sleep(200);
  }
}

/** The container's journal of services-ts units, and the state of each (for failure reports). */
export function journal(c: Container): string {
  const units = c.exec(["systemctl", "list-units", "--all", "--no-pager", "--plain", "services-ts*"]).stdout;
  const log = c.exec(["journalctl", "--no-pager", "-o", "short-monotonic", "-u", "services-ts*"]).stdout;
  return `${units}\n${log.split("\n").slice(-150).join("\n")}`;
}

/** Runs `systemd-analyze verify` on every unit file of `dir` (a rendered `system/`); returns its complaints. */
export function verifyUnits(dir: string, files: readonly string[]): { status: number | null; output: string } {
  const r = spawnSync("systemd-analyze", ["verify", "--man=no", ...files.map((f) => join(dir, f))], {
    encoding: "utf8",
    env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

