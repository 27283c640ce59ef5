/**
 * postgres under process-compose: two clusters with initial databases and
 * schemas, ensureDatabases / ensureUsers, a Unix socket directory and a
 * superuser name, queried with psql.
 */
import { defineTest, sh } from "../dsl";
import postgres from "./postgres";

export default defineTest({
  name: "postgres",
  services: { postgres },
  instances: {
    postgres: {
      pg1: {
        port: 5491,
        initialScript: { before: "CREATE ROLE reader;", after: "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('it''s here');" },
        ensureDatabases: ["app"],
        ensureUsers: [{ name: "app", ensureDBOwnership: true, ensureClauses: { createdb: true } }],
      },
      pg2: {
        port: 5492,
        superuser: "admin",
        socketDir: "./sockets/pg2",
        settings: { cluster_name: "it's \\ services-ts", max_connections: 42 },
        initialDatabases: [{ name: "shop" }],
      },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [cfg.postgres.pg1.package, pkgs.gnugrep, pkgs.coreutils],
    text: sh`
      q1() { psql -X -At -h 127.0.0.1 -p ${cfg.postgres.pg1.port} -d postgres -c "$1"; }
      q2() { psql -X -At -h "$(realpath ${cfg.postgres.pg2.socketDir})" -p ${cfg.postgres.pg2.port} -U admin -d shop -c "$1"; }

      echo "pg1: initialScript ran once, in order"
      q1 "SELECT rolname FROM pg_roles WHERE rolname = 'reader'" | grep -x reader
      q1 "SELECT body FROM notes" | grep -x "it's here"

      echo "pg1: ensureDatabases and ensureUsers"
      q1 "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'" | grep -x app
      q1 "SELECT rolcreatedb AND rolcanlogin FROM pg_roles WHERE rolname = 'app'" | grep -x t

      echo "pg2: superuser, socket, settings, initial database"
      q2 "SELECT current_user" | grep -x admin
      q2 "SHOW cluster_name" | grep -Fx "it's \\ services-ts"
      q2 "SHOW max_connections" | grep -x 42
      q2 "SELECT current_database()" | grep -x shop
    `,
    dependsOn: [
      { process: "pg1", condition: "ready" },
      { process: "pg2", condition: "ready" },
    ],
  }),
});
