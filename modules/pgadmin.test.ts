import { defineTest, sh } from "../dsl";
import pgadmin from "./pgadmin";

// The first account pgAdmin made, read from its SQLite database (in dataDir, which proves
// DATA_DIR reached pgAdmin through config_local.py's `_expr`).
const firstAccount =
  "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('select email from user').fetchone()[0])";

export default defineTest({
  name: "pgadmin",
  services: { pgadmin },
  instances: {
    pgadmin: {
      pgad1: { port: 29050, initialEmail: "admin@example.com", initialPassword: "password" },
      pgad2: {
        port: 29051,
        host: "127.0.0.1",
        initialEmail: "second@example.com",
        initialPassword: "a-longer-password",
        minimumPasswordLength: 12,
        extraConfig: { MAX_LOGIN_ATTEMPTS: 7 },
      },
    },
  },
  rendered: [
    { process: "pgad1-init", contains: ["PGADMIN_SETUP_EMAIL=admin@example.com", "setup-db"] },
    { process: "pgad1", contains: ['"DEFAULT_SERVER_PORT":29050'] },
    {
      process: "pgad2",
      contains: [
        '"DEFAULT_SERVER":"127.0.0.1","DEFAULT_SERVER_PORT":29051',
        '"MAX_LOGIN_ATTEMPTS":7',
        '"PASSWORD_LENGTH_MIN":12',
      ],
    },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep, pkgs.get("python3")],
    text: sh`
      curl -sSf http://localhost:${cfg.pgadmin.pgad1.port}/misc/ping | grep -q PING
      curl -sSf http://127.0.0.1:${cfg.pgadmin.pgad2.port}/misc/ping | grep -q PING
      test "$(python3 -c ${firstAccount} ${cfg.pgadmin.pgad1.dataDir}/pgadmin4.db)" = admin@example.com
      test "$(python3 -c ${firstAccount} ${cfg.pgadmin.pgad2.dataDir}/pgadmin4.db)" = second@example.com
    `,
    dependsOn: [
      { process: "pgad1", condition: "ready" },
      { process: "pgad2", condition: "ready" },
    ],
  }),
});
