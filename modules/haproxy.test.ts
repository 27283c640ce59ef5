/**
 * HAProxy under process-compose, in front of a Redis server: a SET and a GET
 * through the proxy's port reach Redis, the statistics page lists the server
 * as UP, and a second instance (no stats page) runs beside the first.
 */
import { defineTest, sh } from "../dsl";
import haproxy from "./haproxy";
import redis from "./redis";

export default defineTest({
  name: "haproxy",
  services: { haproxy, redis },
  instances: {
    redis: { backend: { port: 23379 } },
    haproxy: {
      lb: {
        ports: [23300],
        settings: {
          proxies: { "listen redis": ["bind 127.0.0.1:23300", "option tcp-check", "server r1 127.0.0.1:23379 check inter 200ms"] },
        },
        stats: { enable: true, port: 23404 },
      },
      lb2: {
        ports: [23301],
        settings: { global: ["maxconn 50"], proxies: { "frontend in": ["bind 127.0.0.1:23301", "default_backend out"], "backend out": ["server r1 127.0.0.1:23379"] } },
      },
    },
  },
  rendered: [
    { process: "lb", contains: ["listen redis\n    bind 127.0.0.1:23300\n", "frontend stats\n    bind 127.0.0.1:23404\n"] },
    { process: "lb2", contains: ["global\n    stats socket", "    maxconn 50\n", "defaults\n    mode tcp\n"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [cfg.redis.backend.package, pkgs.curl, pkgs.netcat, pkgs.gnugrep, pkgs.coreutils],
    text: sh`
      run=\${SERVICES_TS_RUN:-1}
      redis-cli -p 23300 set "through-lb-$run" yes | grep -x OK
      redis-cli -p 23379 get "through-lb-$run" | grep -x yes
      redis-cli -p 23301 get "through-lb-$run" | grep -x yes
      # The statistics page (CSV) shows the backend server, checked and UP.
      for _ in $(seq 1 50); do
        if curl -fsS 'http://127.0.0.1:23404/stats;csv' | grep -q '^redis,r1,.*,UP,'; then break; fi
        sleep 0.1
      done
      curl -fsS 'http://127.0.0.1:23404/stats;csv' | grep '^redis,r1,' | grep -q ',UP,'
      # lb2's global section reached HAProxy: its admin socket reports the configured maxconn.
      echo 'show info' | nc -U data/lb2/haproxy.sock | grep -x 'Maxconn: 50'
    `,
    dependsOn: [
      { process: "backend", condition: "ready" },
      { process: "lb", condition: "ready" },
      { process: "lb2", condition: "ready" },
    ],
  }),
});
