/**
 * Chroma, the embedding database, one server per instance, its data in `dataDir`.
 * Options, defaults and the process name follow services-flake's `chromadb` service.
 * Running a server: https://docs.trychroma.com/production/chroma-server/client-server-mode
 */
import { connectHost, defineService, process, runtimePath, script, sh, t } from "../dsl";

export default defineService({
  name: "chromadb",
  description:
    "[Chroma](https://www.trychroma.com/), the open-source embedding database, one server per instance, its data in `dataDir`.",
  homepage: "https://docs.trychroma.com/production/chroma-server/client-server-mode",
  example: `services.chromadb."vectors" = {
  enable = true;
  port = 18000;
};`,
  options: {
    package: t.package(["python3Packages", "chromadb"]),
    host: t.str({ default: "127.0.0.1", example: "0.0.0.0", description: "The address the HTTP API listens on." }),
    port: t.port({ default: 8000, description: "The TCP port of the HTTP API." }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, pkgs }) => [
    process(name, {
      command: script({
        name: "start-chromadb",
        runtimeInputs: [cfg.package, pkgs.coreutils],
        // The data directory as an absolute path, so the server does not depend on its working directory.
        text: sh`
          data=${runtimePath(cfg.dataDir)}
          mkdir -p -- "$data"
          exec chroma run --path "$data" --host ${cfg.host} --port ${cfg.port}
        `,
      }),
      // Ready when the server answers its heartbeat (a JSON timestamp).
      readiness: {
        http: { host: connectHost(cfg.host), port: cfg.port, path: "/api/v2/heartbeat" },
      },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
