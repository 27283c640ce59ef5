import { defineTest, sh } from "../dsl";
import ollama from "./ollama";

// No model is pulled: that needs the network (as in services-flake's test).
export default defineTest({
  name: "ollama",
  services: { ollama },
  instances: {
    ollama: {
      ollama1: { port: 29200 },
      ollama2: { port: 29201, host: "127.0.0.2", keepAlive: "70", environment: { OLLAMA_DEBUG: "1" } },
    },
  },
  rendered: [
    { process: "ollama1", contains: [], environment: { OLLAMA_HOST: "127.0.0.1:29200", OLLAMA_MODELS: "./data/ollama1" } },
    { process: "ollama2", contains: [], environment: { OLLAMA_HOST: "127.0.0.2:29201", OLLAMA_KEEP_ALIVE: "70", OLLAMA_DEBUG: "1" } },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    // Both servers answer their API: the root, the version, the (empty) list of local models.
    text: sh`
      curl -sSf http://127.0.0.1:${cfg.ollama.ollama1.port}/ | grep -q 'Ollama is running'
      curl -sSf http://127.0.0.1:${cfg.ollama.ollama1.port}/api/tags | grep -q '"models":\[\]'
      curl -sSf http://127.0.0.2:${cfg.ollama.ollama2.port}/api/version | grep -q '"version":'
    `,
    dependsOn: [
      { process: "ollama1", condition: "ready" },
      { process: "ollama2", condition: "ready" },
      { process: "ollama1-models", condition: "succeeded" },
    ],
  }),
});
