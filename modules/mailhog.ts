/**
 * MailHog, one SMTP test server per instance: it keeps the mail it receives (in
 * memory) and shows it in a web UI and an HTTP API. Options, defaults and the
 * process name follow services-flake's `mailhog` service, so its users'
 * configurations work unchanged.
 * Command line: https://github.com/mailhog/MailHog/blob/master/docs/CONFIG.md
 */
import { cond, connectHost, defineService, eq, exe, process, s, script, sh, t } from "../dsl";

/** A listener: services-flake's `host` and `port` pair. */
const listener = (what: string, port: number) =>
  t.submodule(
    {
      host: t.str({ default: "127.0.0.1", description: `The address the ${what} listens on.` }),
      port: t.port({ default: port, description: `The TCP port of the ${what}.` }),
    },
    { default: {}, description: `Where the ${what} listens.` },
  );

export default defineService({
  name: "mailhog",
  description: "[MailHog](https://github.com/mailhog/MailHog), an SMTP server for testing that keeps the mail it receives and shows it in a web UI and an API, one per instance.",
  homepage: "https://github.com/mailhog/MailHog/blob/master/docs/CONFIG.md",
  example: `services.mailhog."mail" = {
  enable = true;
  smtp.port = 1026;
  api.port = 8026;
  ui.port = 8026;
};`,
  options: {
    package: t.package("mailhog"),
    api: listener("HTTP API (`/api/v2/messages`)", 8025),
    ui: listener("web UI (the same server as the API when both have one address and port)", 8025),
    smtp: listener("SMTP server", 1025),
    extraArgs: t.listOf(t.str(), {
      default: [],
      example: ["-invite-jim"],
      description: "Extra arguments to `MailHog`, one argument per element, each quoted for the shell.",
    }),
  },
  // The UI shares the API's listener when they have the same port (and address).
  ports: ({ cfg }) => [
    { port: cfg.api.port, option: "api.port" },
    { port: cond(eq(cfg.ui.port, cfg.api.port), 0, cfg.ui.port), option: "ui.port" },
    { port: cfg.smtp.port, option: "smtp.port" },
  ],
  processes: ({ name, cfg }) => [
    process(name, {
      command: script({
        name: "start-mailhog",
        text: sh`exec ${exe(cfg.package)} -api-bind-addr ${s`${cfg.api.host}:${cfg.api.port}`} -ui-bind-addr ${s`${cfg.ui.host}:${cfg.ui.port}`} -smtp-bind-addr ${s`${cfg.smtp.host}:${cfg.smtp.port}`} ${cfg.extraArgs}`,
      }),
      // Ready when the API lists the messages (services-flake's check).
      readiness: {
        http: { host: connectHost(cfg.api.host), port: cfg.api.port, path: "/api/v2/messages" },
      },
    }),
  ],
});
