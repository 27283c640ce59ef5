/**
 * Apache Tika's server, one per instance: text and metadata extracted from
 * documents over HTTP. Options, defaults and the process name follow
 * services-flake's `tika` service.
 * Server options: https://cwiki.apache.org/confluence/display/TIKA/TikaServer
 */
import { connectHost, defineService, exe, ifSet, nix, type Pkg, process, s, script, sh, t } from "../dsl";

export default defineService({
  name: "tika",
  description: "[Apache Tika](https://tika.apache.org/) server, extracting text and metadata from documents over HTTP, one per instance.",
  homepage: "https://cwiki.apache.org/confluence/display/TIKA/TikaServer",
  example: `services.tika."tika" = {
  enable = true;
  port = 9999;
  enableOcr = false;
};`,
  options: {
    package: t.package("tika"),
    host: t.str({ default: "127.0.0.1", example: "0.0.0.0", description: "The address the server listens on." }),
    port: t.port({ default: 9998, description: "The port the server listens on." }),
    enableOcr: t.bool({
      default: true,
      description: "Build the package with OCR (Tesseract), as `package.override { enableOcr = …; }`.",
    }),
    configFile: t.nullOr(t.path(), {
      default: null,
      example: { nix: "./tika/tika-config.xml" },
      description: "A Tika configuration file (XML), passed as `--config`.",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, let: bind }) => {
    const pkg = bind("tikaPackage", nix<Pkg>("package")`${cfg.package}.override { enableOcr = ${cfg.enableOcr}; }`);
    return [
      process(name, {
        command: script({
          name: "start-tika",
          runtimeInputs: [],
          // services-flake pastes host and the config path into the command unquoted; here each is one argument.
          text: sh`exec ${exe(pkg, "tika-server")} --host ${cfg.host} --port ${cfg.port} ${ifSet(cfg.configFile, (f) => sh`--config ${s`${f}`}`, sh``)}`,
        }),
        readiness: { http: { host: connectHost(cfg.host), port: cfg.port, path: "/version" } },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
