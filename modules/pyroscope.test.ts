import { defineTest, sh } from "../dsl";
import pyroscope from "./pyroscope";

export default defineTest({
  name: "pyroscope",
  services: { pyroscope },
  instances: {
    pyroscope: {
      py1: { httpPort: 25350, grpcPort: 25351, memberlistPort: 25352 },
      py2: { httpPort: 25355, grpcPort: 25356, memberlistPort: 25357, extraConfig: { self_profiling: { disable_push: true } }, extraFlags: ["-log.level=warn"] },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep, pkgs.coreutils],
    // services-flake's test asks /ready; here a profile ingested in the folded format is read back as a flame graph.
    text: sh`
      root=http://127.0.0.1:${cfg.pyroscope.py1.httpPort}
      curl -sSf "$root/ready" | grep -q ready
      now=$(date +%s)
      printf 'services_ts_main;services_ts_leaf 100\n' |
        curl -sSf --data-binary @- "$root/ingest?name=services-ts-test.cpu&from=$((now - 10))&until=$now&format=folded&spyName=gospy&sampleRate=100"
      for _ in $(seq 1 60); do
        if curl -sSfG "$root/pyroscope/render" --data-urlencode 'query=services-ts-test.cpu{}' --data-urlencode from=now-1h --data-urlencode until=now | grep -q services_ts_leaf; then
          found=1
          break
        fi
        sleep 0.5
      done
      test "\${found:-}" = 1
      curl -sSf http://127.0.0.1:${cfg.pyroscope.py2.httpPort}/ready | grep -q ready
    `,
    dependsOn: [
      { process: "py1", condition: "ready" },
      { process: "py2", condition: "ready" },
    ],
  }),
  rendered: [
    { process: "py1", contains: ['"http_listen_port":25350', '"grpc_listen_port":25351', '"bind_port":25352', '"grpc_listen_address":"127.0.0.1"'] },
    { process: "py2", contains: ['"http_listen_port":25355', '"grpc_listen_port":25356', '"bind_port":25357', '"disable_push":true', "-log.level=warn"] },
  ],
});
