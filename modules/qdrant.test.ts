/**
 * qdrant under process-compose: a collection made, a point stored and read back
 * (and, on the second run, still there after the restart); a second server that
 * answers only requests carrying its API key.
 */
import { defineTest, sh } from "../dsl";
import qdrant from "./qdrant";

export default defineTest({
  name: "qdrant",
  services: { qdrant },
  instances: {
    qdrant: {
      qdrant1: { httpPort: 27030, grpcPort: 27031 },
      qdrant2: { httpPort: 27032, grpcPort: 27033, settings: { service: { api_key: "test-key" } }, extraArgs: ["--disable-telemetry"] },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    text: sh`
      q1=http://127.0.0.1:${cfg.qdrant.qdrant1.httpPort}
      if [[ \${SERVICES_TS_RUN:-1} == 1 ]]; then
        curl -sSf -X PUT "$q1/collections/cities" -H 'Content-Type: application/json' \\
          -d '{"vectors": {"size": 4, "distance": "Dot"}}'
        curl -sSf -X PUT "$q1/collections/cities/points?wait=true" -H 'Content-Type: application/json' \\
          -d '{"points": [{"id": 1, "vector": [0.05, 0.61, 0.76, 0.74], "payload": {"city": "Berlin"}}]}'
      fi
      curl -sSf "$q1/collections/cities/points/1" | grep -q '"city":"Berlin"'
      curl -sSf "$q1/collections" | grep -q '"name":"cities"'

      q2=http://127.0.0.1:${cfg.qdrant.qdrant2.httpPort}
      test "$(curl -s -o /dev/null -w '%{http_code}' "$q2/collections")" = 401
      curl -sSf -H 'api-key: test-key' "$q2/collections" | grep -q '"status":"ok"'
    `,
    dependsOn: [
      { process: "qdrant1", condition: "ready" },
      { process: "qdrant2", condition: "ready" },
    ],
  }),
  rendered: [
    { process: "qdrant1", contains: ['"http_port":27030', '"grpc_port":27031', '"storage_path":"./data/qdrant1/storage"'] },
    { process: "qdrant2", contains: ['"http_port":27032', '"api_key":"test-key"', "--disable-telemetry"] },
  ],
});
