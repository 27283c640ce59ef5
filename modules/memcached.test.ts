import { defineTest, sh } from "../dsl";
import memcached from "./memcached";

export default defineTest({
  name: "memcached",
  services: { memcached },
  instances: { memcached: { memcached1: { port: 21211 }, memcached2: { port: 21212, startArgs: ["--memory-limit=16"] } } },
  rendered: [
    { process: "memcached1", contains: ["--port=21211", "--listen=127.0.0.1"] },
    { process: "memcached2", contains: ["--port=21212", "--memory-limit=16"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.netcat, pkgs.gnugrep],
    // A set, then a get of the same key; and the second server's memory limit (16 MiB) as configured.
    text: sh`
      mc() { printf '%s\r\nquit\r\n' "$2" | nc -N 127.0.0.1 "$1"; }
      printf 'set greeting 0 0 5\r\nhello\r\nquit\r\n' | nc -N 127.0.0.1 ${cfg.memcached.memcached1.port} | grep -q '^STORED'
      mc ${cfg.memcached.memcached1.port} 'get greeting' | grep -q '^hello'
      mc ${cfg.memcached.memcached2.port} 'stats settings' | grep -q '^STAT maxbytes 16777216'
    `,
    dependsOn: [
      { process: "memcached1", condition: "ready" },
      { process: "memcached2", condition: "ready" },
    ],
  }),
});
