import { defineTest, file, pathOf, s, sh } from "../dsl";
import alloy from "./alloy";

const greeting = file("greeting.txt", "hello from services-ts\n");

export default defineTest({
  name: "alloy",
  services: { alloy },
  instances: {
    alloy: {
      // A component that reads a file: its export is served by the API.
      alloy1: {
        port: 25340,
        configFile: pathOf(file("config.alloy", s`local.file "greeting" {\n  filename = "${greeting}"\n}\n`)),
      },
      // services-flake's test configuration, another address and a flag.
      alloy2: {
        listenAddress: "localhost",
        port: 25341,
        configFile: pathOf(file("config.alloy", "livedebugging {\n  enabled = true\n}\n")),
        extraFlags: ["--disable-reporting"],
      },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    text: sh`
      curl -sSf http://127.0.0.1:${cfg.alloy.alloy1.port}/api/v0/web/components/local.file.greeting | grep -q 'hello from services-ts'
      curl -sSf http://localhost:${cfg.alloy.alloy2.port}/metrics | grep -q '^alloy_build_info'
    `,
    dependsOn: [
      { process: "alloy1", condition: "ready" },
      { process: "alloy2", condition: "ready" },
    ],
  }),
  rendered: [
    { process: "alloy1", contains: ["--server.http.listen-addr=127.0.0.1:25340", 'local.file "greeting"', "hello from services-ts"] },
    { process: "alloy2", contains: ["--server.http.listen-addr=localhost:25341", "--disable-reporting", "livedebugging"] },
  ],
});
