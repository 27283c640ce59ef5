/**
 * Grafana Pyroscope, one single-process server per instance, its profiles in
 * `dataDir`. Options, defaults and the process name follow services-flake's
 * `pyroscope` service, so its users' configurations work unchanged.
 * Configuration: https://grafana.com/docs/pyroscope/latest/configure-server/reference-configuration-parameters/
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
  name: "pyroscope",
  description: "[Grafana Pyroscope](https://grafana.com/oss/pyroscope/) continuous-profiling database, one single-process server per instance, its profiles in `dataDir`.",
  homepage: "https://grafana.com/docs/pyroscope/latest/configure-server/reference-configuration-parameters/",
  example: `services.pyroscope."profiles" = {
  enable = true;
  httpPort = 4041;
  extraConfig.self_profiling.disable_push = true;
};`,
  options: {
    package: t.package("pyroscope"),
    httpAddress: t.str({
      default: "127.0.0.1",
      description:
        "The IP address the server listens on (HTTP, gRPC, gossip) and gives its own components to reach it. " +
        "An IP address, not a host name: the gossip (memberlist) takes only those.",
    }),
    httpPort: t.port({ default: 4040, description: "The TCP port of the HTTP API and UI (ingest, queries, `/ready`)." }),
    grpcPort: t.port({
      default: 9095,
      description:
        "The TCP port of the gRPC server (`server.grpc_listen_port`; Pyroscope's default), on `httpAddress`. Not in services-flake, " +
        "whose gRPC listens on every interface and on a port two instances cannot share.",
    }),
    memberlistPort: t.port({
      default: 7946,
      description: "The TCP and UDP port of the ring's gossip (`memberlist.bind_port`; Pyroscope's default). Not in services-flake.",
    }),
    extraConfig: t.anything({
      default: {},
      example: { self_profiling: { disable_push: true } },
      description:
        "Pyroscope configuration merged (recursively) over the one this module makes — addresses and ports, filesystem " +
        "storage in `dataDir` — and written as JSON (which YAML reads).",
    }),
    extraFlags: t.listOf(t.str(), {
      default: [],
      example: ["-log.level=debug"],
      description: "Extra command-line arguments to `pyroscope`, one argument per element, each quoted for the shell.",
    }),
  },
  ports: ({ cfg }) => [
    { port: cfg.httpPort, option: "httpPort" },
    { port: cfg.grpcPort, option: "grpcPort" },
    { port: cfg.memberlistPort, option: "memberlistPort" },
  ],
  processes: ({ name, cfg }) => {
    const address = cfg.httpAddress;
    const settings = recursiveUpdate<JsonValue>({
      server: { http_listen_address: address, http_listen_port: cfg.httpPort, grpc_listen_address: address, grpc_listen_port: cfg.grpcPort },
      pyroscopedb: { data_path: s`${cfg.dataDir}/data` },
      storage: { backend: "filesystem", filesystem: { dir: s`${cfg.dataDir}/blocks` } },
      ingester: { lifecycler: { address } },
      distributor: { ring: { instance_addr: address } },
      compactor: { sharding_ring: { instance_addr: address } },
      overrides_exporter: { ring: { instance_addr: address } },
      query_scheduler: { ring: { instance_addr: address } },
      frontend: { instance_addr: address },
      store_gateway: { sharding_ring: { instance_addr: address } },
      memberlist: { bind_addr: [address], bind_port: cfg.memberlistPort },
    }, cfg.extraConfig);
    return [
      process(name, {
        command: script({
          name: "start-pyroscope",
          runtimeInputs: [cfg.package],
          // Relative paths in the configuration (a relative dataDir) resolve against where the stack runs.
          text: sh`exec pyroscope --config.file=${file("pyroscope.yaml", toJSON(settings))} ${cfg.extraFlags}`,
        }),
        // Pyroscope can take a few minutes to be ready (services-flake allows some 150 seconds).
        readiness: {
          http: { host: connectHost(address), port: cfg.httpPort, path: "/ready" },
          failureThreshold: 180,
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
