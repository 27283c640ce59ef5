/**
 * redis-benchmark under process-compose: a load test on a redis instance
 * (set and get, pipelined, thresholds it meets) and one on a redis-cluster
 * instance (`--cluster`); both write report.json with a row per command, and
 * the keys they set are in the servers.
 */
import { defineTest, sh } from "../dsl";
import redis from "./redis";
import redisBenchmark from "./redis-benchmark";
import redisCluster from "./redis-cluster";

export default defineTest({
  name: "redis-benchmark",
  services: { redis, "redis-cluster": redisCluster, "redis-benchmark": redisBenchmark },
  instances: {
    redis: { cache: { port: 16501 } },
    "redis-cluster": { kv: { nodes: Object.fromEntries([1, 2, 3, 4, 5, 6].map((i) => [`n${i}`, { port: 16510 + i }])) } },
    "redis-benchmark": {
      "cache-load": { target: "cache", tests: ["set", "get"], clients: 10, requests: 5000, pipeline: 4, keyspace: 1000, minTps: 500, maxP99Ms: 500, maxErrors: 0 },
      "kv-load": { target: "kv", cluster: true, tests: ["set"], clients: 6, requests: 3000, maxErrors: 0 },
    },
  },
  rendered: [
    { process: "cache-load", contains: ["-t set,get", "-P 4", "-r 1000"] },
    { process: "kv-load", contains: ["--cluster"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [cfg.redis.cache.package, pkgs.jq],
    text: sh`
      for r in ./data/cache-load/report.json ./data/kv-load/report.json; do
        echo "$r:"; cat "$r"
        jq -e '.ok == true and .errors == 0 and .tps > 0 and .failures == []
          and (.latencyMs | .p50 > 0 and .p99 >= .p50 and .max >= .p99)' "$r"
      done
      jq -e '[.details.commands[].test] == ["SET", "GET"] and .thresholds.minTps == 500' ./data/cache-load/report.json
      jq -e '[.details.commands[].test] == ["SET"] and .target == "kv"' ./data/kv-load/report.json
      test "$(redis-cli -p ${cfg.redis.cache.port} dbsize)" -gt 0
      test "$(redis-cli -c -p 16511 cluster countkeysinslot 0)" -ge 0
    `,
    dependsOn: [
      { process: "cache-load", condition: "succeeded" },
      { process: "kv-load", condition: "succeeded" },
    ],
  }),
});
