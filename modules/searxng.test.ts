import { defineTest, sh } from "../dsl";
import searxng from "./searxng";

export default defineTest({
  name: "searxng",
  services: { searxng },
  instances: {
    searxng: {
      // services-flake's test instance: only its own settings.
      searxng1: {
        port: 25370,
        use_default_settings: false,
        settings: { brand: {}, doi_resolvers: { dummy: "http://example.org" }, default_doi_resolver: "dummy" },
      },
      searxng2: { port: 25371, secret_key: "another-secret", settings: { general: { instance_name: "services-ts search" } } },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.jq],
    // Each instance serves its settings through /config.
    text: sh`
      curl -sSf http://127.0.0.1:${cfg.searxng.searxng1.port}/ > /dev/null
      curl -sSf http://127.0.0.1:${cfg.searxng.searxng1.port}/config | jq -e '.default_doi_resolver == "dummy" and .doi_resolvers == ["dummy"]'
      curl -sSf http://127.0.0.1:${cfg.searxng.searxng2.port}/config | jq -e '.instance_name == "services-ts search"'
    `,
    dependsOn: [
      { process: "searxng1", condition: "ready" },
      { process: "searxng2", condition: "ready" },
    ],
  }),
  rendered: [
    { process: "searxng1", contains: ['"use_default_settings":false', '"port":25370', '"default_doi_resolver":"dummy"'] },
    { process: "searxng2", contains: ['"port":25371', '"secret_key":"another-secret"', '"instance_name":"services-ts search"', '"use_default_settings":true'] },
  ],
});
