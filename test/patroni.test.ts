/**
 * `[run] patroni failover`: a two-node `services.patroni` cluster with
 * synchronous_mode, under real process-compose (Debian's Patroni, etcd,
 * HAProxy and PostgreSQL, as uid 65534 when the tests run as root), does what
 * an operator meets, in one run of the stack:
 * - failover: the leader's Patroni and PostgreSQL are killed (SIGKILL) while a
 *   writer commits through HAProxy's read-write port, and kept down; the other
 *   node is elected and writes resume through the same port; the figure is the
 *   seconds from the kill to the first write the new leader acknowledged;
 * - no write acknowledged before the kill is missing afterwards;
 * - the old leader, started again, comes back as a streaming replica (pg_rewind);
 * - `patronictl switchover` to a named member, measured the same way.
 * Restart and cluster identity are checked by modules/patroni.test.ts.
 */
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { type HaCluster, Writer, hardFailover, setProcessCompose, startCluster, switchover, waitFor } from "./support/ha-cluster";
import { join } from "node:path";
import { evalProcessComposeFull, nixAvailable, nixPath, repoRoot, upstreamSeeded } from "./support/nix";
import { installed, loadPackages } from "./support/packages";
import { findProcessCompose } from "./support/run";

const pc = findProcessCompose();
const pkgs = loadPackages();
const missing = [
  ...(nixAvailable() ? [] : ["nix (Debian package nix-bin)"]),
  ...(nixAvailable() && !upstreamSeeded() ? ["the pinned upstream sources (pnpm seed-upstream)"] : []),
  ...(pc ? [] : ["process-compose (bash test/tools/install-process-compose.sh)"]),
  ...["postgresql", "patroni", "etcd", "haproxy"].filter((p) => !installed(pkgs[p]!)).map((p) => `${p} (Debian package ${pkgs[p]!.debian.join(", ")})`),
];
if (missing.length > 0) console.warn(`[run] patroni failover skipped: missing ${missing.join("; ")}`);

let cluster: HaCluster | undefined;
afterAll(async () => {
  if (!cluster) return;
  // Reached only when the test failed half-way: the stack's output, and its directory kept for inspection.
  const result = await cluster.finish(1);
  console.error(`---- patroni failover stack exited ${result.code} in ${cluster.workDir}; its output:\n${result.output}`);
});

describe.skipIf(missing.length > 0)("[run] patroni failover: kill -9 of the leader, rejoin, switchover (synchronous_mode, one stack)", () => {
  it("patroni: failover after kill -9 of the leader's Patroni and PostgreSQL loses no acknowledged write; the old leader rejoins; switchover to a named member", async () => {
    setProcessCompose(pc!);
    cluster = await startCluster({ synchronousMode: true });
    const c = cluster;
    const writer = new Writer(c, c.ports.rw);
    writer.start();
    try {
      const failover = await hardFailover(c, writer);
      console.log(`[patroni] failover ${failover.oldLeader} → ${failover.newLeader}: ${failover.seconds.toFixed(2)} s from SIGKILL to the first write acknowledged by the new leader`);
      expect(failover.newLeader).not.toBe(failover.oldLeader);
      // ttl (6 s) + loop_wait (1 s) is the floor; a loaded machine adds some.
      expect(failover.seconds).toBeLessThan(20);

      // Every write acknowledged so far is on the new leader (synchronous_mode: none was only on the old one).
      const acked = writer.acks.map((a) => a.id);
      const present = new Set(c.sql(c.ports.rw, "SELECT id FROM writes")!.split("\n").map(Number));
      const lost = acked.filter((id) => !present.has(id));
      console.log(`[patroni] ${acked.length} writes acknowledged, ${lost.length} missing after failover`);
      expect(acked.length).toBeGreaterThan(0);
      expect(lost).toEqual([]);

      // The old leader, started again, rejoins as a streaming replica of the new one.
      const t = Date.now();
      expect(await c.api("POST", `/process/start/${c.name}-${failover.oldLeader}`)).toBe(200);
      await waitFor(
        "the old leader streaming from the new one",
        () => c.sql(c.ports.nodes[failover.newLeader]!.port, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") === "1",
        120_000,
        200,
      );
      expect(c.sql(c.ports.nodes[failover.oldLeader]!.port, "SELECT pg_is_in_recovery()")).toBe("t");
      console.log(`[patroni] ${failover.oldLeader} rejoined as a replica ${((Date.now() - t) / 1000).toFixed(1)} s after its start`);

      // A planned switchover back to the old leader, by name.
      const sw = await switchover(c, writer, failover.oldLeader, { synchronousMode: true });
      console.log(`[patroni] switchover ${sw.from} → ${sw.to}: ${sw.seconds.toFixed(2)} s from patronictl to the first write acknowledged by ${sw.to}`);
      expect(sw.seconds).toBeLessThan(10);
      expect(await c.leader()).toBe(failover.oldLeader);
    } finally {
      writer.stop();
    }
    const final = new Set(c.sql(c.ports.rw, "SELECT id FROM writes")!.split("\n").map(Number));
    expect(writer.acks.filter((a) => !final.has(a.id))).toEqual([]);

    const result = await c.finish(0);
    cluster = undefined;
    expect(result.code).toBe(0);
    expect(result.timedOut).toBe(false);
    // The old leader's timeline had diverged (its crash recovery wrote past the new leader's fork): Patroni rewound it.
    expect(result.output).toMatch(/running pg_rewind from|pg_rewind: Done!/);
    rmSync(c.workDir, { recursive: true, force: true });
  }, 600_000);
});

describe.skipIf(missing.length > 0)("[run] patroni three nodes", () => {
  it("patroni: three nodes bootstrap two streaming replicas; after kill -9 of the leader one is elected and the other follows it", async () => {
    setProcessCompose(pc!);
    cluster = await startCluster({
      name: "trio",
      ports: {
        nodes: { a: { port: 26532, restApiPort: 28208 }, b: { port: 26533, restApiPort: 28209 }, c: { port: 26534, restApiPort: 28210 } },
        etcdClient: 22679,
        etcdPeer: 22680,
        rw: 26100,
        ro: 26101,
      },
    });
    const c = cluster;
    const writer = new Writer(c, c.ports.rw);
    writer.start();
    let failover;
    try {
      failover = await hardFailover(c, writer);
    } finally {
      writer.stop();
    }
    console.log(`[patroni] three nodes: failover ${failover.oldLeader} → ${failover.newLeader} in ${failover.seconds.toFixed(2)} s`);
    // The remaining replica streams from the new leader.
    await waitFor(
      "the third node streaming from the new leader",
      () => c.sql(c.ports.nodes[failover.newLeader]!.port, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") === "1",
      60_000,
      200,
    );
    const result = await c.finish(0);
    cluster = undefined;
    expect(result.code).toBe(0);
    expect(result.timedOut).toBe(false);
    rmSync(c.workDir, { recursive: true, force: true });
  }, 300_000);
});

const evalMissing = nixAvailable() && upstreamSeeded() ? [] : ["nix and the pinned upstream sources"];
if (evalMissing.length > 0) console.warn(`[nix eval] patroni clusters skipped: missing ${evalMissing.join("; ")}`);

describe.skipIf(evalMissing.length > 0)("[nix eval] patroni: two clusters in one stack", () => {
  const evalWith = (config: string) => evalProcessComposeFull(`[ ${nixPath(join(repoRoot, "generated", "default.nix"))} ${config} ]`);

  it("patroni: two clusters on the default ports are refused at evaluation, naming the port and both options", () => {
    expect(() => evalWith("{ services.patroni.a.enable = true; services.patroni.b.enable = true; }")).toThrow(
      /port 2379 is set for both services\.etcd\."a-etcd"\.members\.m1\.clientPort and services\.etcd\."b-etcd"\.members\.m1\.clientPort/,
    );
    // With their own etcd ports but the same HAProxy and node ports, the next clash is named.
    expect(() =>
      evalWith(`{ services.patroni.a.enable = true; services.patroni.b = { enable = true; etcdInstance = "a-etcd"; }; }`),
    ).toThrow(/port (5432|5433|8008|8009|5000|5001) is set for both/);
  });

  it("patroni and haproxy: a user name that is no environment variable name, and a haproxy directive with a line break, are refused naming the option", () => {
    expect(() => evalWith(`{ services.patroni.a = { enable = true; users."app-user".passwordFile = "./pw"; }; }`)).toThrow(
      /services\.patroni\."a": users: a user name holds a character other than letters, digits and _/,
    );
    expect(() =>
      evalWith(`{ services.haproxy.lb = { enable = true; settings.proxies."listen x" = [ "bind 127.0.0.1:7000\\nlisten evil" ]; }; }`),
    ).toThrow(/services\.haproxy\."lb": a directive or section header in settings .* holds a line break/);
  });

  it("patroni: a second cluster on its own ports shares the first one's etcd by name (etcdInstance) and runs no etcd of its own", () => {
    const ev = evalWith(`{
      services.patroni.a.enable = true;
      services.patroni.b = {
        enable = true;
        etcdInstance = "a-etcd";
        nodes = { node1 = { port = 6432; restApiPort = 9008; }; node2 = { port = 6433; restApiPort = 9009; }; };
        haproxy = { port = 6000; replicaPort = 6001; };
      };
    }`);
    const procs = Object.keys(ev.settings.processes ?? {}).sort();
    expect(procs).toEqual(
      ["a-credentials", "a-etcd-m1", "a-haproxy", "a-node1", "a-node2", "b-credentials", "b-haproxy", "b-node1", "b-node2"].sort(),
    );
    expect(Object.keys(ev.settings.processes!["b-node1"]!.depends_on ?? {})).toContain("a-etcd-m1");
  });
});
