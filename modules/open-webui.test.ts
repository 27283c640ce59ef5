import { defineTest, sh } from "../dsl";
import openWebui from "./open-webui";

// As in services-flake's test, no embedding model is downloaded (that needs the network).
const offline = { RAG_EMBEDDING_MODEL: "", OFFLINE_MODE: "True", HF_HUB_OFFLINE: "1" };

export default defineTest({
  name: "open-webui",
  services: { "open-webui": openWebui },
  instances: {
    "open-webui": {
      "open-webui1": { port: 29300, environment: offline },
      "open-webui2": { port: 29301, host: "127.0.0.2", environment: { ...offline, WEBUI_NAME: "Second" } },
    },
  },
  rendered: [
    { process: "open-webui1", contains: ["serve --host 127.0.0.1 --port 29300"], environment: { OFFLINE_MODE: "True", DATA_DIR: "./data/open-webui1/data" } },
    { process: "open-webui2", contains: ["serve --host 127.0.0.2 --port 29301"], environment: { WEBUI_NAME: "Second" } },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    // The page is served, the health check passes, and the second server's configuration has its name.
    text: sh`
      curl -sSf http://127.0.0.1:${cfg["open-webui"]["open-webui1"].port}/ > /dev/null
      curl -sSf http://127.0.0.1:${cfg["open-webui"]["open-webui1"].port}/health | grep -q '"status": *true'
      curl -sSf http://127.0.0.2:${cfg["open-webui"]["open-webui2"].port}/api/config | grep -q '"name": *"Second'
    `,
    dependsOn: [
      { process: "open-webui1", condition: "ready" },
      { process: "open-webui2", condition: "ready" },
    ],
  }),
});
