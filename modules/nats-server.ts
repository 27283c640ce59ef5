/**
 * The NATS server, one per instance, its JetStream store in `dataDir`. Options,
 * defaults and the process name follow services-flake's `nats-server` service.
 * Configuration: https://docs.nats.io/running-a-nats-service/configuration
 */
import { defineService, file, process, runtimePath, script, sh, t, toJSON } from "../dsl";

export default defineService({
  name: "nats-server",
  description: "[NATS](https://nats.io/) messaging server, one per instance, with JetStream storage in `dataDir`.",
  homepage: "https://docs.nats.io/running-a-nats-service/configuration",
  example: `services.nats-server."bus" = {
  enable = true;
  settings = { port = 14222; monitor_port = 18222; jetstream = { max_mem = "64M"; }; };
};`,
  options: {
    package: t.package("nats-server"),
    settings: t.submodule(
      {
        server_name: t.str({ default: ({ name }) => name, defaultText: '"<name>"', example: "n1-c3", description: "The server's name; unique within a cluster." }),
        host: t.str({
          default: "127.0.0.1",
          description: "The address the client and monitoring ports listen on. NATS's own default (and services-flake's) is every interface.",
        }),
        port: t.port({ default: 4222, description: "The client port." }),
        monitor_port: t.port({ default: 8222, description: "The HTTP monitoring port (`/healthz`, `/varz`, …)." }),
      },
      {
        default: {},
        freeform: t.anything(),
        example: { nix: '{ jetstream = { max_mem = "1G"; max_file = "10G"; }; }' },
        description:
          "The server's configuration, written as JSON (which NATS reads); any other setting of the " +
          "[configuration file](https://docs.nats.io/running-a-nats-service/configuration) goes here too.",
      },
    ),
  },
  ports: ({ cfg }) => [
    { port: cfg.settings.port, option: "settings.port" },
    { port: cfg.settings.monitor_port, option: "settings.monitor_port" },
  ],
  processes: ({ name, cfg }) => [
    process(name, {
      command: script({
        name: "start-nats-server",
        runtimeInputs: [cfg.package],
        // -t checks the configuration first, so a bad setting stops with NATS's own message.
        text: sh`
          conf=${file("nats.conf", toJSON(cfg.settings))}
          nats-server -c "$conf" -t
          exec nats-server -c "$conf" -sd ${runtimePath(cfg.dataDir)}
        `,
      }),
      readiness: { http: { host: cfg.settings.host, port: cfg.settings.monitor_port, path: "/healthz" } },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
