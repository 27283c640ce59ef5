/**
 * ApacheBench (`ab`) as an HTTP load test: pointed at a notes-app instance of
 * the same stack by name (`target`: its port, after it is ready), or at any
 * `url`. Runs the requests, writes `<dataDir>/report.json` (latency percentiles
 * from `ab -e`) and fails when a threshold is missed.
 * Option names follow ab's flags: https://httpd.apache.org/docs/2.4/programs/ab.html
 */
import { and, cond, defineService, exe, file, ifSet, isNull, not, notNull, optionRoot, or, orElse, process, type ProcessSettings, runtimePath, s, script, sh, t } from "../dsl";
import notesApp from "./notes-app";
import { loadReport, reportCommand } from "./parts/load-report";

export default defineService({
  name: "apache-bench",
  description:
    "[ApacheBench](https://httpd.apache.org/docs/2.4/programs/ab.html) (`ab`) HTTP load test against a notes-app instance named by `target`, " +
    "or any `url`: writes `<dataDir>/report.json` and fails when a threshold is missed.",
  homepage: "https://httpd.apache.org/docs/2.4/programs/ab.html",
  example: `services.apache-bench."notes-load" = {
  enable = true;
  target = "notes";     # services.notes-app."notes"
  path = "/notes";
  requests = 2000;
  concurrency = 8;
  maxP99Ms = 200.0;
  exitOnEnd = true;
};`,
  parts: [loadReport],
  options: {
    package: t.package("apacheHttpd", { description: "The package whose `ab` is used (nixpkgs' Apache HTTP Server)." }),
    target: t.nullOr(t.str(), {
      default: null,
      example: "notes",
      namesInstanceOf: "notes-app",
      description: "The notes-app instance to load (`services.notes-app.<target>`): its port, once it is ready. `null`: use `url`.",
    }),
    url: t.nullOr(t.str(), {
      default: null,
      description: "Any URL to load instead of a `target` (ab waits for nothing: the server must be up). `null`: use `target`.",
    }),
    path: t.str({ default: "/", example: "/notes", description: "The path requested on `target` (with its query string, if any)." }),
    requests: t.int({ default: 1, description: "Requests in all (`-n`); ab's default is 1." }),
    concurrency: t.int({ default: 1, description: "Requests in flight at once (`-c`)." }),
    timelimit: t.nullOr(t.int(), {
      default: null,
      example: 30,
      description: "Stop after this many seconds (`-t`), even before `requests` are done. `null`: no limit.",
    }),
    keepAlive: t.bool({ default: false, description: "Reuse connections (HTTP keep-alive, `-k`)." }),
    body: t.nullOr(t.lines(), {
      default: null,
      example: "a note written by the load test",
      description: "Send every request as a POST with this body (`-p`, from a file in the Nix store). `null`: GET.",
    }),
    contentType: t.str({ default: "text/plain", description: "The Content-Type of `body` (`-T`)." }),
    extraArgs: t.listOf(t.str(), { default: [], example: ["-H", "Accept: application/json"], description: "More arguments for `ab`." }),
  },

  assertions: ({ cfg, hasInstance }) => [
    {
      assertion: or(and(notNull(cfg.target), isNull(cfg.url)), and(isNull(cfg.target), notNull(cfg.url))),
      message: "set target (a notes-app instance) or url, one of the two.",
    },
    {
      assertion: or(isNull(cfg.target), hasInstance(notesApp, orElse(cfg.target, ""))),
      message: s`target is "${orElse(cfg.target, "")}", but the stack has no enabled notes-app instance of that name (${optionRoot}.notes-app."${orElse(cfg.target, "")}").`,
    },
  ],

  processes: ({ name, cfg, pkgs, instanceOf }) => {
    const targetName = orElse(cfg.target, "");
    const app = instanceOf(notesApp, targetName);
    const url = ifSet(cfg.url, (u) => u, s`http://127.0.0.1:${app.port}${cfg.path}`);
    const run = script({
      name: "apache-bench-load-test",
      runtimeInputs: [pkgs.coreutils],
      text: sh`
        data=${runtimePath(cfg.dataDir)}
        mkdir -p -- "$data"
        rm -f -- "$data/report.json" "$data/percentiles.csv" "$data/stdout.txt"
        status=0
        # -l: a page whose length varies (a growing list) is not a failed request.
        ${exe(cfg.package, "ab")} -l -n ${cfg.requests} -c ${cfg.concurrency} ${ifSet(cfg.timelimit, (n) => sh`-t ${n}`, sh``)} ${cond(cfg.keepAlive, sh`-k`, sh``)} ${ifSet(cfg.body, (b) => sh`-p ${file("ab-body", b)} -T ${cfg.contentType}`, sh``)} -e "$data/percentiles.csv" ${cfg.extraArgs} ${url} | tee "$data/stdout.txt" || status=$?
        ${reportCommand(pkgs, cfg, "ab", name, orElse(cfg.target, orElse(cfg.url, "")), sh`--status "$status" --stdout "$data/stdout.txt" --csv "$data/percentiles.csv"`)}
      `,
    });
    const settings = (dependsOn: ProcessSettings["dependsOn"]): ProcessSettings => ({
      command: run,
      oneshot: true,
      ...(dependsOn ? { dependsOn } : {}),
      processCompose: { exit_on_end: cfg.exitOnEnd },
    });
    return [
      process(name, settings([{ process: targetName, condition: "ready" }])).when(notNull(cfg.target)),
      process(name, settings(undefined)).when(not(notNull(cfg.target))),
    ];
  },
});
