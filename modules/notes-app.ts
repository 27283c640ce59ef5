/**
 * notes-app (examples/notes-app), a small HTTP app, with its own PostgreSQL
 * instance `<name>-db`: made of the same parts as the passetto wrapper
 * (modules/parts/: private-database, pgweb), so that the pattern — one
 * `enable` brings up the database with its schema, password authentication and
 * the app wired to it by connection string — runs for real in the run tier
 * (test/stacks/notes-app.nix), where passetto cannot be built.
 */
import { defineService, neq, pathOf, process, s, t } from "../dsl";
import { pgweb } from "./parts/pgweb";
import { privateDatabase, privateDbName } from "./parts/private-database";

const spec = { app: "notes-app", role: "notes", database: "notes" } as const;

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
  parts: [
    privateDatabase(
      spec,
      { dbPort: 5432, dbPassword: "notes" },
      { default: [], description: "SQL files applied, as the role `notes`, after the app's own schema when the database is created." },
      {
        requires: { package: t.package() },
        // The app ships its schema; it is applied first.
        schemas: (cfg) => [pathOf(s`${cfg.package}/share/notes-app/schema.sql`)],
      },
    ),
    pgweb("notes-app"),
  ],
  options: {
    package: t.package(undefined, {
      description:
        "The app: `bin/notes-app`, with its schema in `share/notes-app/schema.sql` " +
        "(`pkgs.callPackage ./examples/notes-app { }`). Not in nixpkgs, so there is no default.",
    }),
    port: t.port({ default: 8090, description: "The TCP port the app listens on (127.0.0.1; its `PORT`)." }),
  },

  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],

  assertions: ({ cfg }) => [
    { assertion: neq(cfg.port, cfg.dbPort), message: s`port and dbPort are both ${cfg.port}: the app and its database need a port each.` },
  ],

  processes: ({ name, cfg }) => [
    process(name, {
      command: cfg.package,
      environment: { DATABASE_URL: cfg.connectionString, PORT: s`${cfg.port}`, HOST: "127.0.0.1" },
      dependsOn: [{ process: privateDbName(name), condition: "ready" }],
      readiness: { http: { host: "127.0.0.1", port: cfg.port, path: "/status" } },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
