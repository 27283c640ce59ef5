/**
 * Weaviate, a vector database, one server per instance, its data in `dataDir`,
 * configured through environment variables. Options, defaults and the process
 * name follow services-flake's `weaviate` service, so its users' configurations
 * work unchanged.
 * Environment variables: https://weaviate.io/developers/weaviate/config-refs/env-vars
 */
import {
  all,
  attrOr,
  cond,
  connectHost,
  defineService,
  type Expr,
  helper,
  mapAttrs,
  mapAttrsToList,
  matches,
  named,
  nix,
  process,
  s,
  script,
  sh,
  t,
  update,
} from "../dsl";

/** An environment value as Weaviate reads it: a list joined with commas, a string as it is, anything else as JSON (`true`, `100`). */
const envValue = helper("weaviateEnvValue", "value", (v: Expr<unknown>) =>
  nix<string>("string")`if builtins.isList ${v} then lib.concatStringsSep "," ${v} else if builtins.isString ${v} then ${v} else builtins.toJSON ${v}`,
);

/** Whether an environment value means "on" to Weaviate (`true`, `on`, `enabled`, `1`). */
const envEnabled = helper("weaviateEnvEnabled", "value", (v: Expr<string>) =>
  nix<boolean>("bool")`builtins.elem (lib.toLower ${v}) [ "true" "on" "enabled" "1" ]`,
);

export default defineService({
  name: "weaviate",
  description: "[Weaviate](https://weaviate.io/) vector database, one server per instance, its data in `dataDir`, configured through environment variables.",
  homepage: "https://weaviate.io/developers/weaviate/config-refs/env-vars",
  example: `services.weaviate."vectors" = {
  enable = true;
  port = 8081;
  environment = {
    AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED = true;
    DEFAULT_VECTORIZER_MODULE = "none";
    ENABLE_MODULES = [ "text2vec-openai" "generative-openai" ];
  };
};`,
  options: {
    package: t.package("weaviate"),
    host: t.str({ default: "127.0.0.1", example: "0.0.0.0", description: "The address the REST API listens on." }),
    port: t.port({ default: 8080, description: "The TCP port of the REST API." }),
    environment: t.attrsOf(t.oneOf([t.str(), t.int(), t.float(), t.bool(), t.listOf(t.str())]), {
      default: {},
      // A second instance next to a default one: its other ports moved away from the defaults.
      example: {
        GRPC_PORT: 50052,
        CLUSTER_GOSSIP_BIND_PORT: 7956,
        CLUSTER_DATA_BIND_PORT: 7957,
        RAFT_PORT: 8310,
        RAFT_INTERNAL_RPC_PORT: 8311,
        DISABLE_TELEMETRY: true,
        ENABLE_MODULES: ["text2vec-openai", "generative-openai"],
      },
      description:
        "[Environment variables](https://weaviate.io/developers/weaviate/config-refs/env-vars) of the server: lists are joined " +
        "with commas, other non-strings written as JSON (`true`, `100`). `PERSISTENCE_DATA_PATH` is always `dataDir`. " +
        "Weaviate also listens on `GRPC_PORT` (default 50051), `CLUSTER_GOSSIP_BIND_PORT` (7946), `CLUSTER_DATA_BIND_PORT` " +
        "(the gossip port + 1), `RAFT_PORT` (8300) and `RAFT_INTERNAL_RPC_PORT` (8301): a second instance must move them. " +
        "Unlike services-flake's, `GO_PROFILING_DISABLE` defaults to `true`, since the Go profiler listens on every interface " +
        "(port `GO_PROFILING_PORT`, 6060); set it to `false` to profile.",
    }),
  },
  assertions: ({ cfg }) => [
    {
      assertion: all(mapAttrsToList(cfg.environment, (k) => matches("[A-Za-z_][A-Za-z0-9_]*", k), "value")),
      message: "environment: a variable name is letters, digits and underscores, not starting with a digit.",
    },
  ],
  ports: ({ cfg }) => {
    const env = cfg.environment;
    const port = (key: string, fallback: Expr<number> | number) =>
      nix<number>("int")`lib.toInt ${envValue(attrOr(env, [key], fallback))}`;
    const gossip = named("gossipPort", port("CLUSTER_GOSSIP_BIND_PORT", 7946));
    const enabled = (key: string) => envEnabled(envValue(attrOr(env, [key], false)));
    // The profiler is off unless GO_PROFILING_DISABLE is set to something false (the start script's default is true).
    const profiling = nix<boolean>("bool")`${env} ? GO_PROFILING_DISABLE && !${enabled("GO_PROFILING_DISABLE")}`;
    const monitoring = enabled("PROMETHEUS_MONITORING_ENABLED");
    return [
      { port: cfg.port, option: "port" },
      { port: port("GRPC_PORT", 50051), option: "environment.GRPC_PORT" },
      { port: gossip, option: "environment.CLUSTER_GOSSIP_BIND_PORT" },
      { port: port("CLUSTER_DATA_BIND_PORT", nix<number>("int")`${gossip} + 1`), option: "environment.CLUSTER_DATA_BIND_PORT" },
      { port: port("RAFT_PORT", 8300), option: "environment.RAFT_PORT" },
      { port: port("RAFT_INTERNAL_RPC_PORT", 8301), option: "environment.RAFT_INTERNAL_RPC_PORT" },
      { port: cond(profiling, port("GO_PROFILING_PORT", 6060), 0), option: "environment.GO_PROFILING_PORT" },
      { port: cond(monitoring, port("PROMETHEUS_MONITORING_PORT", 2112), 0), option: "environment.PROMETHEUS_MONITORING_PORT" },
    ];
  },
  processes: ({ name, cfg, pkgs }) => [
    process(name, {
      command: script({
        name: "start-weaviate",
        runtimeInputs: [cfg.package, pkgs.coreutils],
        // The data directory, wherever the environment puts it, as an absolute path.
        text: sh`
          mkdir -p -- "$PERSISTENCE_DATA_PATH"
          PERSISTENCE_DATA_PATH=$(realpath -- "$PERSISTENCE_DATA_PATH")
          export PERSISTENCE_DATA_PATH
          exec weaviate --scheme http --host ${cfg.host} --port ${cfg.port}
        `,
      }),
      // The process's environment, as in services-flake: the profiler off unless `environment` says otherwise,
      // `environment` (lists joined with commas, other values as JSON), then PERSISTENCE_DATA_PATH from
      // dataDir; a user's `settings.processes.<name>.environment` entry wins over all of them.
      environment: update(
        update({ GO_PROFILING_DISABLE: "true" }, mapAttrs(cfg.environment, (_, v) => envValue(v), "value")),
        { PERSISTENCE_DATA_PATH: cfg.dataDir },
      ),
      readiness: {
        http: { host: connectHost(cfg.host), port: cfg.port, path: "/v1/.well-known/ready" },
      },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
