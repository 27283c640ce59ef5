import { defineTest, sh } from "../dsl";
import nginx from "./nginx";

export default defineTest({
  name: "nginx",
  services: { nginx },
  instances: {
    nginx: {
      // services-flake's test: a server of its own from httpConfig.
      nginx1: {
        port: 28080,
        httpConfig: `
          server {
            listen 127.0.0.1:28888;
            location / {
              add_header Content-Type text/plain;
              return 200 'Looks good';
            }
          }
        `,
      },
      // Only the default server: nginx answers (404, nothing to serve) on its port.
      nginx2: { port: 28081 },
    },
  },
  rendered: [
    { process: "nginx1", contains: ["listen 127.0.0.1:28080;", "return 200 'Looks good'"] },
    { process: "nginx2", contains: ["listen 127.0.0.1:28081;"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep, pkgs.coreutils],
    text: sh`
      curl -sf -H "Accept: text/plain" http://127.0.0.1:28888/ | grep -qx "Looks good"
      test "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:${cfg.nginx.nginx2.port}/)" = 404
      test -s ${cfg.nginx.nginx1.dataDir}/nginx/nginx.pid
    `,
    dependsOn: [
      { process: "nginx1", condition: "ready" },
      { process: "nginx2", condition: "ready" },
    ],
  }),
});
