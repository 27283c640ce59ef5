/**
 * Drives a `services.patroni` cluster under real process-compose as an operator
 * would: a writer loop committing through HAProxy's read-write port, a leader
 * killed with SIGKILL (Patroni and its PostgreSQL) and kept down through
 * process-compose's API, a `patronictl switchover`, and the figures they take.
 * Used by test/patroni.test.ts and `pnpm bench:failover`.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, chmodSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { evalProcessComposeFull, nixPath, repoRoot } from "./nix";
import { type RunResult, runProcessCompose } from "./run";

/** Ports of one test cluster: two nodes, its own etcd, HAProxy's two ports. */
export interface HaPorts {
  readonly nodes: Readonly<Record<string, { port: number; restApiPort: number }>>;
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly rw: number;
  readonly ro: number;
}

export const defaultHaPorts: HaPorts = {
  nodes: { n1: { port: 26432, restApiPort: 28108 }, n2: { port: 26433, restApiPort: 28109 } },
  etcdClient: 22579,
  etcdPeer: 22580,
  rw: 26000,
  ro: 26001,
};

const pgBin = (() => {
  const root = "/usr/lib/postgresql";
  const major = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a))[0] : undefined;
  return major ? join(root, major, "bin") : "/usr/bin";
})();

/** A running cluster: its directory, the process-compose run (settles when the stack ends) and helpers. */
export interface HaCluster {
  readonly name: string;
  readonly ports: HaPorts;
  readonly workDir: string;
  readonly run: Promise<RunResult>;
  /** The superuser password the cluster made (read from its 0600 file). */
  password(): string;
  /** Runs SQL through a port; the trimmed output, or null when psql failed. */
  sql(port: number, query: string): string | null;
  /** The node whose REST API answers 200 on /primary, or null. */
  leader(): Promise<string | null>;
  /** process-compose's API: stop or start a process. */
  api(method: "PATCH" | "POST", path: string): Promise<number>;
  /** Ends the stack: the test process exits with `code`. */
  finish(code: number): Promise<RunResult>;
}

/** GET a URL on loopback; the status code, or 0 when nothing answers. */
export function httpStatus(port: number, path: string, socketPath?: string, method = "GET"): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, method, socketPath, timeout: 2000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => {
      req.destroy();
      resolve(0);
    });
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` every `everyMs` until it returns a value other than null/false, or `timeoutMs` pass (then throws `what`). */
export async function waitFor<T>(what: string, f: () => Promise<T | null | false> | T | null | false, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null && v !== false) return v;
    if (performance.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Evaluates and starts a two-node cluster `name` (synchronous_mode as given,
 * other options at their defaults) with a `test` process that waits for
 * {@link HaCluster.finish}, and waits until a leader and a streaming replica
 * are behind HAProxy's ports.
 */
export async function startCluster(
  opts: { name?: string; ports?: HaPorts; synchronousMode?: boolean; extra?: string; timeoutSeconds?: number } = {},
): Promise<HaCluster> {
  const name = opts.name ?? "ha";
  const ports = opts.ports ?? defaultHaPorts;
  const nodes = Object.entries(ports.nodes)
    .map(([n, p]) => `${n} = { port = ${p.port}; restApiPort = ${p.restApiPort}; };`)
    .join(" ");
  const workDir = mkdtempSync(join(tmpdir(), "services-ts-ha-"));
  chmodSync(workDir, 0o777);
  const cluster = `{
    services.patroni.${name} = {
      enable = true;
      nodes = { ${nodes} };
      haproxy = { port = ${ports.rw}; replicaPort = ${ports.ro}; };
      etcdClientPort = ${ports.etcdClient};
      etcdPeerPort = ${ports.etcdPeer};
      synchronous_mode = ${opts.synchronousMode ? "true" : "false"};
      ${opts.extra ?? ""}
    };
    settings.processes.test = {
      command = "while [ ! -e done ]; do sleep 0.2; done; exit \\"$(cat done)\\"";
      depends_on = { ${Object.keys(ports.nodes).map((n) => `"${name}-${n}".condition = "process_healthy";`).join(" ")} "${name}-haproxy".condition = "process_healthy"; };
    };
  }`;
  const ev = evalProcessComposeFull(`[ ${nixPath(join(repoRoot, "generated", "default.nix"))} ${cluster} ]`);
  const socket = join(workDir, "pc.sock");
  const run = runProcessCompose(findPc(), ev, { workDir, apiSocket: "pc.sock", timeoutSeconds: opts.timeoutSeconds ?? 300 });
  let password: string | undefined;
  const c: HaCluster = {
    name,
    ports,
    workDir,
    run,
    password() {
      password ??= readFileSync(join(workDir, "data", name, "superuser.password"), "utf8").trim();
      return password;
    },
    sql(port, query) {
      const r = spawnSync(join(pgBin, "psql"), ["-X", "-At", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", query], {
        encoding: "utf8",
        env: { ...process.env, PGPASSWORD: c.password(), PGCONNECT_TIMEOUT: "2" },
        timeout: 10_000,
      });
      return r.status === 0 ? r.stdout.trim() : null;
    },
    async leader() {
      for (const [n, p] of Object.entries(ports.nodes)) if ((await httpStatus(p.restApiPort, "/primary")) === 200) return n;
      return null;
    },
    api: (method, path) => httpStatus(0, path, socket, method),
    async finish(code) {
      writeFileSync(join(workDir, "done"), String(code));
      return run;
    },
  };
  await waitFor("the superuser password file", () => existsSync(join(workDir, "data", name, "superuser.password")), 120_000);
  await waitFor(
    "a leader on the read-write port, every other node streaming from it, and a replica on the read-only port",
    async () => {
      const settled = () =>
        c.sql(ports.rw, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") === String(Object.keys(ports.nodes).length - 1) &&
        c.sql(ports.ro, "SELECT pg_is_in_recovery()") === "t";
      return settled() && (await sleep(600), settled());
    },
    180_000,
    200,
  );
  return c;
}

let pcPath: string | undefined;
/** The process-compose binary (set by the caller, which has checked it runs). */
export function setProcessCompose(p: string): void {
  pcPath = p;
}
function findPc(): string {
  if (!pcPath) throw new Error("setProcessCompose() first");
  return pcPath;
}

/** One acknowledged write: when psql returned, the id, and which node's port took it. */
export interface Ack {
  readonly at: number;
  readonly id: number;
  readonly port: number;
}

/** A loop committing one row per transaction through `port` (a new connection each), recording every acknowledgement. */
export class Writer {
  private child: ChildProcess | undefined;
  private buf = "";
  readonly acks: Ack[] = [];
  readonly failures: number[] = [];
  constructor(
    private readonly cluster: HaCluster,
    private readonly port: number,
  ) {}

  start(table = "writes"): void {
    this.cluster.sql(this.port, `CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, port int)`);
    const script = `
      i=0
      while :; do
        i=$((i + 1))
        if out=$("$PSQL" -X -At -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "INSERT INTO ${table} VALUES ($i, inet_server_port()) RETURNING id, port" 2>/dev/null); then
          echo "ack $(date +%s.%N) $out"
        else
          echo "fail $(date +%s.%N) $i"
        fi
        sleep 0.02
      done`;
    this.child = spawn("bash", ["-c", script], {
      env: { ...process.env, PSQL: join(pgBin, "psql"), PORT: String(this.port), PGPASSWORD: this.cluster.password(), PGCONNECT_TIMEOUT: "1" },
      stdio: ["ignore", "pipe", "ignore"],
    });
    this.child.stdout!.on("data", (d: Buffer) => {
      this.buf += d.toString();
      const lines = this.buf.split("\n");
      this.buf = lines.pop()!;
      for (const l of lines) {
        const [kind, at, rest] = l.split(" ");
        if (kind === "ack") {
          const [id, port] = rest!.split("|").map(Number);
          this.acks.push({ at: Number(at) * 1000, id: id!, port: port! });
        } else if (kind === "fail") this.failures.push(Number(at) * 1000);
      }
    });
  }

  /** The first acknowledgement after `t` (epoch ms) by a node other than on `notPort`, waited for. */
  firstAckAfter(t: number, notPort?: number, timeoutMs = 60_000): Promise<Ack> {
    return waitFor(
      "a write acknowledged after the fault",
      () => this.acks.find((a) => a.at > t && a.port !== notPort) ?? null,
      timeoutMs,
      20,
    );
  }

  stop(): void {
    this.child?.kill("SIGTERM");
  }
}

/** The pids of a node's Patroni and PostgreSQL (from the pid files in its data directory). */
export function nodePids(c: HaCluster, node: string): { patroni: number; postgres: number } {
  const dir = join(c.workDir, "data", c.name, node);
  return {
    patroni: Number(readFileSync(join(dir, "patroni.pid"), "utf8").trim()),
    postgres: Number(readFileSync(join(dir, "pgdata", "postmaster.pid"), "utf8").split("\n")[0]),
  };
}

/** The store path of the Patroni configuration a node runs with (for patronictl). */
export function nodeConfig(c: HaCluster, node: string): string {
  const cmdline = readFileSync(`/proc/${nodePids(c, node).patroni}/cmdline`, "utf8").split("\0");
  const conf = cmdline.find((a) => a.startsWith("/nix/store/") && a.endsWith(".yml"));
  if (!conf) throw new Error(`no configuration in ${node}'s command line: ${cmdline.join(" ")}`);
  return conf;
}

/** What a hard failover took. */
export interface FailoverResult {
  readonly oldLeader: string;
  readonly newLeader: string;
  /** Seconds from the SIGKILL to the first write acknowledged by the new leader through the read-write port. */
  readonly seconds: number;
}

/**
 * Kills the leader's Patroni and PostgreSQL with SIGKILL while `writer` commits,
 * and stops its process in process-compose so that it is not restarted (a lost
 * machine); waits for a write acknowledged by another node.
 */
export async function hardFailover(c: HaCluster, writer: Writer): Promise<FailoverResult> {
  const oldLeader = await waitFor("a leader", () => c.leader());
  const pids = nodePids(c, oldLeader);
  const oldPort = c.ports.nodes[oldLeader]!.port;
  // Some writes acknowledged before the fault (at least 2 s of them), so that losing one would show.
  await waitFor("writes through the read-write port before the fault", () => (writer.acks.length > 0 && Date.now() - writer.acks[0]!.at > 2000) || null);
  const t0 = Date.now();
  process.kill(pids.patroni, "SIGKILL");
  process.kill(pids.postgres, "SIGKILL");
  await c.api("PATCH", `/process/stop/${c.name}-${oldLeader}`);
  const ack = await writer.firstAckAfter(t0, oldPort, 120_000);
  const newLeader = Object.entries(c.ports.nodes).find(([, p]) => p.port === ack.port)![0];
  return { oldLeader, newLeader, seconds: (ack.at - t0) / 1000 };
}

/** What a planned switchover took. */
export interface SwitchoverResult {
  readonly from: string;
  readonly to: string;
  /** Seconds from running `patronictl switchover` to the first write the new leader acknowledged. */
  readonly seconds: number;
  readonly output: string;
}

/** `patronictl switchover --candidate <to>` while `writer` commits. */
export async function switchover(c: HaCluster, writer: Writer, to: string, opts: { synchronousMode?: boolean } = {}): Promise<SwitchoverResult> {
  const from = await waitFor("a leader", () => c.leader());
  // With synchronous_mode, Patroni switches over only to the synchronous standby: a request made before the
  // leader has named it (it does a loop or two after the replica starts streaming) is ignored.
  const rest = c.ports.nodes[to]!.restApiPort;
  if (opts.synchronousMode) await waitFor(`${to} to be the synchronous standby`, async () => (await httpStatus(rest, "/sync")) === 200, 60_000, 200);
  else await waitFor(`${to} to be a running replica`, async () => (await httpStatus(rest, "/replica")) === 200, 60_000, 200);
  const conf = nodeConfig(c, from);
  const t0 = Date.now();
  const r = spawnSync("patronictl", ["-c", conf, "switchover", "--leader", from, "--candidate", to, "--force", c.name], { encoding: "utf8", timeout: 60_000 });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`patronictl switchover failed (${r.status}):\n${output}`);
  const ack = await writer.firstAckAfter(t0, c.ports.nodes[from]!.port, 60_000).catch((e: Error) => {
    throw new Error(`${e.message}; patronictl said:\n${output}`);
  });
  return { from, to, seconds: (ack.at - t0) / 1000, output };
}
