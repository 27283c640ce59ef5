/**
 * pgbench under process-compose: one load test on a plain postgres instance
 * (by duration, two clients, thresholds it meets), one read-only load test on a
 * postgres-with-replica's replica (a custom script, a transaction count); both
 * write report.json with the documented fields, and the replica run's tables
 * came from the primary. The plain instance has hardenedAuth: pgbench reads
 * the superuser password from its file.
 */
import { defineTest, sh } from "../dsl";
import pgbench from "./pgbench";
import postgres from "./postgres";
import postgresWithReplica from "./postgres-with-replica";

export default defineTest({
  name: "pgbench",
  services: { postgres, "postgres-with-replica": postgresWithReplica, pgbench },
  instances: {
    // hardenedAuth: over TCP the load test needs the superuser password, which it reads from its file.
    postgres: { pg: { port: 5497, hardenedAuth: true } },
    "postgres-with-replica": { db: { port: 5498, replicaPort: 5499 } },
    pgbench: {
      bench: { target: "pg", scale: 1, clients: 2, duration: 2, minTps: 5, maxP99Ms: 2000, maxErrors: 0 },
      "bench-replica": {
        target: "db",
        replica: true,
        transactions: 50,
        script: "\\set aid random(1, 100000 * :scale)\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n",
        maxErrors: 0,
      },
    },
  },
  rendered: [{ process: "bench", contains: ["-b tpcb-like", "-T 2", "--min-tps 5"] }],
  test: ({ pkgs }) => ({
    runtimeInputs: [pkgs.jq, pkgs.gnugrep],
    text: sh`
      for r in ./data/bench/report.json ./data/bench-replica/report.json; do
        echo "$r:"; cat "$r"
        jq -e '.ok == true and .errors == 0 and .tps > 0 and .requests > 0
          and (.latencyMs | .avg > 0 and .p50 > 0 and .p95 >= .p50 and .p99 >= .p95 and .max >= .p99)
          and (.failures == []) and (.thresholds | has("minTps") and has("maxP99Ms") and has("maxErrors"))' "$r"
      done
      jq -e '.tool == "pgbench" and .target == "pg" and .thresholds.minTps == 5 and .details.clients == 2' ./data/bench/report.json
      # The replica ran 50 transactions: the tables reached it from the primary.
      jq -e '.target == "db-replica" and .requests == 50' ./data/bench-replica/report.json
    `,
    dependsOn: [
      { process: "bench", condition: "succeeded" },
      { process: "bench-replica", condition: "succeeded" },
    ],
  }),
});
