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
      // hardenedAuth: peer on the socket, scram-sha-256 on TCP with the generated password.
      pg3: { port: 5493, hardenedAuth: true, socketDir: "./sockets/pg3" },
    },
  },
  rendered: [{ process: "pg3-init", contains: ["local\tall\tall\t\tpeer\n", "host\tall\tall\t127.0.0.1/32\tscram-sha-256\n"] }],
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

      echo "pg3: TCP needs the password; the password file is private; the socket admits the same OS user"
      if PGPASSWORD=wrong psql -X -At -h 127.0.0.1 -p ${cfg.postgres.pg3.port} -d postgres -c "SELECT 1" 2>/dev/null; then
        echo "pg3 accepted a wrong password" >&2; exit 1
      fi
      PGPASSWORD="$(cat ${cfg.postgres.pg3.passwordFile})" psql -X -At -h 127.0.0.1 -p ${cfg.postgres.pg3.port} -d postgres -c "SELECT 1" | grep -x 1
      test "$(stat -c %a ${cfg.postgres.pg3.passwordFile})" = 600
      psql -X -At -h "$(realpath ./sockets/pg3)" -p ${cfg.postgres.pg3.port} -d postgres -c "SELECT current_user = session_user" | grep -x t
    `,
    dependsOn: [
      { process: "pg1", condition: "ready" },
      { process: "pg2", condition: "ready" },
      { process: "pg3", condition: "ready" },
    ],
  }),
});
