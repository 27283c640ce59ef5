/**
 * PlantUML's built-in web server (PicoWeb), one per instance. Options, defaults
 * and the process name follow services-flake's `plantuml` service.
 * PicoWeb: https://plantuml.com/picoweb
 */
import { connectHost, defineService, exe, ifSet, process, runtimePath, s, script, sh, t } from "../dsl";

export default defineService({
  name: "plantuml",
  description:
    "[PlantUML](https://plantuml.com/)'s web server (`plantuml -picoweb`), which renders diagrams over HTTP, one per instance.",
  homepage: "https://plantuml.com/picoweb",
  example: `services.plantuml."diagrams" = {
  enable = true;
  port = 18080;
};`,
  options: {
    package: t.package("plantuml"),
    host: t.nullOr(t.str(), {
      default: "127.0.0.1",
      example: "0.0.0.0",
      description:
        "The address the server binds to. `null` means every interface, which is services-flake's default; " +
        "this one keeps it on loopback.",
    }),
    port: t.port({ default: 8080, description: "The TCP port the server listens on." }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, pkgs }) => [
    process(name, {
      command: script({
        name: "start-plantuml",
        runtimeInputs: [pkgs.coreutils],
        // -picoweb:<port>[:<address>], one word. The server keeps nothing on disk; it runs
        // from dataDir so that relative `!include`s resolve there.
        text: sh`
          data=${runtimePath(cfg.dataDir)}
          mkdir -p -- "$data"
          cd -- "$data"
          exec ${exe(cfg.package)} ${s`-picoweb:${cfg.port}${ifSet(cfg.host, (h) => s`:${h}`, "")}`}
        `,
      }),
      // Ready when the server answers its own information endpoint (200 with its version).
      readiness: {
        http: {
          host: ifSet(cfg.host, (h) => connectHost(h), "127.0.0.1"),
          port: cfg.port,
          path: "/plantuml/serverinfo",
        },
      },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
