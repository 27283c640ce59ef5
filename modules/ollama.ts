/**
 * Ollama, the local LLM server, one per instance, its models in `dataDir`. Options,
 * defaults and process names (`<name>`, `<name>-models`) follow services-flake's
 * `ollama` service.
 * Configuration (environment variables): https://github.com/ollama/ollama/blob/main/docs/faq.md
 */
import {
  connectHost,
  defineService,
  exe,
  named,
  nix,
  type Pkg,
  process,
  s,
  script,
  sh,
  t,
  update,
} from "../dsl";

export default defineService({
  name: "ollama",
  description:
    "[Ollama](https://ollama.com/), a server for large language models run locally, one per instance, its models in `dataDir`.",
  homepage: "https://github.com/ollama/ollama/blob/main/docs/faq.md",
  example: `services.ollama."llm" = {
  enable = true;
  port = 11435;
  models = [ "llama3.2:1b" ];
};`,
  options: {
    acceleration: t.nullOr(t.enum([false, "rocm", "cuda"]), {
      default: null,
      example: "rocm",
      description:
        "The hardware acceleration the default `package` is built with: `null` follows nixpkgs' configuration " +
        '(`cudaSupport`, `rocmSupport`; else none), `false` is the CPU only, `"rocm"` for AMD GPUs, `"cuda"` for NVIDIA GPUs.',
    }),
    package: t.package(undefined, {
      default: ({ cfg, pkgs }) => nix<Pkg>("package")`${pkgs.get("ollama")}.override { acceleration = ${cfg.acceleration}; }`,
      defaultText: "pkgs.ollama.override { inherit (config) acceleration; }",
      description: "The Ollama package to run.",
    }),
    port: t.port({ default: 11434, description: "The TCP port of the REST API." }),
    host: t.str({ default: "127.0.0.1", example: "0.0.0.0", description: "The address the REST API listens on." }),
    keepAlive: t.str({
      default: "5m",
      example: "70",
      description:
        'How long a model stays loaded in memory after use (`OLLAMA_KEEP_ALIVE`): a duration such as `"5m"`, or a number of seconds (`"70"`).',
    }),
    models: t.listOf(t.str(), {
      default: [],
      example: ["llama3.2:1b"],
      description:
        "Models to pull once the server is ready (`<name>-models`), from the [library](https://ollama.com/library).",
    }),
    environment: t.attrsOf(t.str(), {
      default: {},
      example: { OLLAMA_DEBUG: "1" },
      description:
        "More environment variables for the server; they override the ones this module sets (`OLLAMA_HOST`, `OLLAMA_MODELS`, `OLLAMA_KEEP_ALIVE`).",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, pkgs }) => {
    const address = named("address", s`${cfg.host}:${cfg.port}`);
    const server = process(name, {
      command: script({
        name: "ollama-server",
        runtimeInputs: [pkgs.coreutils],
        // The models directory, wherever the environment puts it, made and passed on as an absolute path.
        text: sh`
          mkdir -p -- "$OLLAMA_MODELS"
          OLLAMA_MODELS=$(realpath -- "$OLLAMA_MODELS")
          export OLLAMA_MODELS
          exec ${exe(cfg.package)} serve
        `,
      }),
      // The server's variables are the process's environment, as in services-flake: `environment` over the
      // module's, and a user's `settings.processes.<name>.environment` entry over both.
      environment: update({ OLLAMA_MODELS: cfg.dataDir, OLLAMA_HOST: address, OLLAMA_KEEP_ALIVE: cfg.keepAlive }, cfg.environment),
      // Ready when the server answers on its root ("Ollama is running").
      readiness: { http: { host: connectHost(cfg.host), port: cfg.port, path: "/" } },
      restart: { policy: "on-failure", maxRestarts: 5 },
    });
    return [
      server,
      process(s`${name}-models`, {
        oneshot: true,
        command: script({
          name: "ollama-models",
          // One argument per model (services-flake joins them with spaces and splits them again).
          text: sh`
            OLLAMA_HOST=${address}
            export OLLAMA_HOST
            models=(${cfg.models})
            for model in "\${models[@]}"; do
              echo "pulling $model"
              ${exe(cfg.package)} pull "$model"
            done
          `,
        }),
        dependsOn: [{ process: server, condition: "ready" }],
      }),
    ];
  },
});
