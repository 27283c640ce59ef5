/**
 * Grafana Loki, one single-process server per instance, its chunks and index in
 * `dataDir`. Options, defaults and the process name follow services-flake's
 * `loki` service, so its users' configurations work unchanged.
 * Configuration: https://grafana.com/docs/loki/latest/configure/
 */
import {
  connectHost,
  defineService,
  file,
  type JsonValue,
  process,
  recursiveUpdate,
  s,
  script,
  sh,
  t,
  toJSON,
} from "../dsl";

export default defineService({
  name: "loki",
  description: "[Grafana Loki](https://grafana.com/oss/loki/) log store, one single-process server per instance, its chunks and index in `dataDir`.",
  homepage: "https://grafana.com/docs/loki/latest/configure/",
  example: `services.loki."logs" = {
  enable = true;
  httpPort = 3101;
  grpcPort = 9097;
  extraConfig.limits_config.retention_period = "24h";
};`,
  options: {
    package: t.package("grafana-loki"),
    httpAddress: t.str({
      default: "localhost",
      description:
        "The address both ports listen on, and the one the server gives its peers (`common.instance_addr`). " +
        "services-flake only sets the latter, so its Loki listens on every interface.",
    }),
    httpPort: t.port({ default: 3100, description: "The TCP port of the HTTP API (push, query, `/ready`)." }),
    grpcPort: t.port({ default: 9096, description: "The TCP port of the gRPC server (between Loki's own components)." }),
    extraConfig: t.anything({
      default: {},
      example: { limits_config: { retention_period: "24h" } },
      description:
        "Loki configuration merged (recursively) over the one this module makes — listen addresses, " +
        "filesystem storage in `dataDir`, an in-memory ring, a TSDB schema — and written as JSON (which YAML reads).",
    }),
    extraFlags: t.listOf(t.str(), {
      default: [],
      example: ["-config.expand-env=true"],
      description: "Extra command-line arguments to `loki`, one argument per element, each quoted for the shell.",
    }),
  },
  ports: ({ cfg }) => [
    { port: cfg.httpPort, option: "httpPort" },
    { port: cfg.grpcPort, option: "grpcPort" },
  ],
  processes: ({ name, cfg }) => {
    const settings = recursiveUpdate<JsonValue>({
      server: {
        http_listen_address: cfg.httpAddress,
        http_listen_port: cfg.httpPort,
        grpc_listen_address: cfg.httpAddress,
        grpc_listen_port: cfg.grpcPort,
      },
      common: {
        instance_addr: cfg.httpAddress,
        path_prefix: s`${cfg.dataDir}/`,
        storage: { filesystem: { chunks_directory: s`${cfg.dataDir}/chunks`, rules_directory: s`${cfg.dataDir}/rules` } },
        replication_factor: 1,
        ring: { kvstore: { store: "inmemory" } },
      },
      schema_config: {
        configs: [{ from: "2020-10-24", store: "tsdb", object_store: "filesystem", schema: "v13", index: { prefix: "index_", period: "24h" } }],
      },
    }, cfg.extraConfig);
    return [
      process(name, {
        command: script({
          name: "start-loki",
          runtimeInputs: [cfg.package],
          // Relative paths in the configuration (a relative dataDir) resolve against where the stack runs.
          text: sh`exec loki --config.file=${file("loki.yaml", toJSON(settings))} ${cfg.extraFlags}`,
        }),
        // /ready answers 200 once the ingester has joined its ring (some 15 seconds after start).
        readiness: {
          http: { host: connectHost(cfg.httpAddress), port: cfg.httpPort, path: "/ready" },
          failureThreshold: 60,
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
