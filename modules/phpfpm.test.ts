/**
 * phpfpm (Debian's PHP 8.2): services-flake's test — a pool on a Unix socket and
 * one on a TCP port — and a PHP script run through each, which shows phpOptions
 * and phpEnv reached the workers.
 */
import { defineTest, sh } from "../dsl";
import phpfpm from "./phpfpm";

export default defineTest({
  name: "phpfpm",
  services: { phpfpm },
  instances: {
    phpfpm: {
      phpfpm1: {
        listen: "phpfpm.sock",
        extraConfig: { pm: "ondemand", "pm.max_children": 1, "catch_workers_output": true },
        phpOptions: 'date.timezone = "Europe/Paris"\n',
        phpEnv: { GREETING: "hello from phpEnv" },
        globalSettings: { log_level: "debug" },
      },
      phpfpm2: { listen: 29000, extraConfig: { pm: "ondemand", "pm.max_children": 1 } },
    },
  },
  rendered: [
    { process: "phpfpm1", contains: ["[phpfpm1]\n", "listen = phpfpm.sock\n", "pm.max_children = 1\n", "catch_workers_output = yes\n", "env[GREETING] = hello from phpEnv\n", "log_level = debug\n", 'date.timezone = "Europe/Paris"'] },
    { process: "phpfpm2", contains: ["listen = 127.0.0.1:29000\n", "daemonize = no\n", "error_log = /proc/self/fd/2\n"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.get("fcgi"), pkgs.coreutils, pkgs.gnugrep],
    text: sh`
      printf '%s\\n' '<?php echo date_default_timezone_get(), " ", getenv("GREETING"), "\\n";' > ./greet.php
      php() { env -i SCRIPT_FILENAME="$(realpath ./greet.php)" REQUEST_METHOD=GET cgi-fcgi -bind -connect "$1"; }
      php ${cfg.phpfpm.phpfpm1.dataDir}/phpfpm.sock | grep -qx 'Europe/Paris hello from phpEnv'
      # The second pool has neither: PHP's default time zone, no GREETING.
      php 127.0.0.1:${cfg.phpfpm.phpfpm2.listen} | grep -qx 'UTC '
    `,
    dependsOn: [
      { process: "phpfpm1", condition: "ready" },
      { process: "phpfpm2", condition: "ready" },
    ],
  }),
});
