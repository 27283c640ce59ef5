import { defineTest, sh } from "../dsl";
import tempo from "./tempo";

const traceId = "5b8efff798038103d269b633813fc60c";

export default defineTest({
  name: "tempo",
  services: { tempo },
  instances: {
    tempo: {
      // An OTLP/HTTP receiver, to send it a span.
      tempo1: {
        httpAddress: "127.0.0.1",
        httpPort: 25330,
        grpcPort: 25331,
        memberlistPort: 25332,
        extraConfig: { distributor: { receivers: { otlp: { protocols: { http: { endpoint: "127.0.0.1:25333" } } } } } },
      },
      tempo2: { httpPort: 25335, grpcPort: 25336, memberlistPort: 25337, extraFlags: ["-log.level=warn"] },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep, pkgs.coreutils],
    // services-flake's test asks /status/version; here a span sent over OTLP is found by its trace ID.
    text: sh`
      root=http://127.0.0.1:${cfg.tempo.tempo1.httpPort}
      curl -sSf "$root/status/version" | grep -q 'tempo, version'
      start=$(date +%s%N)
      span='{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"services-ts-test"}}]},"scopeSpans":[{"spans":[{"traceId":"${traceId}","spanId":"eee19b7ec3c1b174","name":"services-ts-span","kind":1,"startTimeUnixNano":"'"$start"'","endTimeUnixNano":"'"$((start + 1000000))"'"}]}]}]}'
      curl -sSf -H 'Content-Type: application/json' --data-raw "$span" http://127.0.0.1:25333/v1/traces
      for _ in $(seq 1 60); do
        if curl -sSf "$root/api/traces/${traceId}" | grep -q services-ts-span; then
          found=1
          break
        fi
        sleep 0.5
      done
      test "\${found:-}" = 1
      curl -sSf http://localhost:${cfg.tempo.tempo2.httpPort}/status/config | grep -q 'log_level: warn'
    `,
    dependsOn: [
      { process: "tempo1", condition: "ready" },
      { process: "tempo2", condition: "ready" },
    ],
  }),
  rendered: [
    { process: "tempo1", contains: ['"http_listen_address":"127.0.0.1"', '"http_listen_port":25330', '"grpc_listen_port":25331', '"bind_port":25332', '"endpoint":"127.0.0.1:25333"'] },
    { process: "tempo2", contains: ['"http_listen_port":25335', '"grpc_listen_port":25336', '"bind_port":25337', "-log.level=warn"] },
  ],
});
