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
import { defineService, ifSet, neq, nonEmpty, process, runtimePath, s, script, sh, t } from "../dsl";
import { pgweb } from "./parts/pgweb";
import { privateDatabase, privateDbName } from "./parts/private-database";

const spec = { app: "passetto", role: "passetto", database: "passetto" } as const;

export default defineService({
  name: "passetto",
  description:
    "[passetto](https://github.com/juspay/passetto), an HTTP encryption service, with a private PostgreSQL instance " +
    '`services.postgres."<name>-db"`. There the role `passetto` (password `dbPassword`, scram-sha-256 on TCP; no trust) ' +
    "owns the database `passetto`, to which `schemas` are applied as that role on first start. " +
    "The process `<name>` runs `passetto-init-interactive addkeys` once (on its first start) and then `passetto-server`, connected by `connectionString`; " +
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
      description:
        "Provides `passetto-init-interactive` and `passetto-server` (built with the PostgreSQL backend).",
    }),
    port: t.port({
      default: 8012,
      description: "The TCP port passetto-server listens on (its `PORT`; passetto's default is 8012).",
    }),
    masterPassword: t.str({
      default: "1",
      description:
        "passetto's master password (`MASTER_PASSWORD`). It must open the master key in the database: " +
        "passetto's create_schema.sql inserts one, which the seed configuration opened with the default. " +
        "It ends up in the Nix store, which every local user can read: for anything but a throwaway database, use `masterPasswordFile`. " +
        "It never appears in a command line (`ps`): `passetto-init-interactive` reads it on its standard input.",
    }),
    masterPasswordFile: t.nullOr(t.str(), {
      default: null,
      example: "./secrets/passetto-master",
      description:
        "A file whose first line is the master password, read when the process starts (relative paths from where the stack runs). " +
        "When set, `masterPassword` is not used and the password stays out of the Nix store and out of every command line.",
    }),
    keys: t.int({
      default: 3,
      description:
        "How many fresh keys `passetto-init-interactive addkeys` adds on the instance's first start; later starts keep the key storage as it is " +
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
          ${ifSet(
            cfg.masterPasswordFile,
            (f) => sh`
              pwfile=${runtimePath(f)}
              [[ -r "$pwfile" ]] || { echo "passetto: cannot read masterPasswordFile $pwfile" >&2; exit 1; }
              IFS= read -r MASTER_PASSWORD < "$pwfile" || true
              [[ -n "$MASTER_PASSWORD" ]] || { echo "passetto: masterPasswordFile $pwfile has no password on its first line" >&2; exit 1; }
              export MASTER_PASSWORD
            `,
            sh``,
          )}
          # The keys are added once, on the first start: passetto-init-interactive appends keys each
          # time it runs. It reads the password twice (new, confirmed) on standard input, so the
          # password is never an argument visible in ps; it prints the result (Right () on success)
          # and exits 0 either way, so the result is checked.
          if [[ ! -f "$state/keys-initialised" ]]; then
            echo "initialising passetto's key storage with ${cfg.keys} keys"
            result=$(printf '%s\\n%s\\n' "$MASTER_PASSWORD" "$MASTER_PASSWORD" | passetto-init-interactive addkeys ${cfg.keys})
            if [[ "$result" != *"Right ()"* ]]; then
              printf 'passetto-init-interactive failed (wrong master password?):\\n%s\\n' "$result" >&2
              exit 1
            fi
            touch "$state/keys-initialised"
          fi
          exec passetto-server
        `,
      }),
      environment: {
        PASSETTO_PG_BACKEND_CONN_STRING: cfg.connectionString,
        MASTER_PASSWORD: ifSet(cfg.masterPasswordFile, () => "", cfg.masterPassword),
        PORT: s`${cfg.port}`,
      },
      dependsOn: [{ process: privateDbName(name), condition: "ready" }],
      readiness: { http: { host: "127.0.0.1", port: cfg.port, path: "/status" } },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
