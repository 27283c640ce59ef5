/**
 * SearXNG, one metasearch web app per instance. Options, defaults and the
 * process name follow services-flake's `searxng` service, so its users'
 * configurations work unchanged.
 * Settings: https://docs.searxng.org/admin/settings/index.html
 */
import {
  connectHost,
  defineService,
  exe,
  file,
  type JsonValue,
  nix,
  process,
  recursiveUpdate,
  s,
  script,
  sh,
  t,
  toJSON,
} from "../dsl";

export default defineService({
  name: "searxng",
  description: "[SearXNG](https://docs.searxng.org/) metasearch engine, one web app per instance.",
  homepage: "https://docs.searxng.org/admin/settings/index.html",
  example: `services.searxng."search" = {
  enable = true;
  port = 8888;
  settings.general.instance_name = "dev search";
};`,
  options: {
    package: t.package("searxng"),
    host: t.str({ default: "127.0.0.1", description: "The address the web app listens on (`server.bind_address`)." }),
    port: t.port({ default: 8080, description: "The TCP port of the web app (`server.port`)." }),
    use_default_settings: t.bool({
      default: true,
      description: "Start from SearXNG's own default settings, `settings` overriding them (`use_default_settings`); with `false`, `settings` is all there is.",
    }),
    secret_key: t.str({
      default: "secret",
      example: "a-long-random-string",
      description:
        "The key SearXNG signs its cookies and image-proxy URLs with (`server.secret_key`). It is written to the settings " +
        "file in the Nix store, which every local user can read: fine for development, not for a public instance.",
    }),
    settings: t.anything({
      default: {},
      example: { nix: '{ general.instance_name = "dev search"; search.formats = [ "html" "json" ]; }' },
      description:
        "SearXNG settings, written as JSON (which YAML reads); `host`, `port`, `secret_key` and `use_default_settings` take precedence over the same keys here.",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg }) => {
    const settings = recursiveUpdate<JsonValue>(cfg.settings, {
      server: { bind_address: cfg.host, port: cfg.port, secret_key: cfg.secret_key },
      use_default_settings: cfg.use_default_settings,
    });
    return [
      process(name, {
        command: script({
          name: "start-searxng",
          text: sh`
            exec ${exe(cfg.package)}
          `,
        }),
        // The settings file through the process's environment, as in services-flake: a user's
        // `settings.processes.<name>.environment.SEARXNG_SETTINGS_PATH` wins over it.
        environment: { SEARXNG_SETTINGS_PATH: s`${file("settings.yml", toJSON(settings))}` },
        readiness: { http: { host: connectHost(cfg.host), port: cfg.port, path: "/" } },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
