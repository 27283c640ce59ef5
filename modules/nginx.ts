/**
 * nginx, one server per instance. Options, defaults and the process name follow
 * services-flake's `nginx` service, so its users' configurations work unchanged:
 * the configuration is `${dataDir}/nginx.conf` (so a relative `include` in
 * `httpConfig` resolves from there), the prefix is where the stack runs.
 * Directives: https://nginx.org/en/docs/ngx_core_module.html
 */
import { defineService, exe, file, helper, type Expr, pathOf, process, replaceStrings, runtimePath, s, script, sh, t } from "../dsl";

/** A value in nginx.conf: double-quoted, with `\` and `"` escaped (nginx's own quoting). */
const confString = helper("nginxConfString", "value", (v: Expr<string>) => s`"${replaceStrings(["\\", '"'], ["\\\\", '\\"'], v)}"`);

export default defineService({
  name: "nginx",
  description: "[nginx](https://nginx.org/) HTTP server, one per instance; your `httpConfig` goes into its `http` block.",
  homepage: "https://nginx.org/en/docs/",
  example: `services.nginx."web" = {
  enable = true;
  port = 8081;
  httpConfig = ''
    server {
      listen 127.0.0.1:8082;
      location / { root \${./public}; }
    }
  '';
};`,
  options: {
    package: t.package("nginx"),
    port: t.port({
      default: 8080,
      description:
        "The TCP port of the default server, on 127.0.0.1 (services-flake's listens on every interface; " +
        "listen elsewhere with a `server` of your own in `httpConfig`).",
    }),
    defaultMimeTypes: t.path({
      default: ({ pkgs }) => pathOf(s`${pkgs.get("mailcap")}/etc/nginx/mime.types`),
      defaultText: '"${pkgs.mailcap}/etc/nginx/mime.types"',
      example: { nix: '"${pkgs.nginx}/conf/mime.types"' },
      description: "The MIME types file included in the `http` block (mailcap's: nginx's own list is incomplete).",
    }),
    httpConfig: t.lines({
      default: "",
      description: "Configuration appended to the `http` block, written as it is (it is nginx configuration).",
    }),
    eventsConfig: t.lines({
      default: "",
      description: "Configuration of the `events` block, written as it is.",
    }),
    configFile: t.path({
      default: ({ cfg }) =>
        pathOf(
          file(
            "nginx.conf",
            s`
              pid ${confString(s`${cfg.dataDir}/nginx/nginx.pid`)};
              error_log stderr;
              daemon off;

              events {
                ${cfg.eventsConfig}
              }

              http {
                access_log off;
                client_body_temp_path ${confString(s`${cfg.dataDir}/nginx/`)};
                proxy_temp_path ${confString(s`${cfg.dataDir}/nginx/`)};
                fastcgi_temp_path ${confString(s`${cfg.dataDir}/nginx/`)};
                scgi_temp_path ${confString(s`${cfg.dataDir}/nginx/`)};
                uwsgi_temp_path ${confString(s`${cfg.dataDir}/nginx/`)};

                include ${confString(s`${cfg.defaultMimeTypes}`)};

                server {
                  listen 127.0.0.1:${cfg.port};
                }
                ${cfg.httpConfig}
              }
            `,
          ),
        ),
      internal: true,
      defaultText: { md: "a file made from `port`, `eventsConfig`, `httpConfig` and `defaultMimeTypes`" },
      description: "The nginx configuration file.",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, pkgs }) => [
    process(name, {
      command: script({
        name: "start-nginx",
        runtimeInputs: [cfg.package, pkgs.coreutils],
        // The prefix (-p) is where the stack runs, as services-flake's; paths in the
        // configuration are relative to it, includes relative to the configuration's directory.
        text: sh`
          umask 077
          data=${runtimePath(cfg.dataDir)}
          mkdir -p -- "$data/nginx"
          ln -sfn -- ${cfg.configFile} "$data/nginx.conf"
          exec nginx -p "$PWD" -c "$data/nginx.conf" -e /dev/stderr
        `,
      }),
      // Ready once it accepts connections on its port (retried every 50 ms).
      readiness: { exec: sh`${exe(pkgs.netcat, "nc")} -z 127.0.0.1 ${cfg.port}` },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
