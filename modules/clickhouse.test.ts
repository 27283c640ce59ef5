/**
 * clickhouse under process-compose: a table written and read over the native
 * protocol, a user created (the writable access directory), the HTTP interface,
 * an initial database with its schema, and a setup whose schema is broken.
 */
import { defineTest, file, pathOf, sh } from "../dsl";
import clickhouse from "./clickhouse";

export default defineTest({
  name: "clickhouse",
  services: { clickhouse },
  instances: {
    clickhouse: {
      ch1: { port: 27900, extraConfig: { http_port: 27950 } },
      ch2: {
        port: 27901,
        extraConfig: { http_port: 27951 },
        initialDatabases: [
          {
            name: "sample_db",
            schemas: [
              pathOf(
                file(
                  "ride.sql",
                  "CREATE TABLE sample_db.ride (`id` Int64, `short_id` String) ENGINE = MergeTree() PRIMARY KEY (id);\n" +
                    "-- a comment, and a statement over two lines\n" +
                    "INSERT INTO sample_db.ride\n  VALUES (1, 'test_ride');\n",
                ),
              ),
            ],
          },
        ],
      },
      // A syntax error in the schema: setup fails, and leaves no dataDir behind.
      ch3: { port: 27902, initialDatabases: [{ name: "broken", schemas: [pathOf(file("bad.sql", "CREATE STABLE broken.t (id Int64) ENGINE = Memory;\n"))] }] },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [cfg.clickhouse.ch1.package, pkgs.curl, pkgs.gnugrep],
    text: sh`
      ch1() { clickhouse-client --port ${cfg.clickhouse.ch1.port} --query "$1"; }
      ch1 'CREATE TABLE IF NOT EXISTS demo (value FixedString(10)) ENGINE = MergeTree PARTITION BY value ORDER BY tuple()'
      ch1 "INSERT INTO demo (value) VALUES ('foo')"
      ch1 'SELECT * FROM demo' | grep -q foo
      # Access management writes to the access directory under dataDir.
      ch1 "CREATE USER IF NOT EXISTS test IDENTIFIED BY 'test'"
      curl -sSf http://127.0.0.1:27950/ | grep -qx 'Ok.'
      clickhouse-client --port ${cfg.clickhouse.ch2.port} --query "SELECT short_id FROM sample_db.ride WHERE id = 1" | grep -qx test_ride
      test ! -e ${cfg.clickhouse.ch3.dataDir}
    `,
    dependsOn: [
      { process: "ch1", condition: "ready" },
      { process: "ch2", condition: "ready" },
      { process: "ch3-init", condition: "completed" },
    ],
  }),
  rendered: [
    { process: "ch1", contains: ['"tcp_port":"27900"', '"http_port":27950', '"path":"./data/ch1/clickhouse"'] },
    { process: "ch2", contains: ['"tcp_port":"27901"', '"http_port":27951'] },
    {
      process: "ch2-init",
      contains: ["clickhouse-client --port 27901", "--query 'CREATE DATABASE IF NOT EXISTS `sample_db`'", "CREATE TABLE sample_db.ride"],
    },
  ],
});
