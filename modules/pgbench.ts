/**
 * pgbench, PostgreSQL's benchmark, as a load test pointed at a postgres
 * instance of the same stack by name (`target`): it reads that instance's port,
 * socket directory, superuser and authentication, waits until it is ready,
 * initialises pgbench's tables (`pgbench -i -s <scale>`), runs the benchmark and
 * writes `<dataDir>/report.json`. With `replica`, it initialises on the primary
 * (`services.postgres.<target>`) and benchmarks read-only on the replica
 * `services.postgres.<target>-replica` (postgres-with-replica's names).
 * Options follow pgbench's own flags: https://www.postgresql.org/docs/current/pgbench.html
 */
import { and, cond, connectHost, defineService, eq, type Expr, file, ifSet, isNull, not, notNull, optionRoot, or, orElse, process, runtimePath, s, script, sh, type ShellCode, sql, t } from "../dsl";
import { loadReport, reportCommand } from "./parts/load-report";
import postgres from "./postgres";

export default defineService({
  name: "pgbench",
  description:
    "[pgbench](https://www.postgresql.org/docs/current/pgbench.html) load test against a postgres instance named by `target` " +
    "(or its postgres-with-replica replica): initialises, runs, writes `<dataDir>/report.json` and fails when a threshold is missed.",
  homepage: "https://www.postgresql.org/docs/current/pgbench.html",
  example: `services.pgbench."bench" = {
  enable = true;
  target = "db";        # services.postgres."db" (or a postgres-with-replica's primary)
  scale = 2;
  clients = 4;
  duration = 10;
  minTps = 100.0;
  exitOnEnd = true;
};`,
  parts: [loadReport],
  options: {
    package: t.package("postgresql", { description: "The PostgreSQL package whose `pgbench` and `psql` are used." }),
    target: t.str({
      description: "The name of the postgres instance to load (`services.postgres.<target>`); for a postgres-with-replica instance, its name is its primary's.",
      example: "db",
      namesInstanceOf: "postgres",
    }),
    replica: t.bool({
      default: false,
      description:
        "Benchmark the replica `services.postgres.\"<target>-replica\"` (a postgres-with-replica's) instead of the primary: " +
        "tables are initialised on the primary, the run waits until the replica has them, and the script must be read-only " +
        "(the default script becomes `select-only`).",
    }),
    database: t.str({
      default: ({ name }) => name,
      defaultText: { md: "the instance name" },
      description:
        "The database pgbench's tables go into; created on the primary when missing. Each load test has its own by default: " +
        "two that initialise the same database would drop each other's tables.",
    }),
    initialize: t.bool({
      default: true,
      description: "Run `pgbench -i` (drop and recreate pgbench's tables at `scale`) before every run. Off: use the tables as they are.",
    }),
    scale: t.int({ default: 1, description: "Scale factor of `pgbench -i -s`: 100 000 rows of `pgbench_accounts` each." }),
    clients: t.int({ default: 1, description: "Concurrent database sessions (`-c`)." }),
    threads: t.int({ default: 1, description: "Worker threads of pgbench (`-j`)." }),
    duration: t.nullOr(t.int(), { default: null, example: 30, description: "Run for this many seconds (`-T`). `null`: run `transactions` instead." }),
    transactions: t.nullOr(t.int(), {
      default: null,
      description: "Transactions each client runs (`-t`). `null` with `duration` null: pgbench's default, 10.",
    }),
    builtin: t.nullOr(t.enum(["tpcb-like", "simple-update", "select-only"]), {
      default: null,
      description: "A built-in script (`-b`). `null`: `tpcb-like` on the primary, `select-only` with `replica`; unused when `script` is set.",
    }),
    script: t.nullOr(t.lines(), {
      default: null,
      example: "\\set aid random(1, 100000 * :scale)\nSELECT abalance FROM pgbench_accounts WHERE aid = :aid;",
      description: "A custom SQL script (`-f`), in pgbench's script language, instead of a built-in one.",
    }),
    extraArgs: t.listOf(t.str(), { default: [], example: ["--rate=100"], description: "More arguments for the benchmark run of `pgbench`." }),
  },

  assertions: ({ cfg, hasInstance }) => [
    {
      assertion: hasInstance(postgres, cfg.target),
      message: s`target is "${cfg.target}", but the stack has no enabled postgres instance of that name (${optionRoot}.postgres."${cfg.target}"); name one, or a postgres-with-replica instance.`,
    },
    {
      assertion: or(not(cfg.replica), hasInstance(postgres, s`${cfg.target}-replica`)),
      message: s`replica is set, but the stack has no enabled postgres instance "${cfg.target}-replica" (a postgres-with-replica "${cfg.target}" has one).`,
    },
    { assertion: or(isNull(cfg.duration), isNull(cfg.transactions)), message: "duration and transactions are both set: pgbench runs for one or the other." },
    {
      assertion: or(not(cfg.replica), notNull(cfg.script), isNull(cfg.builtin), eq(cfg.builtin, "select-only")),
      message: s`replica is set but builtin is "${orElse(cfg.builtin, "select-only")}", which writes: a replica is read-only; use select-only or a read-only script.`,
    },
  ],

  processes: ({ name, cfg, pkgs, instanceOf }) => {
    const primary = instanceOf(postgres, cfg.target);
    const replica = instanceOf(postgres, s`${cfg.target}-replica`);
    // How to reach an instance: its socket directory when it has one, else TCP; its superuser; with
    // hardenedAuth over TCP, the password read from its file at start (never in a command line).
    const connect = (pg: typeof primary): Expr<ShellCode> =>
      sh`-h ${cond(eq(pg.socketDir, ""), sh`${connectHost(pg.listen_addresses)}`, runtimePath(pg.socketDir))} -p ${pg.port} ${ifSet(pg.superuser, (u) => sh`-U ${u}`, sh``)}`;
    const password = (pg: typeof primary): Expr<ShellCode> =>
      cond(and(pg.hardenedAuth, eq(pg.socketDir, "")), sh`PGPASSWORD=$(cat -- ${runtimePath(pg.passwordFile)}); export PGPASSWORD`, sh`:`);
    const builtin = orElse(cfg.builtin, cond(cfg.replica, "select-only", "tpcb-like"));
    const scriptArgs = ifSet(cfg.script, (text) => sh`-f ${file("pgbench-script.sql", text)}`, sh`-b ${builtin}`);
    const length = ifSet(cfg.duration, (d) => sh`-T ${d}`, ifSet(cfg.transactions, (n) => sh`-t ${n}`, sh``));
    const benchTarget = cond(cfg.replica, s`${cfg.target}-replica`, cfg.target);
    const run = script({
      name: "pgbench-load-test",
      runtimeInputs: [cfg.package, pkgs.coreutils],
      text: sh`
        data=${runtimePath(cfg.dataDir)}
        mkdir -p -- "$data"
        rm -rf -- "$data/log" "$data/report.json" "$data/stdout.txt"
        mkdir -- "$data/log"
        # Whatever ends the script (a failed step included), the report is written and is the verdict.
        finish() {
          status=$?
          trap - EXIT
          set +e
          ${reportCommand(pkgs, cfg, "pgbench", name, benchTarget, sh`--status "$status" --stdout "$data/stdout.txt" --logs "$data/log/pgbench_log"`)}
          exit $?
        }
        trap finish EXIT
        # Never wait for a password at a prompt (psql -w; pgbench reads an empty stdin): a missing one is an error.
        ${password(primary)}
        primary=(${connect(primary)})
        if [[ -z "$(psql -X -w -At "\${primary[@]}" -d postgres -c ${sql`SELECT 1 FROM pg_database WHERE datname = ${cfg.database}`})" ]]; then
          createdb -w "\${primary[@]}" -- ${cfg.database}
        fi
        ${cond(cfg.initialize, sh`pgbench -i -q -s ${cfg.scale} "\${primary[@]}" -- ${cfg.database} </dev/null`, sh`:`)}
        ${cond(cfg.replica, sh`
          ${password(replica)}
          bench=(${connect(replica)})
          # Wait (at most 60 s) until the replica has replayed the primary's WAL up to now: the tables as initialised.
          lsn=$(psql -X -w -At "\${primary[@]}" -d postgres -c "SELECT pg_current_wal_lsn()")
          for _ in $(seq 1 120); do
            if [[ "$(psql -X -w -At "\${bench[@]}" -d postgres -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" 2>/dev/null)" == t ]]; then break; fi
            sleep 0.5
          done
        `, sh`bench=("\${primary[@]}")`)}
        # On a replica pgbench cannot vacuum (or truncate pgbench_history) first: -n.
        pgbench "\${bench[@]}" ${cond(cfg.replica, sh`-n`, sh``)} -c ${cfg.clients} -j ${cfg.threads} ${length} ${scriptArgs} --log --log-prefix="$data/log/pgbench_log" ${cfg.extraArgs} -- ${cfg.database} </dev/null | tee "$data/stdout.txt"
      `,
    });
    return [
      process(name, {
        command: run,
        oneshot: true,
        dependsOn: [{ process: benchTarget, condition: "ready" }],
        processCompose: { exit_on_end: cfg.exitOnEnd },
      }),
    ];
  },
});
