import { defineTest, sh } from "../dsl";
import natsServer from "./nats-server";

export default defineTest({
  name: "nats-server",
  services: { "nats-server": natsServer },
  instances: {
    "nats-server": {
      nats1: { settings: { port: 24222, monitor_port: 28222 } },
      nats2: { settings: { port: 24223, monitor_port: 28223, server_name: "second" } },
    },
  },
  rendered: [
    { process: "nats1", contains: ['"port":24222', '"monitor_port":28222', '"server_name":"nats1"'] },
    { process: "nats2", contains: ['"server_name":"second"'] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.netcat, pkgs.curl, pkgs.gnugrep],
    // A subscription receives what is published on it, over the client protocol.
    text: sh`
      printf 'CONNECT {"verbose":false}\r\nSUB greetings 1\r\nPUB greetings 5\r\nhello\r\nPING\r\n' |
        nc -q 1 127.0.0.1 ${cfg["nats-server"].nats1.settings.port} > replies
      grep -q '^MSG greetings 1 5' replies
      grep -q '^hello' replies
      curl -sSf http://127.0.0.1:${cfg["nats-server"].nats2.settings.monitor_port}/varz | grep -q '"server_name": *"second"'
    `,
    dependsOn: [
      { process: "nats1", condition: "ready" },
      { process: "nats2", condition: "ready" },
    ],
  }),
});
