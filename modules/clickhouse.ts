/**
 * ClickHouse, one server per instance, its databases in `dataDir`. Options,
 * defaults and process names follow services-flake's `clickhouse` service, so its
 * users' configurations work unchanged.
 * Server settings: https://clickhouse.com/docs/en/operations/server-configuration-parameters/settings
 * Configuration files (YAML): https://clickhouse.com/docs/en/operations/configuration-files
 */
import {
  attrOr,
  concatStrings,
  cond,
  defineService,
  exe,
  type Expr,
  file,
  helper,
  mapList,
  named,
  nix,
  nonEmpty,
  orElse,
  process,
  recursiveUpdate,
  replaceStrings,
  runtimePath,
  s,
  script,
  sh,
  t,
  toJSON,
  toStr,
} from "../dsl";

/** A ClickHouse identifier in backquotes, with `\` and `` ` `` escaped by a backslash. */
const chIdent = helper("clickhouseIdent", "id", (v: Expr<string>) => s`\`${replaceStrings(["\\", "`"], ["\\\\", "\\`"], v)}\``);

/** A port setting of the configuration as a number (YAML lets it be a string); 0 when it is not set. */
const portSetting = helper("clickhousePortSetting", "v", (v: Expr<unknown>) =>
  nix<number>("int")`if builtins.isString ${v} then lib.toInt ${v} else ${v}`,
);

/** The server's settings: `extraConfig` merged recursively over `defaultExtraConfig`. */
const merged = (cfg: { defaultExtraConfig: Expr<unknown>; extraConfig: Expr<unknown> }) =>
  recursiveUpdate<Readonly<Record<string, unknown>>>(cfg.defaultExtraConfig, cfg.extraConfig);

/** Top-level settings that make the server listen on a TCP port of their own. */
const portKeys = ["http_port", "https_port", "tcp_port_secure", "interserver_http_port", "interserver_https_port", "mysql_port", "postgresql_port", "grpc_port"];

export default defineService({
  name: "clickhouse",
  description: "[ClickHouse](https://clickhouse.com/) column-oriented database server, one per instance, its data in `dataDir`.",
  homepage: "https://clickhouse.com/docs/en/operations/server-configuration-parameters/settings",
  example: `services.clickhouse."olap" = {
  enable = true;
  port = 9001;
  extraConfig.http_port = 8124;
  initialDatabases = [ { name = "events"; schemas = [ ./events.sql ]; } ];
};`,
  options: {
    package: t.package("clickhouse"),
    port: t.port({
      default: 9000,
      description: "The TCP port of ClickHouse's native protocol (`tcp_port`), the one `clickhouse-client` connects to.",
    }),
    defaultExtraConfig: t.anything({
      default: ({ cfg }) => ({
        logger: { level: "warning", console: 1 },
        default_profile: "default",
        default_database: "default",
        tcp_port: toStr(cfg.port),
        path: s`${cfg.dataDir}/clickhouse`,
        tmp_path: s`${cfg.dataDir}/clickhouse/tmp`,
        user_files_path: s`${cfg.dataDir}/clickhouse/user_files`,
        format_schema_path: s`${cfg.dataDir}/clickhouse/format_schemas`,
        user_directories: {
          users_xml: { path: s`${cfg.package}/etc/clickhouse-server/users.xml` },
          local_directory: { path: s`${cfg.dataDir}/clickhouse/access` },
        },
      }),
      defaultText: { md: "logging to the console, `tcp_port` from `port`, and every data path under `dataDir`" },
      readOnly: true,
      internal: true,
      description: "Settings `extraConfig` is merged over.",
    }),
    extraConfig: t.anything({
      default: {},
      example: { http_port: 8123, max_server_memory_usage_to_ram_ratio: 0.5 },
      description:
        "Server settings merged (recursively) over the defaults and written to `clickhouse-config.yaml` " +
        "(as JSON, which YAML reads). ClickHouse listens on localhost only unless `listen_host` is set here; " +
        "the HTTP interface is off unless `http_port` is set.",
    }),
    initialDatabases: t.listOf(
      t.submodule({
        name: t.str({
          description: "Name of the database to create; quoted as an identifier (services-flake puts it into the SQL as it is).",
        }),
        schemas: t.nullOr(t.listOf(t.path()), {
          default: null,
          description:
            "SQL files run in order after the database is created, each as it is through `clickhouse-client --multiquery` " +
            "(services-flake first joins its lines, which breaks `--` comments); name the tables with their database " +
            "(`db.table`). `null` creates an empty database.",
        }),
      }),
      {
        default: [],
        example: { nix: '[ { name = "events"; schemas = [ ./events.sql ]; } { name = "scratch"; } ]' },
        description:
          "Databases created on first start (when `dataDir` does not exist yet), each with its schemas applied in order. " +
          "Unlike services-flake's, a first start whose setup fails removes the `dataDir` it created, " +
          "so that the next start sets up again rather than skip a half-made setup.",
      },
    ),
  },
  ports: ({ cfg }) => {
    const settings = named("settings", merged(cfg));
    return [
      { port: cfg.port, option: "port" },
      ...portKeys.map((key) => ({
        port: portSetting(attrOr(settings, [key], 0)),
        option: `extraConfig.${key}`,
      })),
    ];
  },
  processes: ({ name, cfg, pkgs, let: bind }) => {
    const config = bind("clickhouseConfig", file("clickhouse-config.yaml", toJSON(named("settings", merged(cfg)))));
    const databases = concatStrings(
      mapList(
        cfg.initialDatabases,
        (db) =>
          sh`
            echo ${s`creating database ${db.name}`}
            client --query ${s`CREATE DATABASE IF NOT EXISTS ${chIdent(db.name)}`}
            ${concatStrings(mapList(orElse(db.schemas, []), (schema) => sh`client --multiline --multiquery < ${s`${schema}`}\n`, "schema"))}
          `,
        "db",
      ),
    );
    // A temporary server (the configured one, before anything else may connect) creates the databases.
    // Unlike services-flake's setup, it waits for the server to answer rather than sleep 5 s, and for it to
    // stop before the real server starts on the same ports and data; with no databases to create, none starts.
    const createDatabases = sh`
      client() { clickhouse-client --port ${cfg.port} "$@"; }

      mkdir -p -- "$data"
      clickhouse-server --config-file=${config} &
      server=$!
      finish() {
        status=$?
        kill "$server" 2>/dev/null || true
        wait "$server" || true
        if [[ $status != 0 ]]; then
          echo "setup failed: removing $data so that the next start sets up again" >&2
          rm -rf -- "$data"
        fi
      }
      trap finish EXIT

      until client --query 'SELECT 1' >/dev/null 2>&1; do
        if ! kill -0 "$server" 2>/dev/null; then
          echo "clickhouse-server exited during setup" >&2
          exit 1
        fi
        if (( SECONDS > 120 )); then
          echo "clickhouse-server did not answer within 120 s" >&2
          exit 1
        fi
        sleep 0.1
      done
      ${databases}
      echo "ClickHouse's initial databases are set up"
    `;
    const setup = script({
      name: "setup-clickhouse",
      runtimeInputs: [cfg.package, pkgs.coreutils],
      text: sh`
        data=${runtimePath(cfg.dataDir)}
        if [[ -d "$data" ]]; then
          echo "$data exists: ClickHouse was set up already"
          exit 0
        fi
        ${cond(nonEmpty(cfg.initialDatabases), createDatabases, sh`echo "no initialDatabases: nothing to set up"`)}
      `,
    });
    const init = process(s`${name}-init`, { command: setup, oneshot: true });
    return [
      init,
      process(name, {
        command: script({
          name: "start-clickhouse",
          runtimeInputs: [cfg.package],
          // Relative paths of the configuration (dataDir's) resolve from where the stack runs, as services-flake's.
          text: sh`exec clickhouse-server --config-file=${config}`,
        }),
        dependsOn: [{ process: init, condition: "succeeded" }],
        // Ready when the server answers a query over its native protocol.
        readiness: { exec: sh`${exe(cfg.package, "clickhouse-client")} --port ${cfg.port} --query 'SELECT 1'` },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
