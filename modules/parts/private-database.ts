/**
 * The private-database part: an app's own PostgreSQL instance `<name>-db` (a
 * `postgres` instance) with the app's role and database, password
 * (scram-sha-256) authentication on loopback TCP and peer on the socket, the
 * schemas applied as the role on first start, and the read-only option
 * `connectionString` the app connects with. Used by passetto and notes-app.
 */
import {
  concatLists,
  concatStrings,
  type DeepVal,
  definePart,
  type Expr,
  file,
  helper,
  ident,
  ifSet,
  instance,
  mapList,
  mkDefault,
  type NixPath,
  pathOf,
  rawSql,
  type Ref,
  replaceStrings,
  s,
  type Shape,
  sql,
  t,
  type Val,
  type ConfigRef,
  type builtinOptions,
} from "../../dsl";
import postgres, { hbaLine } from "../postgres";

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
  typeof v === "string" ? [...v].map((c) => (urlEscaped.includes(c) ? urlEscapes[urlEscaped.indexOf(c)]! : c)).join("") : percentEncoded(v);

const percentEncoded = helper("percentEncode", "component", (v: Expr<string>) => replaceStrings(urlEscaped, urlEscapes, v));

/** A psql meta-command argument: single-quoted, with `'` doubled and `\` escaped. */
const psqlArg = helper("psqlArg", "arg", (v: Expr<string>) => rawSql(s`'${replaceStrings(["\\", "'"], ["\\\\", "''"], v)}'`));

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

/** The name of an app's postgres instance: `<name>-db`. */
export const privateDbName = (name: Expr<string>): Expr<string> => s`${name}-db`;

/** How the part declares the app's `schemas` option. */
export interface SchemasOption {
  readonly description: string;
  /** Omit to make the option required. */
  readonly default?: readonly never[];
  readonly example?: { readonly nix: string };
}

/**
 * The private-database part for an app described by `spec`.
 *
 * @param defaults the defaults of `dbPort` (TCP port) and `dbPassword`.
 * @param schemas how the `schemas` option (SQL files applied as the role, in order) is declared.
 * @param firstSchemas SQL files applied before `schemas`, computed from options the
 *   service declares and lists in `requires` (e.g. a schema shipped in the app's package).
 */
export function privateDatabase<const R extends Shape = Record<never, never>>(
  spec: PrivateDbSpec,
  defaults: { readonly dbPort: number; readonly dbPassword: string },
  schemas: SchemasOption,
  first?: {
    readonly requires: R;
    readonly schemas: (cfg: ConfigRef<R & typeof builtinOptions>) => DeepVal<NixPath[]>;
  },
) {
  const part = definePart({
    name: "private-database",
    options: {
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
      schemas: t.listOf(t.path(), {
        ...(schemas.default === undefined ? {} : { default: [...schemas.default] }),
        ...(schemas.example === undefined ? {} : { example: schemas.example }),
        description: schemas.description,
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
    },
    derived: ({ cfg }) => ({
      connectionString: t.str({
        readOnly: true,
        default: s`postgresql://${percentEncode(spec.role)}:${percentEncode(cfg.dbPassword)}@127.0.0.1:${cfg.dbPort}/${percentEncode(spec.database)}`,
        defaultText: { md: `\`postgresql://${spec.role}:<dbPassword>@127.0.0.1:<dbPort>/${spec.database}\`, the password percent-encoded` },
        description: `The [libpq connection URI](https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS) ${spec.app} connects with, password included.`,
      }),
    }),
    instances: (ctx) => {
      const { name, cfg } = ctx;
      const db = ctx.instanceOf(postgres, privateDbName(name));
      // The part's entries, then the instance's own hbaConf (a user's, through extraDbSettings);
      // postgres's trust defaults are left out.
      const hba = ctx.let(
        "dbHbaFile",
        file("pg_hba.conf", concatStrings([privateDbHba.map((e) => `${e.type}\t${e.database}\t${e.user}\t${e.address}\t${e.method}\n`).join(""), concatStrings(mapList(db.hbaConf, hbaLine, "entry"))])),
      );
      const all: Expr<NixPath[]> = first
        ? concatLists<NixPath>(first.schemas(cfg as unknown as ConfigRef<R & typeof builtinOptions>) as Expr<NixPath[]>, cfg.schemas)
        : cfg.schemas;
      const setup = ctx.let(
        "dbSetupSql",
        file(
          `${spec.database}-setup.sql`,
          concatStrings([
            sql`CREATE ROLE ${ident(spec.role)} LOGIN PASSWORD ${cfg.dbPassword};\n`,
            sql`ALTER DATABASE ${ident(spec.database)} OWNER TO ${ident(spec.role)};\n`,
            sql`SET ROLE ${ident(spec.role)};\n`,
            // s`${schema}` copies a path schema into the store, as Nix does for interpolated paths.
            concatStrings(mapList(all, (schema) => sql`\\i ${psqlArg(s`${schema}`)}\n`, "schema")),
            sql`RESET ROLE;\n`,
            ifSet(cfg.initialScript, (extra: Ref<string>) => sql`${rawSql(extra)}\n`, sql``),
          ]),
        ),
      );
      return [
        instance(
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
            initialDatabases: [{ name: spec.database, schemas: [pathOf(setup)] }],
          },
          [cfg.extraDbSettings],
        ),
      ];
    },
  });
  // What the first schemas read is declared by the service (checked by the compiler).
  return { ...part, requires: (first?.requires ?? {}) as R };
}
