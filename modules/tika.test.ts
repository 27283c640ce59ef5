/**
 * tika (the tika-server-standard release jar from Maven Central): a document's
 * text extracted over HTTP; the second instance runs with a configuration file.
 */
import { defineTest, projectPath, sh } from "../dsl";
import tika from "./tika";

export default defineTest({
  name: "tika",
  services: { tika },
  instances: {
    tika: {
      tika1: { port: 29710 },
      tika2: { port: 29711, enableOcr: false, configFile: projectPath("test/fixtures/tika-config.xml") },
    },
  },
  rendered: [
    { process: "tika1", contains: ["--host 127.0.0.1 --port 29710"] },
    { process: "tika2", contains: ["--port 29711 --config /nix/store/", "tika-config.xml"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    text: sh`
      curl -sSf http://127.0.0.1:${cfg.tika.tika1.port}/version | grep -q '^Apache Tika'
      printf 'hello from tika' | curl -sSf -X PUT -H 'Content-Type: text/plain' -H 'Accept: text/plain' --data-binary @- http://127.0.0.1:${cfg.tika.tika1.port}/tika | grep -qx 'hello from tika'
      printf 'second server' | curl -sSf -X PUT -H 'Content-Type: text/plain' -H 'Accept: text/plain' --data-binary @- http://127.0.0.1:${cfg.tika.tika2.port}/tika | grep -qx 'second server'
    `,
    dependsOn: [
      { process: "tika1", condition: "ready" },
      { process: "tika2", condition: "ready" },
    ],
  }),
});
