import { defineTest, sh } from "../dsl";
import mailhog from "./mailhog";

export default defineTest({
  name: "mailhog",
  services: { mailhog },
  instances: {
    mailhog: {
      mh1: { api: { port: 25360 }, ui: { port: 25360 }, smtp: { port: 25361 } },
      // The UI on a port of its own; its own host name in message IDs.
      mh2: { api: { port: 25362 }, ui: { port: 25363 }, smtp: { port: 25364 }, extraArgs: ["-hostname", "mh2.test"] },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.jq, pkgs.gnugrep],
    // services-flake's test: a mail sent over SMTP is listed by the API with its subject.
    text: sh`
      send() {
        printf 'From: sender@example.com\\r\\nTo: recipient@example.com\\r\\nSubject: %s\\r\\n\\r\\nA test message.\\r\\n' "$2" |
          curl -sSf "smtp://127.0.0.1:$1" --mail-from sender@example.com --mail-rcpt recipient@example.com --upload-file -
      }
      send ${cfg.mailhog.mh1.smtp.port} "Test email \${SERVICES_TS_RUN:-0}"
      curl -sSf http://127.0.0.1:${cfg.mailhog.mh1.api.port}/api/v2/messages |
        jq -e --arg s "Test email \${SERVICES_TS_RUN:-0}" 'any(.items[]; .Content.Headers.Subject[0] == $s)'
      send ${cfg.mailhog.mh2.smtp.port} "Second server"
      curl -sSf http://127.0.0.1:${cfg.mailhog.mh2.api.port}/api/v2/messages | jq -e 'any(.items[]; .ID | endswith("@mh2.test"))'
      curl -sSf http://127.0.0.1:${cfg.mailhog.mh2.ui.port}/ | grep -qi mailhog
    `,
    dependsOn: [
      { process: "mh1", condition: "ready" },
      { process: "mh2", condition: "ready" },
    ],
  }),
  rendered: [
    { process: "mh1", contains: ["-api-bind-addr 127.0.0.1:25360 -ui-bind-addr 127.0.0.1:25360 -smtp-bind-addr 127.0.0.1:25361"] },
    { process: "mh2", contains: ["-api-bind-addr 127.0.0.1:25362 -ui-bind-addr 127.0.0.1:25363 -smtp-bind-addr 127.0.0.1:25364 -hostname mh2.test"] },
  ],
});
