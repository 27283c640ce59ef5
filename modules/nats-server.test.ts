/**
 * nats-server under process-compose: a message over the bare client protocol, then
 * JetStream through the NATS command-line client (natscli): a file-backed stream made on
 * the first start keeps its messages in `dataDir` across the restart (SERVICES_TS_RUN=2),
 * and a pull consumer reads them back.
 */
import { defineTest, sh } from "../dsl";
import natsServer from "./nats-server";

export default defineTest({
  name: "nats-server",
  services: { "nats-server": natsServer },
  instances: {
    "nats-server": {
      nats1: { settings: { port: 24222, monitor_port: 28222, jetstream: { max_mem: "16M", max_file: "64M" } } },
      nats2: { settings: { port: 24223, monitor_port: 28223, server_name: "second" } },
    },
  },
  rendered: [
    { process: "nats1", contains: ['"port":24222', '"monitor_port":28222', '"server_name":"nats1"', '"jetstream":{"max_file":"64M","max_mem":"16M"}'] },
    { process: "nats2", contains: ['"server_name":"second"'] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.netcat, pkgs.curl, pkgs.gnugrep, pkgs.jq, pkgs.get("natscli")],
    text: sh`
      # A subscription receives what is published on it, over the client protocol.
      printf 'CONNECT {"verbose":false}\r\nSUB greetings 1\r\nPUB greetings 5\r\nhello\r\nPING\r\n' |
        nc -q 1 127.0.0.1 ${cfg["nats-server"].nats1.settings.port} > replies
      grep -q '^MSG greetings 1 5' replies
      grep -q '^hello' replies
      curl -sSf http://127.0.0.1:${cfg["nats-server"].nats2.settings.monitor_port}/varz | grep -q '"server_name": *"second"'

      # JetStream: the stream is made on the first start only; each start adds one message.
      export NATS_URL=nats://127.0.0.1:${cfg["nats-server"].nats1.settings.port}
      run=\${SERVICES_TS_RUN:-1}
      if [ "$run" = 1 ]; then
        nats stream add orders --subjects='orders.*' --storage=file --replicas=1 --defaults
      fi
      nats pub orders.new "order $run"
      test "$(nats stream info orders --json | jq -r '.state.messages')" = "$run"
      test "$(nats stream info orders --json | jq -r '.config.storage')" = file
      # A pull consumer made on this start reads every message the stream holds, the first start's too.
      nats consumer add orders "reader$run" --pull --deliver=all --ack=explicit --defaults
      nats consumer next orders "reader$run" --count "$run" --raw > got
      grep -qx 'order 1' got
      grep -qx "order $run" got
      # A server without JetStream configured refuses streams (nats2 has none).
      if nats --server nats://127.0.0.1:${cfg["nats-server"].nats2.settings.port} stream ls; then
        echo "nats2 answered a JetStream request, but has no JetStream configured" >&2
        exit 1
      fi
    `,
    dependsOn: [
      { process: "nats1", condition: "ready" },
      { process: "nats2", condition: "ready" },
    ],
  }),
});
