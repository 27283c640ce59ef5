/**
 * HAProxy, one load balancer per instance, configured by its own sections:
 * `global`, `defaults`, then every proxy (`frontend`, `backend`, `listen`).
 * Configuration manual: https://docs.haproxy.org/2.6/configuration.html
 */
import {
  type ListenPortValue,
  concatLists,
  concatStrings,
  cond,
  defineService,
  eq,
  exe,
  file,
  join,
  mapAttrsToList,
  mapList,
  named,
  process,
  replaceStrings,
  runtimePath,
  s,
  script,
  sh,
  t,
  type Expr,
} from "../dsl";

/** A section of haproxy.cfg: its header, then one indented directive a line. */
const section = (header: Expr<string> | string, lines: Expr<readonly string[]>): Expr<string> =>
  s`${header}\n${concatStrings(mapList(lines, (l) => s`    ${l}\n`, "line"))}\n`;

/** True when `text` holds no line break (a value could otherwise start a directive or a section of its own). */
const oneLine = (text: Expr<string>): Expr<boolean> => eq(replaceStrings(["\n", "\r"], ["", ""], text), text);

export default defineService({
  name: "haproxy",
  description:
    "[HAProxy](https://www.haproxy.org/), a TCP and HTTP load balancer, one per instance. `settings` holds its sections; " +
    "the module adds a private admin socket in `dataDir` (its readiness check asks it for `show info`) and, when enabled, a stats page.",
  homepage: "https://docs.haproxy.org/2.6/configuration.html",
  example: `services.haproxy."lb" = {
  enable = true;
  ports = [ 8080 ];
  settings.defaults = [ "mode http" "timeout connect 5s" "timeout client 30s" "timeout server 30s" ];
  settings.proxies."listen web" = [ "bind 127.0.0.1:8080" "server app1 127.0.0.1:3000 check" ];
  stats.enable = true;
};`,
  options: {
    package: t.package("haproxy"),
    settings: t.submodule({
      global: t.listOf(t.str(), {
        default: [],
        example: ["maxconn 200"],
        description: "Directives of the `global` section, one a line, in HAProxy's syntax (the module adds its admin socket).",
      }),
      defaults: t.listOf(t.str(), {
        default: ["mode tcp", "timeout connect 5s", "timeout client 1m", "timeout server 1m"],
        description: "Directives of the `defaults` section, written before every proxy so that all of them inherit it.",
      }),
      proxies: t.attrsOf(t.listOf(t.str()), {
        default: {},
        example: { "listen web": ["bind 127.0.0.1:8080", "server app1 127.0.0.1:3000 check"] },
        description:
          "The proxies, by section header (`frontend <name>`, `backend <name>`, `listen <name>`), each a list of directives, one a line. " +
          "Written after `defaults`, in the order of their headers.",
      }),
    }),
    extraConfig: t.lines({
      default: "",
      description: "Text appended to haproxy.cfg as it is (more sections, say).",
    }),
    ports: t.listOf(t.port(), {
      default: [],
      example: [8080],
      description:
        "The TCP ports the proxies' `bind` lines listen on. HAProxy's own syntax is not parsed, so declare them here: " +
        "evaluation then refuses another instance on one of them.",
    }),
    stats: t.submodule({
      enable: t.bool({ default: false, description: "Serve HAProxy's statistics page over HTTP." }),
      bind: t.str({ default: "127.0.0.1", description: "The IP address the statistics page listens on." }),
      port: t.port({ default: 8404, description: "The TCP port of the statistics page." }),
      uri: t.str({ default: "/stats", description: "The path of the statistics page (`;csv` appended gives CSV)." }),
    }),
  },
  ports: ({ cfg }) =>
    concatLists<ListenPortValue>(
      mapList(cfg.ports, (p) => ({ port: p, option: "ports" }), "port"),
      cond<ListenPortValue[]>(cfg.stats.enable, [{ port: cfg.stats.port, option: "stats.port" }], []),
    ),
  assertions: ({ cfg }) => [
    {
      assertion: oneLine(
        concatStrings([
          join("", cfg.settings.global),
          join("", cfg.settings.defaults),
          concatStrings(mapAttrsToList(cfg.settings.proxies, (header, lines) => s`${header}${join("", lines)}`, "proxy")),
          cfg.stats.bind,
          cfg.stats.uri,
        ]),
      ),
      message:
        "a directive or section header in settings (or stats.bind, stats.uri) holds a line break: each must be one line of haproxy.cfg. " +
        "Put several directives in several list elements.",
    },
  ],
  processes: ({ name, cfg, pkgs, let: bind }) => {
    const conf = bind(
      "haproxyConfig",
      file(
        "haproxy.cfg",
        concatStrings([
          // HAPROXY_ADMIN_SOCKET is set by the start script: HAProxy expands environment variables in double quotes.
          section("global", concatLists(['stats socket "${HAPROXY_ADMIN_SOCKET}" mode 600 level admin'], cfg.settings.global)),
          section("defaults", cfg.settings.defaults),
          concatStrings(mapAttrsToList(cfg.settings.proxies, (header, lines) => section(header, lines), "proxy")),
          cond(
            cfg.stats.enable,
            section(
              "frontend stats",
              concatLists([s`bind ${cfg.stats.bind}:${cfg.stats.port}`, "mode http", "stats enable", s`stats uri ${cfg.stats.uri}`, "stats refresh 5s"]),
            ),
            "",
          ),
          cfg.extraConfig,
          "\n",
        ]),
      ),
    );
    const socket = named("adminSocket", s`${cfg.dataDir}/haproxy.sock`);
    return [
      process(name, {
        command: script({
          name: "start-haproxy",
          runtimeInputs: [cfg.package, pkgs.coreutils],
          // The configuration is checked first, so that a mistake is reported as such and not as a crash loop.
          text: sh`
            umask 077
            data=${runtimePath(cfg.dataDir)}
            mkdir -p -- "$data"
            chmod 0700 -- "$data"
            export HAPROXY_ADMIN_SOCKET="$data/haproxy.sock"
            haproxy -c -q -f ${conf}
            exec haproxy -db -f ${conf}
          `,
        }),
        // Ready when this instance's own admin socket (in its dataDir) answers.
        readiness: {
          exec: sh`echo 'show info' | ${exe(pkgs.netcat, "nc")} -U ${runtimePath(socket)} | ${exe(pkgs.gnugrep, "grep")} -q '^Name: HAProxy'`,
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
