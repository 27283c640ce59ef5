/**
 * redis under process-compose: a TCP instance and a Unix-socket-only instance,
 * both answering and keeping what is written to them.
 */
import { defineTest, process, script, sh } from "../dsl";
import redis from "./redis";

export default defineTest({
  name: "redis",
  services: { redis },
  instances: {
    redis: {
      r1: { port: 6391 },
      r2: { port: 0, unixSocket: "r2.sock" },
    },
  },
  // A second client in the stack: it writes while the test waits for it to succeed.
  processes: ({ cfg, pkgs }) => [
    process("writer", {
      command: script({
        name: "redis-writer",
        runtimeInputs: [cfg.redis.r1.package, pkgs.coreutils],
        text: sh`for i in $(seq 1 100); do redis-cli -p ${cfg.redis.r1.port} rpush written "$i" >/dev/null; done`,
      }),
      oneshot: true,
      dependsOn: [{ process: "r1", condition: "ready" }],
    }),
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [cfg.redis.r1.package, pkgs.gnugrep, pkgs.coreutils],
    text: sh`
      echo "r1: ping over TCP"
      redis-cli -p ${cfg.redis.r1.port} ping | grep -x PONG
      redis-cli -p ${cfg.redis.r1.port} set greeting "it's \\"quoted\\"" | grep -x OK
      test "$(redis-cli -p ${cfg.redis.r1.port} get greeting)" = "it's \\"quoted\\""
      echo "r1: the writer process's 100 pushes per start are all there"
      test "$(redis-cli -p ${cfg.redis.r1.port} llen written)" -eq $((100 * \${SERVICES_TS_RUN:-1}))

      echo "r1: data private to its user (0700, files 0600)"
      redis-cli -p ${cfg.redis.r1.port} save | grep -x OK
      test "$(stat -c %a ${cfg.redis.r1.dataDir})" = 700
      test "$(stat -c %a ${cfg.redis.r1.dataDir}/dump.rdb)" = 600

      echo "r2: ping over the Unix socket only"
      redis-cli -s ${cfg.redis.r2.dataDir}/r2.sock ping | grep -x PONG
      redis-cli -s ${cfg.redis.r2.dataDir}/r2.sock incr visits | grep -x "\${SERVICES_TS_RUN:-1}"
      echo "r2: no TCP listener (port 0)"
      redis-cli -s ${cfg.redis.r2.dataDir}/r2.sock config get port | grep -x 0
    `,
    dependsOn: [
      { process: "r1", condition: "ready" },
      { process: "r2", condition: "ready" },
      { process: "writer", condition: "succeeded" },
    ],
  }),
});
