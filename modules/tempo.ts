/**
 * Grafana Tempo, one monolithic (single-process) server per instance, its
 * write-ahead log and blocks in `dataDir`. Options, defaults and the process name
 * follow services-flake's `tempo` service, so its users' configurations work unchanged.
 * Configuration: https://grafana.com/docs/tempo/latest/configuration/
 */
import {
  connectHost,
  defineService,
  file,
  type JsonValue,
  nix,
  optional,
  or,
  process,
  recursiveUpdate,
  s,
  script,
  sh,
  t,
  toJSON,
  update,
} from "../dsl";

export default defineService({
  name: "tempo",
  description: "[Grafana Tempo](https://grafana.com/oss/tempo/) tracing backend, one monolithic server per instance, its traces in `dataDir`.",
  homepage: "https://grafana.com/docs/tempo/latest/configuration/",
  example: `services.tempo."traces" = {
  enable = true;
  httpPort = 3201;
  extraConfig.distributor.receivers.otlp.protocols.http.endpoint = "127.0.0.1:4318";
};`,
  options: {
    package: t.package("tempo"),
    httpAddress: t.str({ default: "localhost", description: "The address the HTTP API listens on." }),
    httpPort: t.port({
      default: 3200,
      description: "The TCP port of the HTTP API (queries, `/ready`, `/status`). services-flake types it as any integer; here it must be a port number.",
    }),
    grpcPort: t.port({
      default: 9095,
      description:
        "The TCP port of the gRPC server (`server.grpc_listen_port`; Tempo's default). Not in services-flake, where two instances " +
        "cannot run side by side. Like the gossip port, it listens on every interface, Tempo's default: Tempo's components reach " +
        "each other at the address their rings advertise (change both through `extraConfig`).",
    }),
    memberlistPort: t.port({
      default: 7946,
      description: "The TCP and UDP port of the ring's gossip (`memberlist.bind_port`; Tempo's default). Not in services-flake.",
    }),
    extraConfig: t.anything({
      default: {},
      example: { distributor: { receivers: { otlp: { protocols: { http: { endpoint: "127.0.0.1:4318" } } } } } },
      description:
        "Tempo configuration merged (recursively) over the one this module makes — listen addresses and ports, local " +
        "storage in `dataDir` — and written as JSON (which YAML reads). Receivers (OTLP, Jaeger, …) are configured here.",
    }),
    extraFlags: t.listOf(t.str(), {
      default: [],
      example: ["-config.expand-env=true"],
      description: "Extra command-line arguments to `tempo`, one argument per element, each quoted for the shell.",
    }),
  },
  ports: ({ cfg }) => [
    { port: cfg.httpPort, option: "httpPort" },
    { port: cfg.grpcPort, option: "grpcPort" },
    { port: cfg.memberlistPort, option: "memberlistPort" },
  ],
  processes: ({ name, cfg }) => {
    // Tempo 3 has a live store of recent traces; older versions refuse the block. The version as
    // lib.getVersion reads it: the package's `version`, else the one in its name (nixpkgs' tempo is
    // 3.0.2 in pkgs/by-name/te/tempo/package.nix; test/nixpkgs-facts.json).
    const liveStore = nix<boolean>("bool")`lib.versionAtLeast (lib.getVersion ${cfg.package}) "3"`;
    const settings = recursiveUpdate<JsonValue>({
      server: {
        http_listen_address: cfg.httpAddress,
        http_listen_port: cfg.httpPort,
        grpc_listen_port: cfg.grpcPort,
      },
      memberlist: { bind_port: cfg.memberlistPort },
      storage: {
        trace: update<Record<string, unknown>>(
          { backend: "local", wal: { path: s`${cfg.dataDir}/wal` }, local: { path: s`${cfg.dataDir}/blocks` } },
          optional(liveStore, {
            live_store: { shutdown_marker_dir: s`${cfg.dataDir}/live-store/shutdown-marker`, wal: { path: s`${cfg.dataDir}/live-store/traces` } },
          }),
        ),
      },
    }, cfg.extraConfig);
    return [
      process(name, {
        command: script({
          name: "start-tempo",
          runtimeInputs: [cfg.package],
          // Relative paths in the configuration (a relative dataDir) resolve against where the stack runs.
          text: sh`exec tempo --config.file=${file("tempo.yaml", toJSON(settings))} ${cfg.extraFlags}`,
        }),
        readiness: {
          http: { host: connectHost(cfg.httpAddress), port: cfg.httpPort, path: "/ready" },
          failureThreshold: 60,
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
