/**
 * Prometheus, one server per instance, its TSDB in `dataDir`. Options, defaults
 * and the process name follow services-flake's `prometheus` service.
 * Configuration: https://prometheus.io/docs/prometheus/latest/configuration/configuration/
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
  name: "prometheus",
  description: "[Prometheus](https://prometheus.io/) monitoring server, one per instance, its time-series database in `dataDir`.",
  homepage: "https://prometheus.io/docs/prometheus/latest/configuration/configuration/",
  example: `services.prometheus."metrics" = {
  enable = true;
  port = 9091;
  extraConfig.scrape_configs = [ { job_name = "app"; static_configs = [ { targets = [ "127.0.0.1:8000" ]; } ]; } ];
};`,
  options: {
    package: t.package("prometheus"),
    port: t.port({ default: 9090, description: "The TCP port of the web interface, API and telemetry." }),
    listenAddress: t.str({
      default: "127.0.0.1",
      example: "0.0.0.0",
      description: "The address to listen on. services-flake's default is `0.0.0.0`, every interface; this one keeps it on loopback.",
    }),
    extraFlags: t.listOf(t.str(), {
      default: [],
      example: ["--storage.tsdb.retention.time=1d"],
      description: "Extra command-line arguments, one argument per element, each quoted for the shell.",
    }),
    defaultExtraConfig: t.anything({
      default: { global: { scrape_interval: "15s", evaluation_interval: "15s" } },
      readOnly: true,
      internal: true,
      description: "Configuration that `extraConfig` is merged over.",
    }),
    extraConfig: t.anything({
      default: {},
      example: { nix: '{ scrape_configs = [ { job_name = "prometheus"; static_configs = [ { targets = [ "localhost:9090" ]; } ]; } ]; }' },
      description: "Configuration merged (recursively) over the defaults and written to `prometheus.yml` (as JSON, which YAML reads).",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg }) => {
    const config = file("prometheus.yml", toJSON(recursiveUpdate(cfg.defaultExtraConfig, cfg.extraConfig)));
    return [
      process(name, {
        command: script({
          name: "start-prometheus",
          runtimeInputs: [cfg.package],
          text: sh`
            data=${runtimePath(cfg.dataDir)}
            exec prometheus --config.file=${config} --storage.tsdb.path="$data" --web.listen-address=${s`${cfg.listenAddress}:${cfg.port}`} ${cfg.extraFlags}
          `,
        }),
        readiness: {
          http: { host: connectHost(cfg.listenAddress), port: cfg.port, path: "/-/ready" },
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
