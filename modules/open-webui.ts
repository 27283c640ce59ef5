/**
 * Open WebUI, a web interface for LLM servers (Ollama, OpenAI-compatible APIs), one
 * per instance, its state in `dataDir`. Options, defaults and the process name follow
 * services-flake's `open-webui` service.
 * Environment variables: https://docs.openwebui.com/getting-started/env-configuration
 */
import {
  connectHost,
  defineService,
  exe,
  process,
  s,
  script,
  sh,
  t,
  update,
} from "../dsl";

export default defineService({
  name: "open-webui",
  description:
    "[Open WebUI](https://openwebui.com/), a web interface for Ollama and OpenAI-compatible LLM servers, one per instance, its state in `dataDir`.",
  homepage: "https://docs.openwebui.com/getting-started/env-configuration",
  example: `services.open-webui."chat" = {
  enable = true;
  port = 1112;
  environment = {
    OLLAMA_API_BASE_URL = "http://127.0.0.1:11434";
    WEBUI_AUTH = "False";
  };
};`,
  options: {
    package: t.package("open-webui"),
    host: t.str({ default: "127.0.0.1", example: "0.0.0.0", description: "The address the web interface listens on." }),
    port: t.port({ default: 1111, example: 11111, description: "The TCP port of the web interface." }),
    environment: t.attrsOf(t.str(), {
      default: { SCARF_NO_ANALYTICS: "True", DO_NOT_TRACK: "True", ANONYMIZED_TELEMETRY: "False" },
      example: { OLLAMA_API_BASE_URL: "http://127.0.0.1:11434", WEBUI_AUTH: "False" },
      description:
        "Environment variables for the server ([reference](https://docs.openwebui.com/getting-started/env-configuration)). " +
        "They override the state directories this module sets (`DATA_DIR`, `STATIC_DIR`, `HF_HOME`, `SENTENCE_TRANSFORMERS_HOME`, " +
        "all under `dataDir`). Setting this option replaces the default, which turns telemetry off.",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, pkgs }) => [
    process(name, {
      command: script({
        name: "open-webui-wrapper",
        runtimeInputs: [pkgs.coreutils],
        // The state directories, wherever the environment puts them, made and passed on as absolute paths.
        text: sh`
          mkdir -p -- "$DATA_DIR" "$STATIC_DIR" "$HF_HOME" "$SENTENCE_TRANSFORMERS_HOME"
          DATA_DIR=$(realpath -- "$DATA_DIR")
          STATIC_DIR=$(realpath -- "$STATIC_DIR")
          HF_HOME=$(realpath -- "$HF_HOME")
          SENTENCE_TRANSFORMERS_HOME=$(realpath -- "$SENTENCE_TRANSFORMERS_HOME")
          export DATA_DIR STATIC_DIR HF_HOME SENTENCE_TRANSFORMERS_HOME
          exec ${exe(cfg.package)} serve --host ${cfg.host} --port ${cfg.port}
        `,
      }),
      // The state directories under dataDir, then the user's variables (which may move them), as the process's
      // environment as in services-flake: a user's `settings.processes.<name>.environment` entry wins over both.
      environment: update(
        {
          DATA_DIR: s`${cfg.dataDir}/data`,
          STATIC_DIR: s`${cfg.dataDir}/static`,
          HF_HOME: s`${cfg.dataDir}/hf_home`,
          SENTENCE_TRANSFORMERS_HOME: s`${cfg.dataDir}/transformers_home`,
        },
        cfg.environment,
      ),
      // Ready when the server answers its health check ({"status":true}).
      readiness: {
        http: { host: connectHost(cfg.host), port: cfg.port, path: "/health" },
      },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
