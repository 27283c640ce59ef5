/**
 * PostgreSQL, one cluster per instance. Options, defaults and process names
 * (`<name>-init`, then `<name>`) follow services-flake's `postgres` service;
 * `ensureDatabases` / `ensureUsers` follow NixOS's `services.postgresql` and are
 * applied on every start.
 * Server configuration: https://www.postgresql.org/docs/current/runtime-config.html
 */
import { and, concatLists, concatStrings, cond, connectHost, defineService, eq, exe, type Expr, file, fn, helper, ident, ifSet, type Infer, mapAttrsToList, mapList, matches, named, neq, nix, nonEmpty, not, notNull, optional, optionRoot, or, orElse, type Pkg, process, rawSql, type Ref, replaceStrings, runtimePath, s, script, sh, sql, switchType, t, toStr, update } from "../dsl";

/** A postgresql.conf value: booleans as on/off, strings quoted with `'` doubled and `\` escaped. */
const confValue = helper("postgresqlConfValue", "value", (v: Expr<unknown>) =>
  switchType<string>(v, {
    bool: (b) => cond(b, "on", "off"),
    string: (str) => s`'${replaceStrings(["\\", "'", "\n"], ["\\\\", "''", "\\n"], str)}'`,
    other: (x) => toStr(x as Expr<number>),
  }),
);

/**
 * A pg_hba.conf field: written bare when it is one plain token, else double-quoted
 * (`"` doubled; quoting also makes keywords such as `all` literal, and keeps an
 * empty value as a column). A newline cannot be represented in pg_hba.conf.
 */
export const hbaField = helper("hbaField", "field", (f: Expr<string>) =>
  cond(matches('[^[:space:]"#,]+', f), f, s`"${replaceStrings(['"'], ['""'], f)}"`),
);

/** The address column: empty for `local` entries, else a field. */
export const hbaAddress = helper("hbaAddress", "address", (f: Expr<string>) => cond(eq(f, ""), "", hbaField(f)));

const hbaEntry = t.submodule({
  type: t.str({ description: "Connection type: `local`, `host`, `hostssl`, …" }),
  database: t.str({ description: "Database name(s) the entry matches, or `all`, `replication`, …" }),
  user: t.str({ description: "Role name(s) the entry matches, or `all`." }),
  address: t.str({ description: "Client address (CIDR) for `host*` entries; empty for `local`." }),
  method: t.str({ description: "Authentication method: `trust`, `scram-sha-256`, `peer`, …" }),
});

/** One `pg_hba.conf` line for an `hbaConf` entry, each field quoted as pg_hba.conf reads it. */
export const hbaLine = (e: Ref<Infer<typeof hbaEntry>>): Expr<string> =>
  s`${hbaField(e.type)}\t${hbaField(e.database)}\t${hbaField(e.user)}\t${hbaAddress(e.address)}\t${hbaField(e.method)}\n`;

/** services-flake's default pg_hba.conf entries: trust on the local socket and loopback TCP. */
const defaultHba = (["all", "replication"] as const).flatMap((database) =>
  (
    [
      ["local", ""],
      ["host", "127.0.0.1/32"],
      ["host", "::1/128"],
    ] as const
  ).map(([type, address]) => ({ type, database, user: "all", address, method: "trust" })),
);

/**
 * The hardened mode's entries (`hardenedAuth`): `peer` on the local socket (the
 * operating-system user must be the role), `scram-sha-256` on loopback TCP.
 */
const hardenedHba = (["all", "replication"] as const).flatMap((database) => [
  { type: "local", database, user: "all", address: "", method: "peer" },
  { type: "host", database, user: "all", address: "127.0.0.1/32", method: "scram-sha-256" },
  { type: "host", database, user: "all", address: "::1/128", method: "scram-sha-256" },
]);

const settingValue = t.oneOf([t.bool(), t.float(), t.int(), t.str()]);

const roleClauses = {
  superuser: "SUPERUSER",
  createrole: "CREATEROLE",
  createdb: "CREATEDB",
  inherit: "INHERIT",
  login: "LOGIN",
  replication: "REPLICATION",
  bypassrls: "BYPASSRLS",
} as const;

export default defineService({
  name: "postgres",
  description:
    "[PostgreSQL](https://www.postgresql.org/) database server, one cluster per instance. " +
    "The `<name>-init` process creates the cluster on first start and applies `ensureDatabases` / `ensureUsers` on every start; `<name>` runs the server; " +
    "with `pgtap.enable`, `<name>-pgtap` runs pgTAP tests against it. `extensions` adds extensions to `package`; a data directory of another major " +
    "version is refused at start (or upgraded, with `upgrade.enable`).",
  homepage: "https://www.postgresql.org/docs/current/runtime-config.html",
  example: `services.postgres."pg1" = {
  enable = true;
  port = 5433;
  initialDatabases = [ { name = "app"; schemas = [ ./schema.sql ]; } ];
  ensureUsers = [ { name = "app"; ensureDBOwnership = true; } ];
  ensureDatabases = [ "app" ];
};`,
  options: {
    package: t.package("postgresql", {
      description:
        "With `extensions`, reading this option gives `package.withPackages extensions` (as services-flake's `apply` does): " +
        "every process of the instance, and you, see the server with its extensions. Its major version must be the data directory's " +
        "(`PG_VERSION`): a start refuses a directory of another major, unless `upgrade.enable`.",
      apply: (pkg, { cfg, name }) =>
        cond(
          notNull(cfg.extensions),
          nix<Pkg>("package")`if ${pkg} ? withPackages then ${pkg}.withPackages ${cfg.extensions} else throw ${s`${optionRoot}.postgres."${name}".extensions: the package has no withPackages (it may already have extensions: give those in extensions instead).`}`,
          pkg,
        ),
    }),
    extensions: t.nullOr(t.functionTo(t.listOf(t.package())), {
      default: null,
      example: { nix: "ps: [ ps.postgis ps.pg_cron ps.pgtap ]" },
      description:
        "Extensions to install, as a function of the package's extension set (`package.pkgs`); `null`: none beyond the package's own. " +
        "Installing is not loading: extensions with a background worker or hooks also need `settings.shared_preload_libraries` " +
        "(pg_cron with `\"cron.database_name\"`, pgaudit), and each is created in a database with `CREATE EXTENSION` " +
        "(in a schema of `initialDatabases`, for example).",
    }),
    socketDir: t.str({
      default: "",
      description:
        "Directory of the Unix-domain socket. Empty: no Unix socket, TCP/IP only " +
        "(see [unix_socket_directories](https://www.postgresql.org/docs/current/runtime-config-connection.html#GUC-UNIX-SOCKET-DIRECTORIES)).",
    }),
    hbaConf: t.listOf(hbaEntry, {
      default: [],
      example: [{ type: "host", database: "all", user: "all", address: "0.0.0.0/0", method: "scram-sha-256" }],
      description:
        "Entries added to `pg_hba.conf` after the defaults (trust for local connections and loopback TCP). " +
        "See [pg_hba.conf](https://www.postgresql.org/docs/current/auth-pg-hba-conf.html).",
    }),
    hardenedAuth: t.bool({
      default: false,
      description:
        "Authenticate every connection: `peer` on the Unix socket, `scram-sha-256` over TCP, the superuser's password " +
        "generated on the first start into `passwordFile` (mode 0600, in the private `dataDir`). The default, as " +
        "services-flake's, trusts the socket and loopback TCP: any local user of the machine can connect as the superuser.",
    }),
    listen_addresses: t.str({ default: "127.0.0.1", example: "127.0.0.1", description: "Addresses the server listens on (`listen_addresses`)." }),
    port: t.port({ default: 5432, description: "The TCP port to accept connections on." }),
    superuser: t.nullOr(t.str(), { default: null, description: "Name of the superuser `initdb` creates; `null` means the user running it (`$USER`)." }),
    createDatabase: t.bool({
      default: true,
      description: "On first start, create a database named like the superuser. Only applies when `initialDatabases` is empty.",
    }),
    initdbArgs: t.listOf(t.lines(), {
      default: ["--locale=C", "--encoding=UTF8"],
      example: ["--data-checksums", "--allow-group-access"],
      description: "Arguments passed to `initdb` when the data directory is created, one argument per element.",
    }),
    initdbTemplate: t.submodule(
      {
        enable: t.bool({
          default: true,
          description:
            "Make a new cluster by copying a template instead of running `initdb` each time: the first cluster made with a given " +
            "`initdb` (its store path and version), `initdbArgs`, superuser, user and locale/time-zone environment runs `initdb` once into " +
            "`directory` (that start takes a little longer: it then copies too), and every later first start with the same inputs copies " +
            "that template (about 0.1–0.3 s instead of 0.7 s), then syncs it as `initdb` would. The copy is what `initdb` gives: same " +
            "files, modes, owner (you), superuser, locale and encoding — " +
            "except that every cluster copied from one template has the same `Database system identifier` (`pg_controldata`), which some " +
            "tools use to tell clusters apart (a standby checks its primary's, pgBackRest and Barman key their stanzas on it), and the same " +
            "mock authentication nonce (what a server answers for roles that do not exist): turn this off for clusters that such a tool must " +
            "tell apart. When the cache cannot be used (no `HOME`, a directory that cannot be written, " +
            "`initdbArgs` with `--waldir`, `--pwfile` or `--pwprompt`), the start says so in one line and runs `initdb` as before. " +
            "Off: `initdb` on every first start.",
        }),
        directory: t.nullOr(t.str(), {
          default: null,
          example: "/var/cache/postgres-templates",
          description:
            "Where the templates are kept (one directory per set of `initdb` inputs, about 40 MB each; delete any of them at any time). " +
            "A relative path is taken from where the stack runs. `null`: the per-user cache, " +
            "`$XDG_CACHE_HOME/services-ts/postgres-templates` or, when `XDG_CACHE_HOME` is unset, `$HOME/.cache/services-ts/postgres-templates`, " +
            "resolved when the setup runs (with neither set, as for a system service without a home, no template is used).",
        }),
      },
      { default: {}, description: "A per-machine template of the cluster `initdb` makes, copied on first start (see `enable`)." },
    ),
    settings: t.attrsOf(settingValue, {
      default: {},
      example: { log_connections: true, log_statement: "all", shared_buffers: "128MB" },
      description:
        "`postgresql.conf` settings, over the defaults (`listen_addresses`, `port`, `unix_socket_directories`, `hba_file`). " +
        "Strings are single-quoted with quotes and backslashes escaped; booleans become `on`/`off`.",
    }),
    initialDatabases: t.listOf(
      t.submodule({
        name: t.str({ description: "Name of the database to create." }),
        schemas: t.nullOr(t.listOf(t.path()), {
          default: null,
          description: "SQL files, or directories whose `*.sql` files are applied in name order; `null` creates an empty database.",
        }),
      }),
      {
        default: [],
        example: { nix: "[ { name = \"app\"; schemas = [ ./schema ./seed.sql ]; } { name = \"scratch\"; } ]" },
        description: "Databases created on first start, each with its schemas applied in order.",
      },
    ),
    initialScript: t.submodule(
      {
        before: t.nullOr(t.str(), { default: null, description: "SQL run on first start, before `initialDatabases` are created." }),
        after: t.nullOr(t.str(), { default: null, description: "SQL run on first start, after `initialDatabases` are created." }),
      },
      { default: {}, description: "SQL run once, when the cluster is created." },
    ),
    ensureDatabases: t.listOf(t.str(), {
      default: [],
      example: ["app", "analytics"],
      description: "Databases created on every start if missing (as NixOS's `services.postgresql.ensureDatabases`).",
    }),
    ensureUsers: t.listOf(
      t.submodule({
        name: t.str({ description: "Role name; created with LOGIN if missing." }),
        ensureDBOwnership: t.bool({
          default: false,
          description: "Make the role owner of the database of the same name (list that database in `ensureDatabases`).",
        }),
        ensureClauses: t.submodule(
          Object.fromEntries(
            Object.entries(roleClauses).map(([k, kw]) => [
              k,
              t.nullOr(t.bool(), { default: null, description: `\`true\`: ${kw}; \`false\`: NO${kw}; \`null\`: leave as is.` }),
            ]),
          ) as { [K in keyof typeof roleClauses]: ReturnType<typeof t.nullOr<boolean>> },
          { default: {}, description: "Role attributes applied with `ALTER ROLE` on every start." },
        ),
      }),
      {
        default: [],
        example: { nix: '[ { name = "app"; ensureDBOwnership = true; ensureClauses.createdb = true; } ]' },
        description: "Roles created and altered on every start if needed (as NixOS's `services.postgresql.ensureUsers`).",
      },
    ),
    upgrade: t.submodule(
      {
        enable: t.bool({
          default: false,
          description:
            "When the data directory holds a cluster of an older major version (its `PG_VERSION`) than `package`, upgrade it with " +
            "`pg_upgrade` at start instead of refusing: a new cluster is made in `<dataDir>.upgrade-<new major>`, filled by `pg_upgrade`, " +
            "and moved into place; the old cluster is kept, untouched by the server, as `<dataDir>.pg<old major>` (remove it yourself " +
            "once the new server works). Off: such a start stops with a message and changes nothing.",
        }),
        oldPackage: t.nullOr(t.package(), {
          default: null,
          example: { nix: "pkgs.postgresql_15" },
          description:
            "The PostgreSQL package of the data directory's major version, whose programs `pg_upgrade` runs the old cluster with; " +
            "it needs the extensions the old cluster uses (`pkgs.postgresql_15.withPackages (ps: [ … ])`). Required with `upgrade.enable`.",
        }),
        extraArgs: t.listOf(t.str(), {
          default: [],
          example: ["--link", "--jobs=4"],
          description: "More arguments for `pg_upgrade`, one argument per element (`--link` hard-links files instead of copying them).",
        }),
      },
      { default: {}, description: "Major-version upgrades with `pg_upgrade`, opt-in." },
    ),
    pgtap: t.submodule(
      {
        enable: t.bool({
          default: false,
          description:
            "Run pgTAP tests with `pg_prove` in the process `<name>-pgtap`, once the server is ready (after `initialDatabases`, " +
            "their schemas and `ensureDatabases`/`ensureUsers` are applied). Its output is TAP, its exit code the verdict: 0 when every " +
            "test passed. In CI, let this process end the stack with its verdict (the README shows how, under postgres: extensions, database tests, major versions).",
        }),
        tests: t.listOf(t.path(), {
          default: [],
          example: { nix: "[ ./db/tests ./db/extra_test.sql ]" },
          description: "Test files (`.sql`) and directories, whose `.sql` files (searched recursively) run in name order.",
        }),
        database: t.str({ default: "postgres", description: "The database the tests connect to." }),
        user: t.nullOr(t.str(), {
          default: null,
          description: "The role the tests connect as; `null`: the superuser (with `hardenedAuth`, its password is read from `passwordFile`).",
        }),
        extraArgs: t.listOf(t.str(), {
          default: [],
          example: ["--shuffle", "--set", "schema=app"],
          description: "More arguments for `pg_prove`, one argument per element.",
        }),
        package: t.package(["perlPackages", "TAPParserSourceHandlerpgTAP"], { description: "The package providing `pg_prove`." }),
      },
      { default: {}, description: "Database tests with pgTAP (the `pgtap` extension must be installed: `extensions = ps: [ ps.pgtap ]`)." },
    ),
  },

  derived: ({ cfg, let: bind }) => {
    const hba = bind(
      "hbaConfFile",
      file(
        "pg_hba.conf",
        concatStrings(mapList(concatLists(cond(cfg.hardenedAuth, hardenedHba, defaultHba), cfg.hbaConf), hbaLine, "entry")),
      ),
    );
    return {
      connectionURI: t.functionTo<{ dbName: string }, string>(t.str(), {
        readOnly: true,
        default: fn(["dbName"], ({ dbName }) => s`postgres://${cfg.listen_addresses}:${cfg.port}/${dbName}`),
        description:
          "A function from `{ dbName }` to a [connection URI](https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS) for the database.",
      }),
      passwordFile: t.str({
        readOnly: true,
        default: s`${cfg.dataDir}/superuser.password`,
        defaultText: '"<dataDir>/superuser.password"',
        description:
          "With `hardenedAuth`, the file holding the superuser's password (relative paths from where the stack runs): " +
          "other processes of the stack read it, e.g. `PGPASSWORD=$(cat <passwordFile>)`.",
      }),
      hbaConfFile: t.package(undefined, {
        readOnly: true,
        internal: true,
        default: hba,
        description: "The generated `pg_hba.conf`.",
      }),
      defaultSettings: t.attrsOf(settingValue, {
        readOnly: true,
        internal: true,
        default: {
          listen_addresses: cfg.listen_addresses,
          port: cfg.port,
          unix_socket_directories: cfg.socketDir,
          hba_file: s`${hba}`,
        },
        description: "Settings `settings` overrides.",
      }),
    };
  },

  // With listen_addresses empty, the server takes no TCP port (its socket still carries the number, in its own socketDir).
  ports: ({ cfg }) => [{ port: cond(eq(cfg.listen_addresses, ""), 0, cfg.port), option: "port" }],

  assertions: ({ cfg }) => [
    {
      // PostgreSQL takes port 0 as "no port" and then cannot be reached (nor probed) over TCP.
      assertion: neq(cfg.port, 0),
      message: "port is 0: PostgreSQL needs a TCP port (1-65535), which also names its Unix socket.",
    },
    {
      assertion: or(not(cfg.upgrade.enable), notNull(cfg.upgrade.oldPackage)),
      message: "upgrade.enable needs upgrade.oldPackage: the PostgreSQL package of the data directory's major version (pkgs.postgresql_15, …).",
    },
    {
      assertion: or(not(cfg.pgtap.enable), nonEmpty(cfg.pgtap.tests)),
      message: "pgtap.enable needs pgtap.tests: the test files or directories to run.",
    },
  ],

  processes: ({ name, cfg, pkgs, let: bind }) => {
    // With extensions, cfg.package is already package.withPackages extensions (the option's apply).
    const pkg = cfg.package;
    // A package's major version as PG_VERSION spells it ("15"; "9.6" before PostgreSQL 10): nixpkgs' psqlSchema.
    // Empty when the package says neither (a package of your own without `version`): then nothing is checked.
    const majorOf = (p: Expr<Pkg>) =>
      nix<string>("string")`${p}.psqlSchema or (if ${p} ? version then lib.versions.major ${p}.version else "")`;
    // upgrade.oldPackage, read only when upgrade.enable (an assertion makes it non-null then).
    const oldPkg = nix<Pkg>("package")`${cfg.upgrade.oldPackage}`;
    const setupHba = file("pg_hba-setup.conf", "local all all trust\n");
    const superuserArgs = named("superuserArgs", ifSet(cfg.superuser, (u) => sh`-U ${u}`, sh``));
    const conf = bind(
      "postgresqlConf",
      file(
        "postgresql.conf",
        concatStrings(mapAttrsToList(update(cfg.defaultSettings, cfg.settings), (k, v) => s`${k} = ${confValue(v)}\n`, "value")),
      ),
    );

    const createDb = (db: Expr<string>) =>
      sql`SELECT format('CREATE DATABASE %I', ${db}) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = ${db})\\gexec\n`;

    const firstRunSql = bind(
      "initialSql",
      file(
        "initial.sql",
        concatStrings([
          ifSet(cfg.initialScript.before, (b) => sql`${rawSql(b)}\n`, sql``),
          concatStrings(mapList(cfg.initialDatabases, (db) => createDb(db.name), "db")),
          optional(
            and(eq(cfg.initialDatabases, []), cfg.createDatabase),
            sql`SELECT format('CREATE DATABASE %I', current_user) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = current_user)\\gexec\n`,
          ),
        ]),
      ),
    );
    const schemaCommands = concatStrings(
      mapList(
        cfg.initialDatabases,
        (db) =>
          concatStrings(
            mapList(
              orElse(db.schemas, []),
              // s`${schema}` copies the schema into the store, as Nix does for interpolated paths.
              (schema) => sh`apply_schema ${db.name} ${s`${schema}`}\n`,
              "schema",
            ),
          ),
        "db",
      ),
    );
    const afterSql = ifSet(cfg.initialScript.after, (a) => sh`psql_admin -d postgres -f ${file("initial-after.sql", a)}\n`, sh``);

    const ensureSql = bind(
      "ensureSql",
      file(
        "ensure.sql",
        concatStrings([
          concatStrings(mapList(cfg.ensureDatabases, (db) => createDb(db), "db")),
          concatStrings(
            mapList(
              cfg.ensureUsers,
              (u) => {
                const user = u.name;
                const clauses = named("clauses", concatStrings(
                  (Object.entries(roleClauses) as [keyof typeof roleClauses, string][]).map(([k, kw]) =>
                    ifSet(u.ensureClauses[k], (on) => cond(on, ` ${kw}`, ` NO${kw}`), ""),
                  ),
                ));
                return concatStrings([
                  sql`SELECT format('CREATE ROLE %I WITH LOGIN', ${user}) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${user})\\gexec\n`,
                  cond(nonEmpty(clauses), sql`ALTER ROLE ${ident(user)} WITH${rawSql(clauses)};\n`, sql``),
                  optional(u.ensureDBOwnership, sql`ALTER DATABASE ${ident(user)} OWNER TO ${ident(user)};\n`),
                ]);
              },
              "user",
            ),
          ),
        ]),
      ),
    );
    const hasEnsure = or(nonEmpty(cfg.ensureDatabases), nonEmpty(cfg.ensureUsers));

    // initdbTemplate: the new cluster ($cluster) copied from a per-machine template made by initdb once per set of
    // inputs; whenever the cache cannot be used, one line says why and initdb runs as without it.
    const templateCommands = sh`
      initdb_args=(${cfg.initdbArgs} ${superuserArgs})
      template_dir=${ifSet(cfg.initdbTemplate.directory, (d) => runtimePath(d), sh`""`)}
      # cluster_from_template TARGET: TARGET made as initdb would make it, from the template; 1 when not possible.
      cluster_from_template() {
        local no_sync=0 a key template mtime
        for a in "\${initdb_args[@]}"; do
          case $a in
            -N | --no-sync) no_sync=1 ;;
            -W | --pwprompt | --pwfile | --pwfile=* | -X | -X* | --waldir | --waldir=*)
              echo "initdbTemplate: initdbArgs has $a, which names something outside the cluster: running initdb without the template"
              return 1
              ;;
          esac
        done
        if [[ -z $template_dir ]]; then
          if [[ \${XDG_CACHE_HOME:-} == /* ]]; then
            template_dir=$XDG_CACHE_HOME/services-ts/postgres-templates
          elif [[ -n \${HOME:-} ]]; then
            template_dir=$HOME/.cache/services-ts/postgres-templates
          else
            echo "initdbTemplate: neither XDG_CACHE_HOME nor HOME is set, so there is no cache directory: running initdb without the template"
            return 1
          fi
        fi
        if ! (umask 077 && mkdir -p -- "$template_dir") 2>/dev/null || [[ ! -w $template_dir ]]; then
          echo "initdbTemplate: cannot create or write $template_dir: running initdb without the template"
          return 1
        fi
        # Everything initdb's result depends on: the program, its arguments (superuser included), the user running it
        # (the superuser's name when superuser is null, and the owner of the files) and the environment it reads.
        key=$(
          {
            echo "services-ts postgres initdb template 1"
            command -v initdb
            initdb --version
            id -u
            id -un 2>/dev/null || true
            printf 'arg %s\\n' "\${initdb_args[@]}"
            env | { grep -E '^(LANG|LANGUAGE|LC_[A-Z_]+|TZ|PGTZ)=' || true; } | sort
          } | sha256sum | cut -c 1-64
        )
        template=$template_dir/$key
        if [[ ! -f $template/global/pg_control ]]; then
          # Built beside its place and renamed into it only when complete: a half-made template is never used. Two
          # starts building at once: the first rename wins, the other removes its own and copies the winner's.
          # Builds a killed start left behind are removed after an hour.
          for a in "$template_dir"/.building-*; do
            if [[ -d $a ]] && mtime=$(stat -c %Y -- "$a" 2>/dev/null) && (( $(date +%s) - mtime > 3600 )); then rm -rf -- "$a"; fi
          done
          if ! template_tmp=$(mktemp -d -- "$template_dir/.building-XXXXXX" 2>/dev/null); then
            template_tmp=""
            echo "initdbTemplate: cannot write in $template_dir: running initdb without the template"
            return 1
          fi
          echo "initdbTemplate: making the template $template"
          if ! initdb "\${initdb_args[@]}" -D "$template_tmp/data"; then
            rm -rf -- "$template_tmp"
            template_tmp=""
            echo "initdbTemplate: initdb failed making the template: running initdb without the template"
            return 1
          fi
          # The template outlives this start: durable even when initdbArgs skip the sync.
          if [[ $no_sync == 1 ]]; then sync -f -- "$template_tmp/data"; fi
          mv -T -- "$template_tmp/data" "$template" 2>/dev/null || echo "initdbTemplate: another start made the template first; using it"
          rm -rf -- "$template_tmp"
          template_tmp=""
          if [[ ! -f $template/global/pg_control ]]; then
            echo "initdbTemplate: the template could not be put in place: running initdb without the template"
            return 1
          fi
        fi
        # Modes as initdb set them (0700, or 0750/0640 with --allow-group-access); the files are the user's own. On a file
        # system that can share blocks copy-on-write (btrfs, XFS), the copy shares them.
        if ! cp -dR --preserve=mode --reflink=auto -- "$template" "$1"; then
          rm -rf -- "$1"
          echo "initdbTemplate: copying $template failed: running initdb without the template"
          return 1
        fi
        # Durable as initdb leaves it (initdb syncs every file unless told not to); syncing its file system costs about 35 ms.
        if [[ $no_sync == 0 ]] && ! sync -f -- "$1"; then
          rm -rf -- "$1"
          echo "initdbTemplate: syncing the copy failed: running initdb without the template"
          return 1
        fi
        echo "initdbTemplate: the cluster is a copy of $template"
      }
      if ! cluster_from_template "$cluster"; then
        initdb ${cfg.initdbArgs} ${superuserArgs} -D "$cluster"
      fi
    `;

    const setup = script({
      name: "setup-postgres",
      runtimeInputs: [pkg, pkgs.coreutils, pkgs.procps],
      text: sh`
        PGDATA=${runtimePath(cfg.dataDir)}
        export PGDATA
        export PGPORT=${cfg.port}
        export LC_ALL=C

        psql_admin() {
          psql -X -q -v ON_ERROR_STOP=1 ${superuserArgs} "$@"
        }
        # apply_schema DATABASE PATH: a .sql file, or a directory whose *.sql files run in name order.
        apply_schema() {
          if [[ -d "$2" ]]; then
            for f in "$2"/*.sql; do
              [[ -e "$f" ]] || continue
              echo "applying $f to $1"
              psql_admin -d "$1" -f "$f"
            done
          else
            echo "applying $2 to $1"
            psql_admin -d "$1" -f "$2"
          fi
        }

        # A server already running on this data directory, or on a first start's dataDir.init (another
        # stack, or one started by hand): refuse before touching anything.
        for d in "$PGDATA" "$PGDATA.init"; do
          if [[ -f "$d/postmaster.pid" ]]; then
            pid=$(head -n 1 "$d/postmaster.pid")
            if [[ $pid =~ ^[0-9]+$ ]] && { kill -0 "$pid" 2>/dev/null || [[ -d /proc/$pid ]]; }; then
              echo "error: PostgreSQL is already running on $d (pid $pid), from another stack or started by hand; stop it first. Nothing was changed." >&2
              exit 1
            fi
          fi
        done

        # A cluster of another major version than the package's: PostgreSQL would refuse it with a low-level
        # error; stop with what to do instead, before anything is changed (or, with upgrade.enable, upgrade it).
        want_major=${majorOf(pkg)}
        instance=${s`services.postgres."${name}"`}
        if [[ ! -f "$PGDATA/PG_VERSION" ]]; then
          for d in "$PGDATA".pg[0-9]*; do
            if [[ -d $d && -e "$PGDATA.upgrade-$want_major" ]]; then
              echo "error: an upgrade was interrupted: $PGDATA is missing, the old cluster is in $d and the upgraded one in $PGDATA.upgrade-$want_major. Move one of them back to $PGDATA by hand. Nothing was changed." >&2
              exit 1
            fi
          done
        fi
        if [[ -n $want_major && -f "$PGDATA/PG_VERSION" ]]; then
          have_major=$(head -n 1 -- "$PGDATA/PG_VERSION")
          if [[ $have_major != "$want_major" ]]; then
            ${named("majorMismatch", cond(
              cfg.upgrade.enable,
              sh`
                old_major=${majorOf(oldPkg)}
                if [[ $have_major != "$old_major" ]]; then
                  echo "error: $PGDATA holds a PostgreSQL $have_major cluster, but upgrade.oldPackage of $instance is PostgreSQL $old_major: set it to a PostgreSQL $have_major package. Nothing was changed." >&2
                  exit 1
                fi
                old_keep="$PGDATA.pg$have_major"
                new_cluster="$PGDATA.upgrade-$want_major"
                if [[ -e $old_keep ]]; then
                  echo "error: $old_keep exists (an older upgrade's copy?): move it away to upgrade $PGDATA. Nothing was changed." >&2
                  exit 1
                fi
                echo "upgrading $PGDATA from PostgreSQL $have_major to $want_major with pg_upgrade, into $new_cluster"
                # A new cluster made by a previous, interrupted attempt is never the data: begin again.
                rm -rf -- "$new_cluster"
                # pg_upgrade needs the new cluster's data checksums as the old cluster's, and initdb's default changed
                # (on since PostgreSQL 18, off before): unless initdbArgs say it themselves, the new cluster gets the old
                # one's setting, read from its control file ("Data page checksum version", 0 when off).
                upgrade_initdb_args=(${cfg.initdbArgs})
                checksums_given=0
                for a in "\${upgrade_initdb_args[@]}"; do
                  case $a in -k | --data-checksums | --no-data-checksums) checksums_given=1 ;; esac
                done
                if [[ $checksums_given == 0 ]]; then
                  old_checksums=""
                  while IFS= read -r line; do
                    if [[ $line =~ ^Data\\ page\\ checksum\\ version:\\ *([0-9]+)$ ]]; then old_checksums=\${BASH_REMATCH[1]}; fi
                  done < <(${s`${oldPkg}/bin/pg_controldata`} -D "$PGDATA" || true)
                  if [[ -z $old_checksums ]]; then
                    echo "error: pg_controldata of upgrade.oldPackage did not tell whether $PGDATA has data checksums. Nothing was changed." >&2
                    exit 1
                  fi
                  initdb_help=$(initdb --help)
                  if [[ $old_checksums != 0 ]]; then
                    upgrade_initdb_args+=(--data-checksums)
                  elif [[ $initdb_help == *--no-data-checksums* ]]; then
                    upgrade_initdb_args+=(--no-data-checksums)
                  fi
                fi
                initdb "\${upgrade_initdb_args[@]}" ${superuserArgs} -D "$new_cluster"
                # pg_upgrade writes its logs and sockets into its working directory; both servers it starts
                # use the setup's trust-on-the-socket pg_hba.conf (the old configuration's may be gone from the store).
                upgrade_work=$(mktemp -d "\${TMPDIR:-/tmp}/pg-upgrade-XXXXXX")
                (
                  cd -- "$upgrade_work"
                  pg_upgrade --old-bindir ${s`${oldPkg}/bin`} --new-bindir ${s`${pkg}/bin`} --old-datadir "$PGDATA" --new-datadir "$new_cluster" --socketdir "$upgrade_work" --old-port ${cfg.port} --new-port ${cfg.port} ${superuserArgs} --old-options ${s`-c hba_file=${setupHba}`} --new-options ${s`-c hba_file=${setupHba}`} ${cfg.upgrade.extraArgs}
                ) || {
                  echo "error: pg_upgrade failed (its logs are in $upgrade_work and $new_cluster); $PGDATA is as it was." >&2
                  exit 1
                }
                rm -rf -- "$upgrade_work"
                # The old cluster stays beside the new one; the server starts on the new one.
                mv -T -- "$PGDATA" "$old_keep"
                mv -T -- "$new_cluster" "$PGDATA"
                # hardenedAuth's password file is not part of the cluster pg_upgrade copies; the role's password is.
                if [[ -f "$old_keep/superuser.password" ]]; then
                  install -m 0600 -- "$old_keep/superuser.password" "$PGDATA/superuser.password"
                fi
                echo "upgraded: the PostgreSQL $have_major cluster is kept in $old_keep; remove it once the new server works"
              `,
              sh`
                echo "error: $PGDATA holds a PostgreSQL $have_major cluster (its PG_VERSION), but the package of $instance is PostgreSQL $want_major, which cannot run it. Two ways forward: keep the data as it is by setting $instance.package to a PostgreSQL $have_major package (pkgs.postgresql_$have_major); or upgrade it by setting $instance.upgrade.enable = true and $instance.upgrade.oldPackage = pkgs.postgresql_$have_major, which runs pg_upgrade into a new directory and keeps the old one. Nothing was changed." >&2
                exit 1
              `,
            ))}
          fi
        fi

        # A temporary server for setup: no TCP, its socket in a directory of its own; stopped on exit.
        # (Started directly, not through pg_ctl, whose command line is built for /bin/sh from the paths.)
        server=""
        setup_socket=""
        stop_setup_server() {
          if [[ -n $server ]]; then
            # SIGINT, PostgreSQL's fast shutdown, sent again until it takes: a server interrupted while it
            # starts may not handle the signal yet (a background job starts with SIGINT ignored). After 10 s, SIGKILL.
            for _ in $(seq 1 200); do
              state=$(ps -o stat= -p "$server" 2>/dev/null || true)
              if [[ -z $state || $state == Z* ]]; then break; fi
              kill -INT "$server" 2>/dev/null || true
              sleep 0.05
            done
            state=$(ps -o stat= -p "$server" 2>/dev/null || true)
            if [[ -n $state && $state != Z* ]]; then kill -KILL "$server" 2>/dev/null || true; fi
            wait "$server" 2>/dev/null || true
            server=""
          fi
          if [[ -n $setup_socket ]]; then rm -rf -- "$setup_socket"; fi
        }
        # A template being built (initdbTemplate) when the setup ends early is removed with it.
        template_tmp=""
        trap 'stop_setup_server; if [[ -n $template_tmp ]]; then rm -rf -- "$template_tmp"; fi' EXIT
        # Ctrl-C or process-compose stopping the stack: still stop the setup server on the way out.
        trap 'exit 130' INT TERM HUP
        # pid_file_says_ready DATADIR: the postmaster of DATADIR has written "ready" as its status in postmaster.pid.
        pid_file_says_ready() {
          local lines=()
          [[ -f $1/postmaster.pid ]] && mapfile -t lines < "$1/postmaster.pid" 2>/dev/null && [[ \${lines[7]:-} == ready* ]]
        }
        start_setup_server() {
          setup_socket=$(mktemp -d "\${TMPDIR:-/tmp}/pg-init-XXXXXX")
          PGHOST=$setup_socket
          export PGHOST
          # Trust on its private socket only (the directory is 0700), whatever pg_hba.conf says.
          postgres -D "$1" -c listen_addresses= -k "$setup_socket" -c hba_file=${setupHba} &
          server=$!
          # Asked only once the postmaster says in postmaster.pid (its 8th line, since PostgreSQL 10) that it accepts
          # connections: a connection while it starts is logged as FATAL ("the database system is starting up"). And
          # as a role that exists, to a database that exists: pg_isready's defaults (the OS user's name for both) are
          # logged as FATAL when there is no such role or database.
          until pid_file_says_ready "$1" && pg_isready -q -h "$setup_socket" -p "$PGPORT" -d template1 ${superuserArgs}; do
            if ! kill -0 "$server" 2>/dev/null; then
              server=""
              echo "error: PostgreSQL stopped during setup (its log is above)" >&2
              exit 1
            fi
            sleep 0.05
          done
        }

        # A new cluster is made and set up (initial databases, schemas, initialScript) beside dataDir, in
        # dataDir.init, and moved into place only when all of it succeeded: a first start that fails or is
        # interrupted leaves no cluster that later starts would take as set up; the next start begins again.
        first_run=0
        cluster=$PGDATA
        if [[ ! -f "$PGDATA/PG_VERSION" ]]; then
          if [[ -d "$PGDATA" && -n "$(ls -A "$PGDATA")" ]]; then
            echo "error: $PGDATA is not empty but holds no PostgreSQL cluster (no PG_VERSION); move it away or set dataDir" >&2
            exit 1
          fi
          cluster="$PGDATA.init"
          if [[ -e $cluster ]]; then
            echo "a previous first start did not finish: setting up the cluster again"
            rm -rf -- "$cluster"
          fi
          echo "creating the cluster in $PGDATA"
          mkdir -p -- "$(dirname -- "$PGDATA")"
          ${named("makeCluster", cond(cfg.initdbTemplate.enable, templateCommands, sh`initdb ${cfg.initdbArgs} ${superuserArgs} -D "$cluster"`))}
          first_run=1
        fi
        install -m 0600 ${conf} "$cluster/postgresql.conf"
        ${cond(eq(cfg.socketDir, ""), sh``, sh`mkdir -p -- ${cfg.socketDir}`)}
        ensure_needed=${cond(or(hasEnsure, cfg.hardenedAuth), "1", "0")}
        if [[ $first_run == 1 || $ensure_needed == 1 ]]; then
          start_setup_server "$cluster"
          if [[ $first_run == 1 ]]; then
            psql_admin -d postgres -f ${firstRunSql}
            ${schemaCommands}${afterSql}
          fi
          psql_admin -d postgres -f ${ensureSql}
          ${optional(
            cfg.hardenedAuth,
            sh`
              # hardenedAuth: the superuser's password, made once, kept private in the cluster's directory.
              if [[ ! -s "$cluster/superuser.password" ]]; then
                (umask 077 && head -c 18 /dev/urandom | base64 > "$cluster/superuser.password")
              fi
              echo "ALTER ROLE CURRENT_USER PASSWORD :'password';" | psql_admin -d postgres -v password="$(cat -- "$cluster/superuser.password")"
            `,
          )}
          stop_setup_server
        fi
        if [[ $first_run == 1 ]]; then
          if [[ -d $PGDATA ]]; then rmdir -- "$PGDATA"; fi
          mv -T -- "$cluster" "$PGDATA"
        fi
      `,
    });

    const start = script({
      name: "start-postgres",
      runtimeInputs: [pkg, pkgs.coreutils],
      text: sh`
        PGDATA=${runtimePath(cfg.dataDir)}
        export PGDATA
        ${cond(eq(cfg.socketDir, ""), sh`exec postgres`, sh`exec postgres -k ${runtimePath(cfg.socketDir)}`)}
      `,
    });

    const probeHost = cond(
      eq(cfg.socketDir, ""),
      sh`-h ${connectHost(cfg.listen_addresses)}`,
      sh`-h ${runtimePath(cfg.socketDir)}`,
    );

    const init = process(s`${name}-init`, { command: setup, oneshot: true });
    const server = process(name, {
        command: start,
        dependsOn: [{ process: init, condition: "succeeded" }],
        // Ready when a server answers on the port AND it is this instance's: the postmaster.pid of dataDir
        // names a live server on this port. (Another stack's server on the same port answers pg_isready
        // too, while this one failed to bind.) pg_isready is asked only once that postmaster.pid says "ready"
        // (its status line): a connection while the server starts, or while a standby is not yet consistent,
        // is logged as FATAL.
        readiness: {
          exec: sh`pidfile=${runtimePath(cfg.dataDir)}/postmaster.pid && [ "$(${exe(pkgs.gnused, "sed")} -n 4p "$pidfile")" = ${cfg.port} ] && [ "$(${exe(pkgs.gnused, "sed")} -n '8s/ *$//p' "$pidfile")" = ready ] && kill -0 "$(${exe(pkgs.coreutils, "head")} -n 1 "$pidfile")" && ${exe(pkg, "pg_isready")} ${probeHost} -p ${cfg.port} -d template1 ${superuserArgs}`,
        },
        // SIGINT: PostgreSQL's "fast shutdown" (https://www.postgresql.org/docs/current/server-shutdown.html).
        stop: { signal: "SIGINT" },
        restart: { policy: "on-failure", maxRestarts: 5 },
      });

    // pgTAP tests: pg_prove against the running server, once it is ready (and so set up).
    const pgtap = process(s`${name}-pgtap`, {
      command: script({
        name: "pgtap-postgres",
        runtimeInputs: [pkg, cfg.pgtap.package, pkgs.coreutils],
        text: sh`
          ${optional(
            and(cfg.hardenedAuth, eq(cfg.pgtap.user, null)),
            sh`
              PGPASSWORD=$(cat -- ${runtimePath(cfg.passwordFile)})
              export PGPASSWORD
            `,
          )}
          exec pg_prove ${probeHost} -p ${cfg.port} -d ${cfg.pgtap.database} ${ifSet(cfg.pgtap.user, (u) => sh`-U ${u}`, superuserArgs)} --ext .sql --recurse --verbose --failures ${cfg.pgtap.extraArgs} ${mapList(cfg.pgtap.tests, (p) => s`${p}`, "test")}
        `,
      }),
      oneshot: true,
      dependsOn: [{ process: server, condition: "ready" }],
    }).when(cfg.pgtap.enable);
    return [init, server, pgtap];
  },
});
