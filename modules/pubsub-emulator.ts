/**
 * The Google Cloud Pub/Sub emulator, one per instance, its data in `dataDir`.
 * Options, defaults and the process name follow services-flake's `pubsub-emulator`.
 * Emulator: https://cloud.google.com/pubsub/docs/emulator
 */
import { connectHost, defineService, nix, type Pkg, process, runtimePath, s, script, sh, t } from "../dsl";

export default defineService({
  name: "pubsub-emulator",
  description: "The [Google Cloud Pub/Sub emulator](https://cloud.google.com/pubsub/docs/emulator), one per instance.",
  homepage: "https://cloud.google.com/pubsub/docs/emulator",
  example: `services.pubsub-emulator."pubsub" = {
  enable = true;
  port = 8086;
  project = "my-project";
};`,
  options: {
    "google-cloud-sdk": t.package(undefined, {
      default: ({ pkgs }) =>
        nix<Pkg>("package")`${pkgs.get("google-cloud-sdk")}.withExtraComponents [ ${pkgs.get("google-cloud-sdk")}.components.pubsub-emulator ]`,
      defaultText: "pkgs.google-cloud-sdk.withExtraComponents [ pkgs.google-cloud-sdk.components.pubsub-emulator ]",
      description: "The Google Cloud SDK to run; it must include the `pubsub-emulator` component.",
    }),
    jre: t.package("jre", { description: "The Java runtime the emulator runs on (`JAVA_HOME`)." }),
    host: t.str({ default: "127.0.0.1", example: "0.0.0.0", description: "The address the emulator listens on." }),
    port: t.port({ default: 8085, description: "The port the emulator listens on." }),
    project: t.str({ default: "default", description: "The project id the emulator serves." }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, pkgs }) => [
    process(name, {
      command: script({
        name: "start-pubsub-emulator",
        runtimeInputs: [cfg["google-cloud-sdk"], cfg.jre, pkgs.coreutils],
        // services-flake pastes dataDir, project and host into the command line unquoted; here each is one argument.
        text: sh`
          data=${runtimePath(cfg.dataDir)}
          mkdir -p -- "$data"
          export JAVA_HOME=${cfg.jre}
          exec gcloud beta emulators pubsub start --project ${cfg.project} --data-dir "$data" --host-port ${s`${cfg.host}:${cfg.port}`}
        `,
      }),
      // Ready when the emulator answers "Ok" on its root path.
      readiness: { http: { host: connectHost(cfg.host), port: cfg.port, path: "/" } },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
