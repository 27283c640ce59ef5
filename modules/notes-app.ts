/**
 * notes-app (examples/notes-app), a small HTTP app, with its own PostgreSQL
 * instance `<name>-db`: written exactly like the passetto wrapper, with the same
 * private-database functions (modules/passetto.ts), so that the pattern — one
 * `enable` brings up the database with its schema, password authentication and
 * the app wired to it by connection string — runs for real in the run tier
 * (test/stacks/notes-app.nix), where passetto cannot be built.
 */
import { concatLists, defineService, httpReadiness, type NixPath, process, s, t } from "../dsl";
import {
  asPath,
  privateDatabase,
  privateDbDerived,
  privateDbName,
  privateDbOptions,
  pgwebProcess,
  type PrivateDbSpec,
} from "./passetto";

const spec: PrivateDbSpec = { app: "notes-app", role: "notes", database: "notes" };

export default defineService({
  name: "notes-app",
  description:
    "notes-app (`examples/notes-app` in services-ts), a small HTTP app keeping notes in a private PostgreSQL instance " +
    '`services.postgres."<name>-db"`. There the role `notes` (password `dbPassword`, scram-sha-256 on TCP; no trust) ' +
    "owns the database `notes`, created with the app's schema (and `schemas`) applied as that role. " +
    "The process `<name>` runs the app, connected by `connectionString`; `<name>-pgweb` (with `pgweb.enable`) browses the database.",
  example: `services.notes-app."notes" = {
  enable = true;
  package = pkgs.callPackage "\${inputs.services-ts}/examples/notes-app" { };
  port = 8090;
  dbPort = 5435;
};`,
  options: {
    package: t.package(undefined, {
      description:
        "The app: `bin/notes-app`, with its schema in `share/notes-app/schema.sql` " +
        "(`pkgs.callPackage ./examples/notes-app { }`). Not in nixpkgs, so there is no default.",
    }),
    port: t.port({ default: 8090, description: "The TCP port the app listens on (127.0.0.1; its `PORT`)." }),
    schemas: t.listOf(t.path(), {
      default: [],
      description: "SQL files applied, as the role `notes`, after the app's own schema when the database is created.",
    }),
    ...privateDbOptions(spec, { dbPort: 5432, dbPassword: "notes" }),
  },

  derived: ({ cfg }) => privateDbDerived(spec, cfg),

  instances: (ctx) => [
    privateDatabase(
      spec,
      ctx,
      concatLists<NixPath>([asPath(s`${ctx.cfg.package}/share/notes-app/schema.sql`)], ctx.cfg.schemas),
    ),
  ],

  processes: ({ name, cfg }) => [
    process(name, {
      command: cfg.package,
      environment: { DATABASE_URL: cfg.connectionString, PORT: s`${cfg.port}`, HOST: "127.0.0.1" },
      depends_on: [{ process: privateDbName(name), condition: "process_healthy" }],
      readiness_probe: httpReadiness("127.0.0.1", cfg.port, "/status"),
      availability: { restart: "on_failure", max_restarts: 5 },
    }),
    pgwebProcess({ name, cfg, connectionString: cfg.connectionString }),
  ],
});
