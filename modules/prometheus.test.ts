import { defineTest, sh } from "../dsl";
import prometheus from "./prometheus";

export default defineTest({
  name: "prometheus",
  services: { prometheus },
  instances: {
    prometheus: {
      // services-flake's test: an instance scraping itself.
      pro1: {
        port: 29090,
        extraConfig: { scrape_configs: [{ job_name: "prometheus", scrape_interval: "1s", static_configs: [{ targets: ["127.0.0.1:29090"] }] }] },
      },
      pro2: { port: 29091, extraFlags: ["--storage.tsdb.retention.time=1d"] },
    },
  },
  rendered: [
    { process: "pro1", contains: ["--web.listen-address=127.0.0.1:29090", '"targets":["127.0.0.1:29090"]'] },
    { process: "pro2", contains: ["--storage.tsdb.retention.time=1d"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep, pkgs.coreutils],
    text: sh`
      curl -sSf http://127.0.0.1:${cfg.prometheus.pro1.port}/-/healthy
      curl -sSf http://127.0.0.1:${cfg.prometheus.pro1.port}/api/v1/status/config | grep -q 'job_name: prometheus'
      curl -sSf http://127.0.0.1:${cfg.prometheus.pro2.port}/api/v1/status/flags | grep -q '"storage.tsdb.retention.time":"1d"'
      # The self-scrape shows up as up == 1 within a few seconds.
      for _ in $(seq 1 40); do
        if curl -sSf 'http://127.0.0.1:${cfg.prometheus.pro1.port}/api/v1/query?query=up' | grep -q '"value":\[[0-9.]*,"1"\]'; then
          exit 0
        fi
        sleep 0.25
      done
      echo "the self-scrape never reported up == 1" >&2
      exit 1
    `,
    dependsOn: [
      { process: "pro1", condition: "ready" },
      { process: "pro2", condition: "ready" },
    ],
  }),
});
