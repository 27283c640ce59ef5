import { defineTest, sh } from "../dsl";
import chromadb from "./chromadb";

export default defineTest({
  name: "chromadb",
  services: { chromadb },
  instances: {
    chromadb: {
      chromadb1: { port: 29100 },
      chromadb2: { port: 29101, host: "127.0.0.2" },
    },
  },
  rendered: [
    { process: "chromadb1", contains: ["--host 127.0.0.1 --port 29100"] },
    { process: "chromadb2", contains: ["--host 127.0.0.2 --port 29101"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    // A collection made on the first start is still listed after a restart (SERVICES_TS_RUN=2).
    text: sh`
      db=http://127.0.0.1:${cfg.chromadb.chromadb1.port}/api/v2/tenants/default_tenant/databases/default_database
      if [ "\${SERVICES_TS_RUN:-1}" = 1 ]; then
        curl -sSf -H 'Content-Type: application/json' -d '{"name":"greetings"}' "$db/collections" | grep -q '"name": *"greetings"'
      fi
      curl -sSf "$db/collections" | grep -q '"name": *"greetings"'
      curl -sSf http://127.0.0.2:${cfg.chromadb.chromadb2.port}/api/v2/heartbeat | grep -q nanosecond
    `,
    dependsOn: [
      { process: "chromadb1", condition: "ready" },
      { process: "chromadb2", condition: "ready" },
    ],
  }),
});
