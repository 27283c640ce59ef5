/**
 * Qdrant, a vector database, one server per instance, its storage and snapshots
 * in `dataDir`. Options, defaults and the process name follow services-flake's
 * `qdrant` service, so its users' configurations work unchanged.
 * Configuration: https://qdrant.tech/documentation/guides/configuration/
 */
import {
  connectHost,
  defineService,
  file,
  nix,
  process,
  recursiveUpdate,
  runtimePath,
  s,
  script,
  sh,
  t,
  toJSON,
} from "../dsl";

export default defineService({
  name: "qdrant",
  description: "[Qdrant](https://qdrant.tech/) vector database, one server per instance, its storage and snapshots in `dataDir`.",
  homepage: "https://qdrant.tech/documentation/guides/configuration/",
  example: `services.qdrant."vectors" = {
  enable = true;
  httpPort = 6433;
  grpcPort = 6434;
  settings.service.api_key = "dev-key";
};`,
  options: {
    package: t.package("qdrant"),
    host: t.str({ default: "127.0.0.1", description: "The address the REST and gRPC APIs listen on." }),
    httpPort: t.port({ default: 6333, description: "The TCP port of the REST API (and `/healthz`)." }),
    grpcPort: t.port({ default: 6334, description: "The TCP port of the gRPC API." }),
    settings: t.anything({
      default: {},
      example: { nix: '{ service.api_key = "dev-key"; storage.optimizers.default_segment_number = 2; }' },
      description:
        "Configuration merged (recursively) over the defaults (storage and snapshots in `dataDir`, the host and ports above, " +
        "CORS on, telemetry off) and written to `config.yaml` (as JSON, which YAML reads). " +
        "See [the reference configuration](https://github.com/qdrant/qdrant/blob/master/config/config.yaml).",
    }),
    extraArgs: t.listOf(t.str(), {
      default: [],
      example: ["--disable-telemetry"],
      description: "Extra command-line arguments to `qdrant`, one argument per element, each quoted for the shell.",
    }),
  },
  ports: ({ cfg }) => [
    { port: cfg.httpPort, option: "httpPort" },
    { port: cfg.grpcPort, option: "grpcPort" },
  ],
  processes: ({ name, cfg, pkgs }) => {
    const defaults = {
      storage: {
        storage_path: s`${cfg.dataDir}/storage`,
        snapshots_path: s`${cfg.dataDir}/snapshots`,
        on_disk_payload: true,
      },
      service: { host: cfg.host, http_port: cfg.httpPort, grpc_port: cfg.grpcPort, enable_cors: true },
      telemetry_disabled: true,
    };
    const config = file("config.yaml", toJSON(recursiveUpdate(defaults, cfg.settings)));
    return [
      process(name, {
        command: script({
          name: "start-qdrant",
          runtimeInputs: [cfg.package, pkgs.coreutils],
          // The storage paths are relative to where the stack runs, the server's working directory.
          text: sh`
            mkdir -p -- ${runtimePath(s`${cfg.dataDir}/storage`)} ${runtimePath(s`${cfg.dataDir}/snapshots`)}
            exec qdrant --config-path ${config} ${cfg.extraArgs}
          `,
        }),
        readiness: {
          http: { host: connectHost(cfg.host), port: cfg.httpPort, path: "/healthz" },
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
