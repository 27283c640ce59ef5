import { defineTest, sh } from "../dsl";
import plantuml from "./plantuml";

// "@startuml / Bob -> Alice : hello / @enduml", hex-encoded for a diagram URL (PlantUML's `~h` form).
const diagram = Buffer.from("@startuml\nBob -> Alice : hello\n@enduml\n").toString("hex");

export default defineTest({
  name: "plantuml",
  services: { plantuml },
  instances: {
    plantuml: {
      plantuml1: { port: 29001 },
      // Another loopback address than the default one.
      plantuml2: { port: 29002, host: "127.0.0.2" },
    },
  },
  rendered: [
    { process: "plantuml1", contains: ["-picoweb:29001:127.0.0.1"] },
    { process: "plantuml2", contains: ["-picoweb:29002:127.0.0.2"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    // Each server renders a diagram from its URL: as ASCII art, then as SVG.
    text: sh`
      curl -sSf http://127.0.0.1:${cfg.plantuml.plantuml1.port}/plantuml/txt/~h${diagram} | grep -q 'hello'
      curl -sSf http://127.0.0.2:${cfg.plantuml.plantuml2.port}/plantuml/svg/~h${diagram} | grep -q '<svg'
      curl -sSf http://127.0.0.2:${cfg.plantuml.plantuml2.port}/plantuml/serverinfo | grep -q '"PicoWebServer":true'
    `,
    dependsOn: [
      { process: "plantuml1", condition: "ready" },
      { process: "plantuml2", condition: "ready" },
    ],
  }),
});
