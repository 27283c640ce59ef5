/**
 * `pnpm bench:failover [runs]`: starts a two-node `services.patroni` cluster
 * with the module's default timings (ttl, loop_wait, retry_timeout,
 * synchronous_mode off) under real process-compose, then `runs` times (default
 * 5): kills the leader's Patroni and PostgreSQL with SIGKILL while a writer
 * commits through HAProxy's read-write port, measures seconds to the first
 * write the new leader acknowledges, starts the old leader again and waits
 * for it to stream. Then as many `patronictl switchover`s, measured the same
 * way. Prints every figure and the medians.
 */
import { cpus } from "node:os";
import { rmSync } from "node:fs";
import { Writer, hardFailover, setProcessCompose, startCluster, switchover, waitFor } from "../support/ha-cluster";
import { findProcessCompose } from "../support/run";

const runs = Number(process.argv[2] ?? 5);
const pc = findProcessCompose();
if (!pc) {
  console.error("bench:failover needs process-compose (bash test/tools/install-process-compose.sh)");
  process.exit(2);
}
setProcessCompose(pc);
process.env.NIX_REMOTE ??= "local";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const c = await startCluster({ timeoutSeconds: 120 + runs * 90 });
const writer = new Writer(c, c.ports.rw);
writer.start();
const failovers: number[] = [];
const switchovers: number[] = [];
let code = 0;
try {
  for (let i = 1; i <= runs; i++) {
    const f = await hardFailover(c, writer);
    failovers.push(f.seconds);
    console.log(`failover ${i}: ${f.oldLeader} → ${f.newLeader} in ${f.seconds.toFixed(2)} s (SIGKILL → first write acknowledged by ${f.newLeader})`);
    await c.api("POST", `/process/start/${c.name}-${f.oldLeader}`);
    await waitFor(
      `${f.oldLeader} streaming again`,
      () => c.sql(c.ports.nodes[f.newLeader]!.port, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") === "1",
      120_000,
      200,
    );
  }
  for (let i = 1; i <= runs; i++) {
    const leader = await waitFor("a leader", () => c.leader());
    const to = Object.keys(c.ports.nodes).find((n) => n !== leader)!;
    const s = await switchover(c, writer, to);
    switchovers.push(s.seconds);
    console.log(`switchover ${i}: ${s.from} → ${s.to} in ${s.seconds.toFixed(2)} s (patronictl → first write acknowledged by ${s.to})`);
    await waitFor(
      `${s.from} streaming again`,
      () => c.sql(c.ports.nodes[s.to]!.port, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") === "1",
      120_000,
      200,
    );
  }
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  writer.stop();
}
const result = await c.finish(code);
if (code === 0 && result.code === 0) rmSync(c.workDir, { recursive: true, force: true });
else console.error(`the stack exited ${result.code}; its directory is kept: ${c.workDir}`);

console.log(
  `\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}; defaults: ttl 6 s, loop_wait 1 s, retry_timeout 2 s, HAProxy checks every 250 ms (fall 2, rise 1)`,
);
if (failovers.length) console.log(`failover (kill -9 of the leader): median ${median(failovers).toFixed(2)} s over ${failovers.length} runs (min ${Math.min(...failovers).toFixed(2)}, max ${Math.max(...failovers).toFixed(2)})`);
if (switchovers.length) console.log(`switchover (patronictl): median ${median(switchovers).toFixed(2)} s over ${switchovers.length} runs (min ${Math.min(...switchovers).toFixed(2)}, max ${Math.max(...switchovers).toFixed(2)})`);
process.exit(code || (result.code ?? 1));
