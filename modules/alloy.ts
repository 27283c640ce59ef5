/**
 * Grafana Alloy, one collector per instance, its state (write-ahead logs,
 * positions) in `dataDir`. Options, defaults and the process name follow
 * services-flake's `alloy` service, so its users' configurations work unchanged.
 * Configuration: https://grafana.com/docs/alloy/latest/configure/
 */
import { connectHost, defineService, process, runtimePath, s, script, sh, t, toStr } from "../dsl";

export default defineService({
  name: "alloy",
  description: "[Grafana Alloy](https://grafana.com/oss/alloy-opentelemetry-collector/) telemetry collector, one per instance, its state in `dataDir`.",
  homepage: "https://grafana.com/docs/alloy/latest/configure/",
  example: `services.alloy."collector" = {
  enable = true;
  port = 12346;
  configFile = ./config.alloy;
};`,
  options: {
    package: t.package("grafana-alloy"),
    configFile: t.path({
      example: { nix: "./config.alloy" },
      description:
        "The Alloy configuration file (its own configuration language): the pipelines to run. Required. " +
        "Used where it is (not copied to the store), so that files it names relative to itself are found.",
    }),
    listenAddress: t.str({ default: "127.0.0.1", description: "The address the HTTP server (UI, API, `/metrics`) listens on." }),
    port: t.port({ default: 12345, description: "The TCP port of the HTTP server." }),
    extraFlags: t.listOf(t.str(), {
      default: [],
      example: ["--stability.level=experimental"],
      description: "Extra arguments to `alloy run`, one argument per element, each quoted for the shell.",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, pkgs }) => [
    process(name, {
      command: script({
        name: "start-alloy",
        runtimeInputs: [cfg.package, pkgs.coreutils],
        text: sh`
          data=${runtimePath(cfg.dataDir)}
          mkdir -p -- "$data"
          exec alloy run ${toStr(cfg.configFile)} --server.http.listen-addr=${s`${cfg.listenAddress}:${cfg.port}`} --storage.path="$data" ${cfg.extraFlags}
        `,
      }),
      readiness: {
        http: { host: connectHost(cfg.listenAddress), port: cfg.port, path: "/-/ready" },
      },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
