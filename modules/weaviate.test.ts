/**
 * weaviate under process-compose: a collection made, an object stored with its
 * vector and read back (and, on the second run, still there after the restart);
 * a second server whose node name and ports come from `environment`.
 */
import { defineTest, sh } from "../dsl";
import weaviate from "./weaviate";

/** Cluster settings for one instance on a machine with others: its own ports, and loopback as the advertised address. */
const node = (hostname: string, base: number) => ({
  CLUSTER_HOSTNAME: hostname,
  CLUSTER_ADVERTISE_ADDR: "127.0.0.1",
  GRPC_PORT: base + 1,
  CLUSTER_GOSSIP_BIND_PORT: base + 2,
  CLUSTER_DATA_BIND_PORT: base + 3,
  RAFT_PORT: base + 4,
  RAFT_INTERNAL_RPC_PORT: base + 5,
});

export default defineTest({
  name: "weaviate",
  services: { weaviate },
  instances: {
    weaviate: {
      // Both without usage reports to Weaviate's telemetry server (sent unless DISABLE_TELEMETRY): the test sends nothing off the machine.
      weaviate1: {
        port: 27040,
        environment: { ...node("w1", 27040), AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED: true, DEFAULT_VECTORIZER_MODULE: "none", DISABLE_TELEMETRY: true },
      },
      weaviate2: { port: 27050, environment: { ...node("w2", 27050), DISABLE_TELEMETRY: true, QUERY_DEFAULTS_LIMIT: 5 } },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    text: sh`
      w1=http://127.0.0.1:${cfg.weaviate.weaviate1.port}
      id=36ddd591-2dee-4e7e-a3cc-eb86d30a4303
      if [[ \${SERVICES_TS_RUN:-1} == 1 ]]; then
        curl -sSf -X POST "$w1/v1/schema" -H 'Content-Type: application/json' -d '{"class": "Article", "vectorizer": "none"}'
        curl -sSf -X POST "$w1/v1/objects" -H 'Content-Type: application/json' \\
          -d '{"class": "Article", "id": "'"$id"'", "properties": {"title": "hello"}, "vector": [0.1, 0.2, 0.3]}'
      fi
      curl -sSf "$w1/v1/objects/Article/$id" | grep -q '"title":"hello"'
      curl -sSf http://127.0.0.1:${cfg.weaviate.weaviate2.port}/v1/nodes | grep -q '"name":"w2"'
    `,
    dependsOn: [
      { process: "weaviate1", condition: "ready" },
      { process: "weaviate2", condition: "ready" },
    ],
  }),
  rendered: [
    {
      process: "weaviate1",
      contains: ["--port 27040"],
      environment: { GRPC_PORT: "27041", DEFAULT_VECTORIZER_MODULE: "none", AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED: "true", GO_PROFILING_DISABLE: "true" },
    },
    { process: "weaviate2", contains: ["--port 27050"], environment: { CLUSTER_HOSTNAME: "w2", QUERY_DEFAULTS_LIMIT: "5", RAFT_PORT: "27054" } },
  ],
});
