/**
 * redis-cluster under process-compose: six nodes form 3 masters + 3 replicas,
 * `--cluster check` passes, a key written through one node is read through
 * another, and on the second start the cluster (and the key) is still there.
 */
import { defineTest, sh } from "../dsl";
import redisCluster from "./redis-cluster";

export default defineTest({
  name: "redis-cluster",
  services: { "redis-cluster": redisCluster },
  instances: {
    "redis-cluster": {
      c1: {
        nodes: Object.fromEntries([1, 2, 3, 4, 5, 6].map((i) => [`n${i}`, { port: 21000 + i }])),
      },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [cfg["redis-cluster"].c1.package, pkgs.gnugrep, pkgs.coreutils],
    text: sh`
      run=\${SERVICES_TS_RUN:-1}
      redis-cli --cluster check 127.0.0.1:21001
      test "$(redis-cli -p 21001 cluster info | grep -c '^cluster_size:3')" = 1
      # Three masters with a replica each, every node agreeing (once gossip has spread the roles: at most 10 s).
      agreed() {
        for port in 21001 21002 21003 21004 21005 21006; do
          test "$(redis-cli -p "$port" cluster nodes | grep -c master)" = 3 || return 1
          test "$(redis-cli -p "$port" cluster nodes | grep -c slave)" = 3 || return 1
        done
      }
      for _ in $(seq 1 100); do agreed && break; sleep 0.1; done
      agreed
      if [[ $run == 1 ]]; then
        redis-cli -c -p 21001 set "user:{42}" "it's \\"here\\""
      fi
      test "$(redis-cli -c -p 21004 get "user:{42}")" = "it's \\"here\\""
      test "$(redis-cli -c -p 21006 get "user:{42}")" = "it's \\"here\\""
    `,
    dependsOn: [{ process: "c1-cluster-create", condition: "succeeded" }],
  }),
});
