/**
 * Grafana, one server per instance, its database and sessions in `dataDir`.
 * Options, defaults and the process name follow services-flake's `grafana`
 * service, so its users' configurations work unchanged.
 * Configuration: https://grafana.com/docs/grafana/latest/setup-grafana/configure-grafana/
 * Provisioning: https://grafana.com/docs/grafana/latest/administration/provisioning/
 */
import {
  attrOr,
  concatStrings,
  cond,
  defineService,
  eq,
  exe,
  type Expr,
  file,
  hasPrefix,
  helper,
  ifSet,
  isNull,
  mapAttrsToList,
  mapList,
  matches,
  nix,
  or,
  process,
  recursiveUpdate,
  runtimePath,
  s,
  script,
  sh,
  switchType,
  t,
  toJSON,
  toStr,
} from "../dsl";

/** A value of grafana.ini: what Grafana's INI sections hold. */
type IniAtom = string | number | boolean | null;
type Ini = Record<string, Record<string, IniAtom>>;

/**
 * A value in grafana.ini. Strings are written between `"""` (go-ini's long quotes), so that
 * `#`, `;`, quotes, surrounding spaces and newlines reach Grafana as they are.
 */
const iniValue = helper("grafanaIniValue", "value", (v: Expr<IniAtom>) =>
  switchType<string>(v, {
    bool: (b) => cond(b, "true", "false"),
    string: (str) => s`"""${str}"""`,
    other: (x) => toStr(x as Expr<number>),
  }),
);

/** One `key = value` line; nothing for a `null` value (the key keeps Grafana's default). */
const iniLine = (key: Expr<string>, v: Expr<IniAtom>) => cond(isNull(v), "", s`${key} = ${iniValue(v)}\n`);

/** The host part of a URL reaching a listen address: loopback for a wildcard, brackets for IPv6. */
const urlHost = helper("grafanaUrlHost", "address", (a: Expr<string>) =>
  cond(
    or(eq(a, ""), eq(a, "0.0.0.0")),
    "127.0.0.1",
    cond(eq(a, "::"), "[::1]", cond(matches(".*:.*", a), s`[${a}]`, a)),
  ),
);

const iniAtom = t.nullOr(t.oneOf([t.bool(), t.int(), t.float(), t.str()]));

export default defineService({
  name: "grafana",
  description: "[Grafana](https://grafana.com/oss/grafana/) dashboards, one server per instance, its database in `dataDir`; data sources and dashboards provisioned from Nix.",
  homepage: "https://grafana.com/docs/grafana/latest/setup-grafana/configure-grafana/",
  example: `services.grafana."dashboards" = {
  enable = true;
  http_port = 3001;
  extraConf.security = { admin_user = "admin"; admin_password = "secret"; };
  datasources = [ { name = "Prometheus"; type = "prometheus"; access = "proxy"; url = "http://127.0.0.1:9090"; } ];
};`,
  options: {
    package: t.package("grafana"),
    http_port: t.port({
      default: 3000,
      description: "The TCP port of the web interface and API (`server.http_port`). services-flake types it as any integer; here it must be a port number.",
    }),
    http_addr: t.str({
      default: "127.0.0.1",
      example: "0.0.0.0",
      description:
        "The address the server listens on (`server.http_addr`); `\"\"` means every interface. Not in services-flake, " +
        "which leaves it to Grafana's default, every interface. Set it here rather than in `extraConf`: the readiness check reads it.",
    }),
    domain: t.str({
      default: "localhost",
      description: "The domain name browsers use to reach Grafana (`server.domain`), part of the URLs it builds.",
    }),
    protocol: t.str({
      default: "http",
      description:
        "`server.protocol`: `http`, `https` (set `cert_file` and `cert_key` in `extraConf.server`), `h2` or `socket` " +
        "(a Unix socket, `extraConf.server.socket`; the port is then unused).",
    }),
    extraConf: t.attrsOf(t.attrsOf(iniAtom), {
      default: {},
      example: { security: { admin_user: "admin", admin_password: "secret" } },
      description:
        "More of grafana.ini, by section then key, merged over the settings above. `null` leaves a key out. " +
        'Strings are written between `"""`, so they may hold any character but `"""`. ' +
        "grafana.ini is in the Nix store, which every local user can read: keep real secrets out (Grafana reads `$__file{path}` values from files).",
    }),
    datasources: t.listOf(t.anything(), {
      default: [],
      example: [{ name: "Tempo", type: "tempo", access: "proxy", url: "http://127.0.0.1:3200" }],
      description:
        "Data sources to provision, in [Grafana's schema](https://grafana.com/docs/grafana/latest/administration/provisioning/#data-sources).",
    }),
    deleteDatasources: t.listOf(t.anything(), {
      default: [],
      example: [{ name: "Tempo", orgId: 1 }],
      description: "Provisioned data sources to delete at start (`deleteDatasources`), by `name` and `orgId`.",
    }),
    declarativePlugins: t.nullOr(t.listOf(t.path()), {
      default: null,
      example: { nix: "with pkgs.grafanaPlugins; [ grafana-piechart-panel ]" },
      description:
        "Plugin packages to install. `null` keeps Grafana's own plugin directory (in `dataDir`, where plugins may be " +
        "installed by hand); a list makes the plugin directory exactly these, rebuilt at every start.",
    }),
    providers: t.listOf(t.anything(), {
      default: [],
      example: { nix: '[ { name = "Dashboards"; type = "file"; options.path = ./dashboards; } ]' },
      description:
        "Dashboard providers to provision, in [Grafana's schema](https://grafana.com/docs/grafana/latest/administration/provisioning/#dashboards).",
    }),
  },
  ports: ({ cfg }) => [{ port: cond(hasPrefix("socket", cfg.protocol), 0, cfg.http_port), option: "http_port" }],
  processes: ({ name, cfg, pkgs }) => {
    const settings = recursiveUpdate<Ini>({
      server: { protocol: cfg.protocol, http_port: cfg.http_port, http_addr: cfg.http_addr, domain: cfg.domain },
    }, cfg.extraConf);
    const ini = file(
      "grafana.ini",
      concatStrings(mapAttrsToList(settings, (section, keys) => s`[${section}]\n${concatStrings(mapAttrsToList(keys, iniLine, "value"))}\n`, "keys")),
    );
    // Provisioning files are YAML; JSON is YAML.
    const datasources = file("datasources.yaml", toJSON({ apiVersion: 1, deleteDatasources: cfg.deleteDatasources, datasources: cfg.datasources }));
    const providers = file("providers.yaml", toJSON({ apiVersion: 1, providers: cfg.providers }));
    const socket = attrOr<string>(settings, ["server", "socket"], "/tmp/grafana.sock");
    const scheme = cond(eq(cfg.protocol, "http"), "http", "https");
    return [
      process(name, {
        command: script({
          name: "start-grafana",
          runtimeInputs: [cfg.package, pkgs.coreutils],
          // The provisioning tree is rebuilt in dataDir at every start (links to the files above).
          text: sh`
            data=${runtimePath(cfg.dataDir)}
            provisioning="$data/provisioning"
            rm -rf -- "$provisioning"
            mkdir -p -- "$provisioning/alerting" "$provisioning/dashboards" "$provisioning/datasources" "$provisioning/notifiers" "$provisioning/plugins"
            ln -s -- ${providers} "$provisioning/dashboards/providers.yaml"
            ln -s -- ${datasources} "$provisioning/datasources/datasources.yaml"
            ${ifSet(
              cfg.declarativePlugins,
              (plugins) => sh`
                plugins="$data/declarative-plugins"
                rm -rf -- "$plugins"
                mkdir -p -- "$plugins"
                packages=(${mapList(plugins, (p) => s`${p}`, "plugin")})
                for plugin in "$\{packages[@]}"; do
                  ln -sfn -- "$plugin" "$plugins/$(basename -- "$plugin")"
                done
                set -- cfg:paths.plugins="$plugins"
              `,
              sh`set --`,
            )}
            exec grafana server --config ${ini} --homepath ${s`${cfg.package}/share/grafana`} cfg:paths.data="$data" cfg:paths.provisioning="$provisioning" "$@"
          `,
        }),
        // Ready when /api/health answers (any certificate is accepted: it only proves the server is up).
        readiness: {
          exec: cond(
            hasPrefix("socket", cfg.protocol),
            sh`${exe(pkgs.curl)} -sf --unix-socket ${socket} http://localhost/api/health`,
            sh`${exe(pkgs.curl)} -sfk ${s`${scheme}://${urlHost(cfg.http_addr)}:${cfg.http_port}/api/health`}`,
          ),
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
