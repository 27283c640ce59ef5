/**
 * [passetto](https://github.com/juspay/passetto), an HTTP encryption service,
 * with its own PostgreSQL instance `<name>-db` (a `postgres` instance): the
 * role and database `passetto`, the schema applied as that role, password
 * (scram-sha-256) authentication on TCP, and the app `<name>` wired to it by a
 * libpq connection string. Optionally `<name>-pgweb` browses the database.
 *
 * Made of the parts in `modules/parts/` (private-database, pgweb), which
 * `modules/notes-app.ts` uses too; its run-tier stack (test/stacks/notes-app.nix)
 * exercises them for real.
 */
import { defineService, neq, nonEmpty, process, runtimePath, s, script, sh, t } from "../dsl";
import { pgweb } from "./parts/pgweb";
import { privateDatabase, privateDbName } from "./parts/private-database";

const spec = { app: "passetto", role: "passetto", database: "passetto" } as const;

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
  parts: [
    privateDatabase(spec, { dbPort: 5432, dbPassword: "passetto" }, {
      example: { nix: '[ "${inputs.passetto}/service/pgsql/create_schema.sql" ]' },
      description:
        "SQL files applied in order, as the role `passetto`, to the database `passetto` when it is created. " +
        "passetto's own is `service/pgsql/create_schema.sql` in its source (the package does not ship it). " +
        "Required: with none, evaluation stops with an error saying so.",
    }),
    pgweb("passetto"),
  ],
  options: {
    package: t.package(["haskellPackages", "passetto-service"], {
      description: "Provides `passetto-init` and `passetto-server` (built with the PostgreSQL backend).",
    }),
    port: t.port({
      default: 8012,
      description: "The TCP port passetto-server listens on (its `PORT`; passetto's default is 8012).",
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
  },

  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],

  // An undefined list option is [] (lib's emptyValue): say what is missing before anything starts.
  assertions: ({ cfg }) => [
    {
      assertion: nonEmpty(cfg.schemas),
      message: "schemas is empty, but passetto needs its schema (service/pgsql/create_schema.sql in its source): set schemas.",
    },
    { assertion: neq(cfg.port, cfg.dbPort), message: s`port and dbPort are both ${cfg.port}: passetto and its database need a port each.` },
  ],

  processes: ({ name, cfg }) => [
    process(name, {
      command: script({
        name: "start-passetto",
        runtimeInputs: [cfg.package],
        text: sh`
          state=${runtimePath(cfg.dataDir)}
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
      dependsOn: [{ process: privateDbName(name), condition: "ready" }],
      readiness: { http: { host: "127.0.0.1", port: cfg.port, path: "/status" } },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
