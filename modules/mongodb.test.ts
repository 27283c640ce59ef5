/**
 * mongodb under process-compose: the first user (with a password that needs
 * quoting) logs in and writes and reads a document; a second server's
 * extraConfig is what it parsed.
 */
import { defineTest, sh } from "../dsl";
import mongodb from "./mongodb";

export default defineTest({
  name: "mongodb",
  services: { mongodb },
  instances: {
    mongodb: {
      mongo1: { port: 27020, user: "tester", password: `it's "quoted" \\ $here` },
      mongo2: { port: 27021, extraConfig: "net.maxIncomingConnections: 77\nsetParameter:\n  cursorTimeoutMillis: 123456\n" },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.get("mongosh"), pkgs.gnugrep],
    text: sh`
      m1() {
        mongosh --quiet --host 127.0.0.1 --port ${cfg.mongodb.mongo1.port} \\
          --username tester --password ${`it's "quoted" \\ $here`} --authenticationDatabase admin shop --eval "$1"
      }
      m1 'db.orders.insertOne({ item: "tea", qty: 2 }).acknowledged' | grep -qx true
      m1 'db.orders.findOne({ item: "tea" }).qty' | grep -qx 2
      mongosh --quiet --host 127.0.0.1 --port ${cfg.mongodb.mongo2.port} \\
        --eval 'db.adminCommand({ getCmdLineOpts: 1 }).parsed.net.maxIncomingConnections' | grep -qx 77
      mongosh --quiet --host 127.0.0.1 --port ${cfg.mongodb.mongo2.port} \\
        --eval 'String(db.adminCommand({ getParameter: 1, cursorTimeoutMillis: 1 }).cursorTimeoutMillis)' | grep -qx 123456
    `,
    dependsOn: [
      { process: "mongo1-configure", condition: "succeeded" },
      { process: "mongo2", condition: "ready" },
    ],
  }),
  rendered: [
    { process: "mongo1", contains: ["net.port: 27020", 'net.bindIp: "127.0.0.1"', 'storage.dbPath: "./data/mongo1"'] },
    { process: "mongo1-configure", contains: ['user: "tester"', 'pwd: "it\'s \\"quoted\\" \\\\ $here"', "--port 27020"] },
    { process: "mongo2", contains: ["net.port: 27021", "net.maxIncomingConnections: 77\nsetParameter:\n  cursorTimeoutMillis: 123456\n"] },
  ],
});
