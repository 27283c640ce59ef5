import { defineTest, sh } from "../dsl";
import loki from "./loki";

export default defineTest({
  name: "loki",
  services: { loki },
  instances: {
    loki: {
      loki1: { httpAddress: "127.0.0.1", httpPort: 25320, grpcPort: 25321 },
      loki2: {
        httpPort: 25322,
        grpcPort: 25323,
        extraFlags: ["-log.level=warn"],
        extraConfig: { limits_config: { max_query_series: 123 } },
      },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep, pkgs.coreutils],
    // services-flake's test asks /ready; here a line pushed to loki1 is read back, and loki2's settings are served.
    text: sh`
      root=http://127.0.0.1:${cfg.loki.loki1.httpPort}
      curl -sSf "$root/ready" | grep -q ready
      now=$(date +%s%N)
      line="hello from run \${SERVICES_TS_RUN:-0}"
      push='{"streams":[{"stream":{"job":"services-ts-test"},"values":[["'"$now"'","'"$line"'"]]}]}'
      curl -sSf -H 'Content-Type: application/json' --data-raw "$push" "$root/loki/api/v1/push"
      for _ in $(seq 1 40); do
        query=(--data-urlencode 'query={job="services-ts-test"}' --data-urlencode "start=$((now - 60000000000))")
        if curl -sSfG "$root/loki/api/v1/query_range" "\${query[@]}" | grep -qF "$line"; then
          found=1
          break
        fi
        sleep 0.25
      done
      test "\${found:-}" = 1
      config=$(curl -sSf http://localhost:${cfg.loki.loki2.httpPort}/config)
      grep -q 'log_level: warn' <<<"$config"
      grep -q 'max_query_series: 123' <<<"$config"
    `,
    dependsOn: [
      { process: "loki1", condition: "ready" },
      { process: "loki2", condition: "ready" },
    ],
  }),
  rendered: [
    { process: "loki1", contains: ['"http_listen_address":"127.0.0.1"', '"http_listen_port":25320', '"grpc_listen_port":25321'] },
    { process: "loki2", contains: ['"http_listen_port":25322', '"grpc_listen_port":25323', '"max_query_series":123', "-log.level=warn"] },
  ],
});
