/**
 * MySQL or MariaDB, one server per instance, its data in `dataDir`. Options,
 * defaults and process names (`<name>`, then `<name>-configure`) follow
 * services-flake's `mysql` service; MariaDB is the default package, as there.
 * Server options: https://mariadb.com/kb/en/mariadbd-options/
 */
import {
  concatStrings,
  cond,
  defineService,
  exe,
  file,
  ifSet,
  mapAttrsToList,
  mapList,
  mysqlIdent,
  mysqlSql,
  named,
  nix,
  optional,
  orElse,
  process,
  rawSql,
  runtimePath,
  s,
  script,
  sh,
  t,
  toINI,
} from "../dsl";

export default defineService({
  name: "mysql",
  description: "[MySQL](https://dev.mysql.com/doc/refman/8.4/en/) or [MariaDB](https://mariadb.org/), one server per instance, with initial databases and users.",
  homepage: "https://mariadb.com/kb/en/mariadbd-options/",
  example: `services.mysql."db" = {
  enable = true;
  settings.mysqld.port = 3307;
  initialDatabases = [ { name = "app"; schema = ./schema.sql; } ];
  ensureUsers = [ { name = "app"; password = "app"; ensurePermissions = { "app.*" = "ALL PRIVILEGES"; }; } ];
};`,
  options: {
    package: t.package("mariadb", {
      description: "The server package: MariaDB (the default) or MySQL (`pkgs.mysql84`); which one decides how a new data directory is initialised.",
    }),
    socketDir: t.nullOr(t.str(), {
      default: ({ cfg }) => cfg.dataDir,
      defaultText: "config.dataDir",
      description: "The directory of the server's Unix socket, `mysql.sock`; `null` means `dataDir`.",
    }),
    settings: t.submodule(
      {
        mysqld: t.submodule(
          {
            port: t.port({ default: 3306, description: "The TCP port the server listens on." }),
            "bind-address": t.str({
              default: "127.0.0.1",
              example: "0.0.0.0",
              description:
                "The address the server listens on. services-flake leaves it to the server's default, every interface; " +
                "here a development server is reachable from this machine only unless you say otherwise.",
            }),
          },
          { default: {}, freeform: t.anything(), description: "The `[mysqld]` section: any server option, by its name in option files." },
        ),
      },
      {
        default: {},
        freeform: t.attrsOf(t.anything()),
        example: { nix: '{ mysqld = { key_buffer_size = "16M"; plugin-load-add = [ "server_audit" ]; }; mysqldump.quick = true; }' },
        description:
          "The option file (`my.cnf`), section by section: `key = value` lines; booleans are written `true`/`false`, " +
          "and a list repeats its key once per element.",
      },
    ),
    initialScript: t.nullOr(t.str(), {
      default: null,
      example: "CREATE USER reader IDENTIFIED BY 'secret';\nGRANT SELECT ON app.* TO reader;\n",
      description:
        "SQL run as root after `initialDatabases` and `ensureUsers`, once: on the first start that gets that far " +
        "(services-flake runs it on every start, so a `CREATE USER` in it fails from the second start on).",
    }),
    initialDatabases: t.listOf(
      t.submodule({
        name: t.str({ description: "The database's name (any characters; quoted for SQL)." }),
        schema: t.nullOr(t.path(), {
          default: null,
          description: "An SQL file, or a directory whose `*.sql` files are applied in name order; `null` creates an empty database.",
        }),
      }),
      {
        default: [],
        example: { nix: '[ { name = "app"; schema = ./schema; } { name = "scratch"; } ]' },
        description:
          "Databases created when they do not exist yet, each with its schema. A schema that fails drops its database " +
          "again and stops `<name>-configure`, so the next start retries it (services-flake keeps the half-made database and skips it from then on).",
      },
    ),
    importTimeZones: t.nullOr(t.bool(), {
      default: null,
      description:
        "Load the time zone tables (`mysql_tzinfo_to_sql`) when the data directory is created. `null` means: when " +
        '`settings.mysqld."default-time-zone"` is set.',
    }),
    ensureUsers: t.listOf(
      t.submodule({
        name: t.str({ description: "The account's user name; the account is `'<name>'@'localhost'`." }),
        password: t.nullOr(t.str(), {
          default: null,
          description: "Its password; `null` creates the account without one. It is written into the Nix store, which every local user can read.",
        }),
        ensurePermissions: t.attrsOf(t.str(), {
          default: {},
          example: { "app.*": "ALL PRIVILEGES", "*.*": "SELECT, LOCK TABLES" },
          description:
            "Privileges by target: each becomes `GRANT <value> ON <name> TO …`, both written as SQL " +
            "([GRANT](https://mariadb.com/kb/en/grant/)).",
        }),
      }),
      {
        default: [],
        example: { nix: '[ { name = "app"; password = "app"; ensurePermissions = { "app.*" = "ALL PRIVILEGES"; }; } ]' },
        description: "Accounts created on every start when missing, with at least these privileges; none is ever dropped or revoked.",
      },
    ),
  },
  ports: ({ cfg }) => [{ port: cfg.settings.mysqld.port, option: "settings.mysqld.port" }],
  processes: ({ name, cfg, pkgs, let: bind }) => {
    const conf = bind("myCnf", file("my.cnf", toINI(cfg.settings, { listsAsDuplicateKeys: true })));
    const socketDir = named("socketDir", orElse(cfg.socketDir, cfg.dataDir));
    // MariaDB or MySQL, as NixOS's mysql module and services-flake's tell them apart: by the package's name
    // against pkgs.mariadb's. nixpkgs names its MariaDB server mariadb-server (pkgs/servers/sql/mariadb/default.nix),
    // every mariadb_* attribute alike, and MySQL mysql (pkgs/by-name/my/mysql84/package.nix); test/nixpkgs-facts.json.
    const isMariaDB = nix<boolean>("bool")`lib.getName ${cfg.package} == lib.getName ${pkgs.get("mariadb")}`;
    const importTimeZones = orElse(cfg.importTimeZones, nix<boolean>("bool")`${cfg.settings.mysqld} ? "default-time-zone"`);
    // The client and server environment: the socket, the TCP port and MYSQL_HOME, as services-flake exports them.
    const env = sh`
      data=${runtimePath(cfg.dataDir)}
      sockets=${runtimePath(socketDir)}
      MYSQL_HOME=$(realpath -m -- "$data")
      MYSQL_UNIX_PORT=$(realpath -m -- "$sockets")/mysql.sock
      MYSQLX_UNIX_PORT=$(realpath -m -- "$sockets")/mysqlx.sock
      MYSQL_TCP_PORT=${cfg.settings.mysqld.port}
      export MYSQL_HOME MYSQL_UNIX_PORT MYSQLX_UNIX_PORT MYSQL_TCP_PORT
    `;
    return [
      process(name, {
        command: script({
          name: "start-mysql",
          runtimeInputs: [cfg.package, pkgs.coreutils, pkgs.findutils],
          text: sh`
            ${env}
            mkdir -p -- "$sockets"
            if [ ! -f "$data/ibdata1" ]; then
              # A new data directory is made beside dataDir and moved in when complete, ibdata1
              # last: an interrupted first start leaves no directory that looks initialised.
              init="$data.init"
              rm -rf -- "$init"
              mkdir -p -- "$init"
              ${cond(
                isMariaDB,
                sh`mysql_install_db --defaults-file=${conf} --datadir="$init" --basedir=${cfg.package} --auth-root-authentication-method=normal >/dev/null`,
                sh`mysqld --defaults-file=${conf} --datadir="$init" --basedir=${cfg.package} --default-time-zone=SYSTEM --initialize-insecure`,
              )}
              ${optional(
                importTimeZones,
                sh`
                  # The time zone tables, loaded through a server of its own that listens on no port.
                  mysqld --defaults-file=${conf} --datadir="$init" --basedir=${cfg.package} --socket="$init/tz.sock" --skip-networking --default-time-zone=SYSTEM &
                  tz_server=$!
                  for _ in $(seq 1 600); do
                    MYSQL_PWD="" mysqladmin --socket="$init/tz.sock" -u root ping --silent 2>/dev/null && break
                    kill -0 "$tz_server" 2>/dev/null || { echo "mysql: the server for loading time zones stopped" >&2; exit 1; }
                    sleep 0.1
                  done
                  mysql_tzinfo_to_sql ${pkgs.get("tzdata")}/share/zoneinfo | MYSQL_PWD="" mysql --socket="$init/tz.sock" -u root mysql
                  MYSQL_PWD="" mysqladmin --socket="$init/tz.sock" -u root shutdown
                  wait "$tz_server" || true
                `,
              )}
              mkdir -p -- "$data"
              find "$init" -mindepth 1 -maxdepth 1 ! -name ibdata1 -exec sh -c 'for f; do rm -rf -- "$0/$(basename -- "$f")"; mv -- "$f" "$0/"; done' "$data" {} +
              mv -- "$init/ibdata1" "$data/ibdata1"
              rmdir -- "$init"
            fi
            exec mysqld --defaults-file=${conf} --datadir="$data" --basedir=${cfg.package}
          `,
        }),
        // Ready when the server answers on its own socket, in its own socketDir.
        readiness: { exec: sh`${exe(cfg.package, "mysqladmin")} --socket=${socketDir}/mysql.sock ping -h localhost` },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
      process(s`${name}-configure`, {
        command: script({
          name: "configure-mysql",
          runtimeInputs: [cfg.package, pkgs.coreutils, pkgs.findutils],
          text: sh`
            ${env}
            # Root over the socket; string literals are written for the default sql_mode, which the session makes sure of.
            mode="SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')"
            mysql_root() {
              MYSQL_PWD="" mysql --defaults-file=${conf} -u root -N -B --init-command="$mode" "$@"
            }
            mysql_root -e 'SELECT 1' >/dev/null
            # An SQL file, or a directory's *.sql files in name order.
            schema_sql() {
              if [ -d "$1" ]; then
                find "$1" -type f -name '*.sql' -print0 | sort -z | xargs -0 -r cat --
              else
                cat -- "$1"
              fi
            }
            ${concatStrings(
              mapList(
                cfg.initialDatabases,
                (db) => sh`
                  if [ "$(mysql_root -e ${mysqlSql`SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ${db.name}`})" = 0 ]; then
                    printf 'Creating initial database: %s\\n' ${db.name}
                    mysql_root -e ${mysqlSql`CREATE DATABASE ${mysqlIdent(db.name)}`}
                    ${ifSet(
                      db.schema,
                      (schema) => sh`
                        if ! schema_sql ${s`${schema}`} | mysql_root --database=${db.name}; then
                          mysql_root -e ${mysqlSql`DROP DATABASE ${mysqlIdent(db.name)}`}
                          printf 'mysql: the schema of %s failed; the database was dropped again, so the next start retries it\\n' ${db.name} >&2
                          exit 1
                        fi
                      `,
                      sh``,
                    )}
                  else
                    printf 'Database %s exists, skipping creation.\\n' ${db.name}
                  fi
                `,
                "db",
              ),
            )}
            ${concatStrings(
              mapList(
                cfg.ensureUsers,
                (user) => {
                  const account = named("account", mysqlSql`${user.name}@'localhost'`);
                  return sh`
                    printf 'Adding user: %s\\n' ${user.name}
                    # On standard input, not -e: a password in the command line is visible to every local user (ps).
                    mysql_root <<<${mysqlSql`CREATE USER IF NOT EXISTS ${account}${ifSet(user.password, (p) => mysqlSql` IDENTIFIED BY ${p}`, mysqlSql``)}`}
                    ${concatStrings(
                      mapAttrsToList(user.ensurePermissions, (target, privileges) => sh`mysql_root -e ${mysqlSql`GRANT ${rawSql(privileges)} ON ${rawSql(target)} TO ${account}`}\n`, "privileges"),
                    )}
                  `;
                },
                "user",
              ),
            )}
            ${ifSet(
              cfg.initialScript,
              (initial) => sh`
                # initialScript runs once; the marker is written only after it succeeded.
                if [ ! -e "$data/.initial-script-done" ]; then
                  mysql_root < ${file("initial.sql", initial)}
                  touch -- "$data/.initial-script-done"
                fi
              `,
              sh``,
            )}
          `,
        }),
        oneshot: true,
        dependsOn: [{ process: name, condition: "ready" }],
      }),
    ];
  },
});
