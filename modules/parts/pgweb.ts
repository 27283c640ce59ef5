/**
 * The pgweb part: `<name>-pgweb`, a web UI ([pgweb](https://github.com/sosedoff/pgweb))
 * on a service's database, run when `pgweb.enable` is set. It reads the
 * service's `connectionString` (the private-database part's) and starts once
 * the database `<name>-db` is ready.
 */
import { definePart, type ListenPortValue, optional, process, s, script, sh, t } from "../../dsl";
import { privateDbName } from "./private-database";

export const pgweb = (app: string) =>
  definePart({
    name: "pgweb",
    requires: { connectionString: t.str() },
    options: {
      pgweb: t.submodule(
        {
          enable: t.bool({
            default: false,
            description: `Run [pgweb](https://github.com/sosedoff/pgweb) on ${app}'s database as \`<name>-pgweb\`.`,
          }),
          port: t.port({ default: 8081, description: "The TCP port pgweb's web UI listens on (127.0.0.1)." }),
          package: t.package("pgweb"),
        },
        { default: {}, description: `A web UI for ${app}'s database.` },
      ),
    },
    ports: ({ cfg }) => optional<ListenPortValue[]>(cfg.pgweb.enable, [{ port: cfg.pgweb.port, option: "pgweb.port" }]),
    processes: ({ name, cfg }) => [
      process(s`${name}-pgweb`, {
        command: script({
          name: "start-pgweb",
          runtimeInputs: [cfg.pgweb.package],
          text: sh`exec pgweb --bind=127.0.0.1 --listen=${cfg.pgweb.port} --skip-open`,
        }),
        // pgweb's Go driver requires TLS unless told otherwise; the private database has none.
        environment: { PGWEB_DATABASE_URL: s`${cfg.connectionString}?sslmode=disable` },
        dependsOn: [{ process: privateDbName(name), condition: "ready" }],
        readiness: { http: { host: "127.0.0.1", port: cfg.pgweb.port, path: "/" } },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }).when(cfg.pgweb.enable),
    ],
  });
