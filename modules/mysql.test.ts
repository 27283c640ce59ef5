/**
 * mysql (Debian's MariaDB): services-flake's test — an initial database from a
 * schema directory, ensureUsers, an initialScript, time zones and a socketDir of
 * its own — with names that need quoting.
 */
import { defineTest, projectPath, sh } from "../dsl";
import mysql from "./mysql";

export default defineTest({
  name: "mysql",
  services: { mysql },
  instances: {
    mysql: {
      m1: {
        settings: { mysqld: { port: 23306 } },
        // 01-tables.sql, then 02-rows.sql (which needs the table); README.md is not applied.
        initialDatabases: [{ name: "test_database", schema: projectPath("test/fixtures/mysql-schemas") }, { name: "it's-a `db`" }],
        initialScript: "CREATE USER foo IDENTIFIED BY 'password@123';\nCREATE USER bar;\n",
        ensureUsers: [{ name: "test_user", password: "pa'ss\\word", ensurePermissions: { "test_database.*": "ALL PRIVILEGES" } }],
      },
      m2: {
        importTimeZones: true,
        socketDir: "./data/m2-sockets",
        settings: { mysqld: { port: 23307, max_connections: 42 }, client: { "default-character-set": "utf8mb4" } },
      },
    },
  },
  rendered: [
    { process: "m1", contains: ["port=23306", "bind-address=127.0.0.1", "mysql_install_db"] },
    { process: "m2", contains: ["max_connections=42", "[client]\ndefault-character-set=utf8mb4", "mysql_tzinfo_to_sql"] },
    {
      process: "m1-configure",
      // The SQL, quoted for the shell: it's-a `db` as an identifier; the password's ' and \ in a string literal.
      contains: [
        "mysql_root -e 'CREATE DATABASE `it'\\''s-a ``db```'",
        "IDENTIFIED BY '\\''pa'\\'''\\''ss\\\\word'\\'''",
        "GRANT ALL PRIVILEGES ON test_database.* TO '\\''test_user'\\''@'\\''localhost'\\'''",
      ],
    },
  ],
  test: ({ cfg }) => ({
    runtimeInputs: [cfg.mysql.m1.package],
    text: sh`
      q() { MYSQL_PWD="" mysql -h 127.0.0.1 -P "$1" -u root -N -B -e "$2"; }
      test "$(q ${cfg.mysql.m1.settings.mysqld.port} "SELECT label FROM test_database.items WHERE id = 1")" = "it's here"
      test "$(q ${cfg.mysql.m1.settings.mysqld.port} "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'test_database'")" = 1
      test "$(q ${cfg.mysql.m1.settings.mysqld.port} "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = CONCAT('it''s-a ', CHAR(96), 'db', CHAR(96))")" = 1
      test "$(q ${cfg.mysql.m1.settings.mysqld.port} "SELECT COUNT(*) FROM mysql.user WHERE user IN ('foo', 'bar')")" = 2
      # The ensured user logs in with its password (quote and backslash intact) and sees its database.
      MYSQL_PWD="pa'ss\\word" mysql -h 127.0.0.1 -P ${cfg.mysql.m1.settings.mysqld.port} -u test_user -N -B -e "SELECT COUNT(*) FROM test_database.items" | grep -qx 1
      test "$(q ${cfg.mysql.m2.settings.mysqld.port} "SELECT COUNT(*) > 0 FROM mysql.time_zone_name")" = 1
      test "$(q ${cfg.mysql.m2.settings.mysqld.port} "SELECT @@max_connections")" = 42
      test "$(q ${cfg.mysql.m2.settings.mysqld.port} "SELECT @@socket")" = "$(realpath ./data/m2-sockets)/mysql.sock"
      test "$(q ${cfg.mysql.m1.settings.mysqld.port} "SELECT @@bind_address")" = 127.0.0.1
    `,
    dependsOn: [
      { process: "m1-configure", condition: "succeeded" },
      { process: "m2-configure", condition: "succeeded" },
    ],
  }),
});
