/**
 * [passetto](https://github.com/juspay/passetto), an HTTP encryption service,
 * with its own PostgreSQL instance `<name>-db` (a `postgres` instance): the
 * role and database `passetto`, the schema applied as that role, password
 * (scram-sha-256) authentication on TCP, and the app `<name>` wired to it by a
 * libpq connection string. Optionally `<name>-pgweb` browses the database.
 *
 * The private-database pattern (options, the `postgres` instance, the
 * connection string, pgweb) is exported from here as functions, so that other
 * app wrappers are written exactly like this one: `modules/notes-app.ts` uses
 * them, and its run-tier stack (test/stacks/notes-app.nix) exercises them for real.
 */
import {
  helper,
  httpReadiness,
  concatStrings,
  cond,
  defineService,
  eq,
  type Expr,
  expr,
  field,
  file,
  ident,
  ifSet,
  instance,
  type InstanceDecl,
  mapList,
  mkDefault,
  type NixModule,
  type NixPath,
  optional,
  type Pkg,
  process,
  processesFor,
  type ProcessFamily,
  replaceStrings,
  s,
  script,
  type ServiceContext,
  type Shape,
  sh,
  sql,
  t,
  type Val,
} from "../dsl";
import postgres, { hbaAddress, hbaField } from "./postgres";

// ---------------------------------------------------------------------------
// The private-database pattern, shared with other app wrappers.

/** The role and database an app owns in its private PostgreSQL instance. */
export interface PrivateDbSpec {
  /** The app (for descriptions): `passetto`. */
  readonly app: string;
  /** The login role the app connects as; it owns the database and what the schemas create. */
  readonly role: string;
  /** The database the schemas are applied to. */
  readonly database: string;
}

// URL percent-encoding (RFC 3986) of everything but the unreserved characters.
// ASCII only: Nix strings are bytes, and a module cannot name a lone byte above
// 0x7F, so UTF-8 passes through as it is (libpq accepts it in URIs).
const URL_UNRESERVED = /^[A-Za-z0-9._~-]$/;
const urlEscaped = [
  ...Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)),
  "\t",
  "\n",
  "\r",
].filter((c) => !URL_UNRESERVED.test(c));

const urlEscapes = urlEscaped.map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);

/**
 * Percent-encodes a string for a URI component (userinfo, path): `p@ss word` →
 * `p%40ss%20word`; at build time for a literal, else with `lib.replaceStrings`.
 */
export const percentEncode = (v: Val<string>): Val<string> =>
  typeof v === "string"
    ? [...v].map((c) => (urlEscaped.includes(c) ? urlEscapes[urlEscaped.indexOf(c)]! : c)).join("")
    : replaceStrings(urlEscaped, urlEscapes, v);

/** A psql meta-command argument: single-quoted, with `'` doubled and `\` escaped. */
const psqlArg = helper("psqlArg", "arg", (v: Expr<string>) => s`'${replaceStrings(["\\", "'"], ["\\\\", "''"], v)}'`);

/**
 * The authentication of a private database, in order (pg_hba.conf uses the first
 * line that matches): the Unix socket by peer (the OS user as the role of the
 * same name: the setup connects so, as the superuser, who is that OS user by
 * default), loopback TCP by password (scram-sha-256) for every role. Nothing
 * else is accepted: no `trust` lines, no replication connections.
 */
export const privateDbHba = [
  { type: "local", database: "all", user: "all", address: "", method: "peer" },
  { type: "host", database: "all", user: "all", address: "127.0.0.1/32", method: "scram-sha-256" },
  { type: "host", database: "all", user: "all", address: "::1/128", method: "scram-sha-256" },
] as const;

/** The options of an app wrapper's private database. */
export function privateDbOptions(spec: PrivateDbSpec, defaults: { dbPort: number; dbPassword: string }) {
  return {
    dbPort: t.port({
      default: defaults.dbPort,
      description: `TCP port of ${spec.app}'s PostgreSQL instance (\`services.postgres."<name>-db"\`), which listens on 127.0.0.1.`,
    }),
    dbPassword: t.str({
      default: defaults.dbPassword,
      description:
        `Password of the role \`${spec.role}\`, which ${spec.app} logs in as (scram-sha-256). ` +
        "Set when the database is created; changing it later needs `ALTER ROLE` (or a fresh data directory). " +
        "It ends up in the Nix store, like the rest of the configuration: this is for development.",
    }),
    initialScript: t.nullOr(t.lines(), {
      default: null,
      example: `INSERT INTO settings VALUES ('mode', 'dev');`,
      description: `SQL run once, when the database is created: as the superuser, in the database \`${spec.database}\`, after the schemas.`,
    }),
    extraDbSettings: t.deferredModule({
      default: {},
      example: { nix: '{ settings.log_statement = "all"; dataDir = "./data/my-db"; }' },
      description:
        `Options for ${spec.app}'s \`services.postgres."<name>-db"\` instance (any postgres option). ` +
        "pg_hba.conf is the wrapper's: peer on the Unix socket, scram-sha-256 on loopback TCP, then the instance's `hbaConf` entries " +
        "(postgres's trust defaults are not used; `settings.hba_file` is set with `mkDefault`). `port` is `dbPort`.",
    }),
    pgweb: t.submodule(
      {
        enable: t.bool({
          default: false,
          description: `Run [pgweb](https://github.com/sosedoff/pgweb) on ${spec.app}'s database as \`<name>-pgweb\`.`,
        }),
        port: t.port({ default: 8081, description: "The TCP port pgweb's web UI listens on (127.0.0.1)." }),
        package: t.package("pgweb"),
      },
      { default: {}, description: `A web UI for ${spec.app}'s database.` },
    ),
  };
}

/** The read-only connection string of an app wrapper (`derived`). */
export function privateDbDerived(
  spec: PrivateDbSpec,
  cfg: { readonly dbPassword: Expr<string>; readonly dbPort: Expr<number> },
) {
  return {
    connectionString: t.str({
      readOnly: true,
      default: connectionString(spec, cfg),
      defaultText: `"postgresql://${spec.role}:<dbPassword, percent-encoded>@127.0.0.1:<dbPort>/${spec.database}"`,
      description: `The [libpq connection URI](https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS) ${spec.app} connects with, password included.`,
    }),
  };
}

/** `postgresql://<role>:<password>@127.0.0.1:<dbPort>/<database>`, the password percent-encoded. */
export function connectionString(
  spec: PrivateDbSpec,
  cfg: { readonly dbPassword: Expr<string>; readonly dbPort: Expr<number> },
): Expr<string> {
  return s`postgresql://${percentEncode(spec.role)}:${percentEncode(cfg.dbPassword)}@127.0.0.1:${cfg.dbPort}/${percentEncode(spec.database)}`;
}

/** A store path string (a written file, a path inside a package) as a `path` option value. */
export const asPath = (e: Expr<string>): Expr<NixPath> => expr<NixPath>(e.node, "string");

/** The name of an app's postgres instance: `<name>-db`. */
export const privateDbName = (name: Expr<string>): Expr<string> => s`${name}-db`;

/**
 * Declares the app's `postgres` instance `<name>-db`: listening on 127.0.0.1:`dbPort`,
 * pg_hba.conf {@link privateDbHba} followed by the instance's own `hbaConf`
 * entries (postgres's trust defaults are not used), passwords stored
 * as SCRAM, and on first start the role (with its password), the database owned
 * by it, the schemas applied as the role (so it owns what they create), then
 * `initialScript` as the superuser.
 *
 * @param schemas SQL files, applied in order with psql's `\i`.
 */
export function privateDatabase(
  spec: PrivateDbSpec,
  ctx: {
    readonly name: Expr<string>;
    readonly cfg: {
      readonly dbPort: Expr<number>;
      readonly dbPassword: Expr<string>;
      readonly initialScript: Expr<string | null>;
      readonly extraDbSettings: Expr<NixModule>;
      readonly namespace: Expr<string>;
    };
    readonly instanceOf: ServiceContext<Shape>["instanceOf"];
    readonly let: ServiceContext<Shape>["let"];
  },
  schemas: Expr<readonly NixPath[]>,
): InstanceDecl {
  const { name, cfg } = ctx;
  const db = ctx.instanceOf(postgres, privateDbName(name));
  // The wrapper's entries, then the instance's own hbaConf (a user's, through extraDbSettings);
  // postgres's trust defaults are left out.
  const hba = ctx.let(
    "dbHbaFile",
    file(
      "pg_hba.conf",
      concatStrings([
        privateDbHba.map((e) => `${e.type}\t${e.database}\t${e.user}\t${e.address}\t${e.method}\n`).join(""),
        concatStrings(
          mapList(
            db.hbaConf,
            (e) =>
              s`${hbaField(field(e, "type"))}\t${hbaField(field(e, "database"))}\t${hbaField(field(e, "user"))}\t${hbaAddress(field(e, "address"))}\t${hbaField(field(e, "method"))}\n`,
            "entry",
          ),
        ),
      ]),
    ),
  );
  const setup = ctx.let(
    "dbSetupSql",
    file(
      `${spec.database}-setup.sql`,
      concatStrings([
        sql`CREATE ROLE ${ident(spec.role)} LOGIN PASSWORD ${cfg.dbPassword};\n`,
        sql`ALTER DATABASE ${ident(spec.database)} OWNER TO ${ident(spec.role)};\n`,
        sql`SET ROLE ${ident(spec.role)};\n`,
        // s`${schema}` copies a path schema into the store, as Nix does for interpolated paths.
        concatStrings(mapList(schemas, (schema) => s`\\i ${psqlArg(s`${schema}`)}\n`, "schema")),
        sql`RESET ROLE;\n`,
        ifSet(cfg.initialScript, (extra) => s`${extra}\n`, ""),
      ]),
    ),
  );
  return instance(
    postgres,
    privateDbName(name),
    {
      enable: true,
      port: cfg.dbPort,
      listen_addresses: mkDefault("127.0.0.1"),
      namespace: mkDefault(cfg.namespace),
      settings: {
        hba_file: mkDefault(s`${hba}`),
        // Store the role's password as a SCRAM verifier whatever the server's default.
        password_encryption: mkDefault("scram-sha-256"),
      },
      initialDatabases: [{ name: spec.database, schemas: [asPath(s`${setup}`)] }],
    },
    [cfg.extraDbSettings],
  );
}

/** `<name>-pgweb` when `pgweb.enable`: pgweb on the app's database, after it is up. */
export function pgwebProcess(ctx: {
  readonly name: Expr<string>;
  readonly cfg: {
    readonly pgweb: Expr<unknown> & {
      readonly enable: Expr<boolean>;
      readonly port: Expr<number>;
      readonly package: Expr<Pkg>;
    };
  };
  readonly connectionString: Expr<string>;
}): ProcessFamily {
  const { name, cfg } = ctx;
  return processesFor(optional(cfg.pgweb.enable, { pgweb: true }), (suffix) =>
    process(s`${name}-${suffix}`, {
      command: script({
        name: "start-pgweb",
        runtimeInputs: [cfg.pgweb.package],
        text: sh`exec pgweb --bind=127.0.0.1 --listen=${cfg.pgweb.port} --skip-open`,
      }),
      // pgweb's Go driver requires TLS unless told otherwise; the private database has none.
      environment: { PGWEB_DATABASE_URL: s`${ctx.connectionString}?sslmode=disable` },
      depends_on: [{ process: privateDbName(name), condition: "process_healthy" }],
      readiness_probe: httpReadiness("127.0.0.1", cfg.pgweb.port, "/"),
      availability: { restart: "on_failure", max_restarts: 5 },
    }),
  );
}

// ---------------------------------------------------------------------------
// passetto

const spec: PrivateDbSpec = { app: "passetto", role: "passetto", database: "passetto" };

export default defineService({
  name: "passetto",
  description:
    "[passetto](https://github.com/juspay/passetto), an HTTP encryption service, with a private PostgreSQL instance " +
    '`services.postgres."<name>-db"`. There the role `passetto` (password `dbPassword`, scram-sha-256 on TCP; no trust) ' +
    "owns the database `passetto`, to which `schemas` are applied as that role on first start. " +
    "The process `<name>` runs `passetto-init` once (on its first start) and then `passetto-server`, connected by `connectionString`; " +
    "`<name>-pgweb` (with `pgweb.enable`) browses the database.",
  homepage: "https://github.com/juspay/passetto",
  example: `services.passetto."passetto" = {
  enable = true;
  package = inputs.passetto.packages.\${system}.passetto-service;
  schemas = [ "\${inputs.passetto}/service/pgsql/create_schema.sql" ];
  port = 8021;
  dbPort = 5434;
  pgweb.enable = true;
};`,
  options: {
    package: t.package(["haskellPackages", "passetto-service"], {
      description: "Provides `passetto-init` and `passetto-server` (built with the PostgreSQL backend).",
    }),
    port: t.port({
      default: 8012,
      description: "The TCP port passetto-server listens on (its `PORT`; passetto's default is 8012).",
    }),
    schemas: t.listOf(t.path(), {
      example: { nix: '[ "${inputs.passetto}/service/pgsql/create_schema.sql" ]' },
      description:
        "SQL files applied in order, as the role `passetto`, to the database `passetto` when it is created. " +
        "passetto's own is `service/pgsql/create_schema.sql` in its source (the package does not ship it). " +
        "Required: with none, `<name>` stops at its start with an error saying so.",
    }),
    masterPassword: t.str({
      default: "1",
      description:
        "passetto's master password (`MASTER_PASSWORD`, and `passetto-init`'s first argument). It must open the master key in the database: " +
        "passetto's create_schema.sql inserts one, which the seed configuration opened with the default. Development only: it ends up in the Nix store.",
    }),
    keys: t.int({
      default: 3,
      description:
        "How many fresh keys `passetto-init` adds on the instance's first start; later starts keep the key storage as it is " +
        "(the file `keys-initialised` in `dataDir` records that it ran).",
    }),
    ...privateDbOptions(spec, { dbPort: 5432, dbPassword: "passetto" }),
  },

  derived: ({ cfg }) => privateDbDerived(spec, cfg),

  instances: (ctx) => [privateDatabase(spec, ctx, ctx.cfg.schemas)],

  processes: ({ name, cfg, instanceOf }) => [
    process(name, {
      command: script({
        name: "start-passetto",
        runtimeInputs: [cfg.package],
        text: sh`
          # An undefined list option is [] (lib's emptyValue) and the DSL has no assertions: say it here.
          schemas_given=${cond(eq(cfg.schemas, []), "0", "1")}
          if [[ $schemas_given == 0 ]]; then
            echo ${s`error: services.passetto.${name}.schemas is empty, but passetto needs its schema (service/pgsql/create_schema.sql in its source). Set it, then remove ${instanceOf(postgres, privateDbName(name)).dataDir}: the database was created without it.`} >&2
            exit 1
          fi
          state=${cfg.dataDir}
          mkdir -p "$state"
          # passetto-init adds keys each time it runs: only on the first start.
          if [[ ! -f "$state/keys-initialised" ]]; then
            echo "initialising passetto's key storage with ${cfg.keys} keys"
            passetto-init "$MASTER_PASSWORD" ${cfg.keys}
            touch "$state/keys-initialised"
          fi
          exec passetto-server
        `,
      }),
      environment: {
        PASSETTO_PG_BACKEND_CONN_STRING: cfg.connectionString,
        MASTER_PASSWORD: cfg.masterPassword,
        PORT: s`${cfg.port}`,
      },
      depends_on: [{ process: privateDbName(name), condition: "process_healthy" }],
      readiness_probe: httpReadiness("127.0.0.1", cfg.port, "/status"),
      availability: { restart: "on_failure", max_restarts: 5 },
    }),
    pgwebProcess({ name, cfg, connectionString: cfg.connectionString }),
  ],
});
