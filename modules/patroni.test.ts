/**
 * patroni under process-compose: a two-node cluster bootstraps one leader and
 * one streaming replica; a row written through HAProxy's read-write port is
 * read back through its read-only port, which refuses writes; the passwords
 * are in 0600 files and in no Nix store file. Stopped and started again, the
 * cluster keeps its rows and its identity (PostgreSQL's system identifier).
 * Failover, switchover and zero-loss are exercised by test/patroni.test.ts.
 */
import { defineTest, sh } from "../dsl";
import patroni from "./patroni";

export default defineTest({
  name: "patroni",
  services: { patroni },
  instances: {
    patroni: {
      pg: {
        nodes: { n1: { port: 25432, restApiPort: 28008 }, n2: { port: 25433, restApiPort: 28009 } },
        haproxy: { port: 25000, replicaPort: 25001 },
        // Made by pg-credentials before any node starts: a file that exists when the cluster is bootstrapped.
        users: { app_user: { passwordFile: "./data/pg/replication.password", options: ["createdb"] } },
        etcdClientPort: 22479,
        etcdPeerPort: 22480,
      },
    },
  },
  rendered: [
    { process: "pg-n1", contains: ['"restapi":{"connect_address":"127.0.0.1:28008"', '"hosts":["127.0.0.1:22479"]', '"ttl":6'] },
    { process: "pg-haproxy", contains: ["http-check send meth OPTIONS uri /primary", "http-check send meth OPTIONS uri /replica", "server n2 127.0.0.1:25433 check port 28009"] },
  ],
  test: ({ cfg, pkgs }) => {
    const pg = cfg.patroni.pg;
    return {
      runtimeInputs: [pg.package, pkgs.curl, pkgs.gnugrep, pkgs.coreutils, pkgs.findutils],
      text: sh`
        run=\${SERVICES_TS_RUN:-1}
        PGPASSWORD=$(cat data/pg/superuser.password)
        export PGPASSWORD PGCONNECT_TIMEOUT=2
        rw() { psql -X -At -h 127.0.0.1 -p 25000 -U postgres -d postgres -c "$1"; }
        ro() { psql -X -At -h 127.0.0.1 -p 25001 -U postgres -d postgres -c "$1"; }

        # Wait (at most 60 s) for a leader behind the read-write port and a streaming replica behind the read-only one,
        # twice in a row 0.6 s apart: on a restart the node that becomes leader starts read-only, and is a replica to
        # HAProxy's checks until it is promoted (two failed checks, 0.5 s, take it out).
        settled() {
          [[ "$(rw "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null)" == 1 ]] \\
            && [[ "$(ro "SELECT pg_is_in_recovery()" 2>/dev/null)" == t ]]
        }
        for _ in $(seq 1 100); do
          if settled && sleep 0.6 && settled; then break; fi
          sleep 0.2
        done
        rw "SELECT pg_is_in_recovery()" | grep -x f
        ro "SELECT pg_is_in_recovery()" | grep -x t
        rw "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" | grep -x 1

        rw "CREATE TABLE IF NOT EXISTS visits (run int, at timestamptz DEFAULT now())"
        rw "INSERT INTO visits (run) VALUES ($run)"
        for _ in $(seq 1 100); do
          # Asked about the table only once it has arrived: a query of a table the replica lacks is logged as ERROR.
          if [[ "$(ro "SELECT to_regclass('visits') IS NOT NULL" 2>/dev/null)" == t && "$(ro "SELECT count(*) FROM visits WHERE run = $run" 2>/dev/null)" == 1 ]]; then break; fi
          sleep 0.1
        done
        ro "SELECT count(*) FROM visits WHERE run = $run" | grep -x 1
        if ro "INSERT INTO visits (run) VALUES (0)" 2>err.txt; then echo "the read-only port took a write" >&2; exit 1; fi
        grep -q "read-only transaction" err.txt

        # Passwords: private files, and not in the configuration Patroni reads from the store.
        test "$(stat -c %a data/pg/superuser.password)" = 600
        test "$(stat -c %a data/pg/replication.password)" = 600
        conf=$(tr '\\0' '\\n' < /proc/"$(cat data/pg/n1/patroni.pid)"/cmdline | grep -x '/nix/store/.*\\.yml')
        test -f "$conf"
        if grep -qF "$PGPASSWORD" "$conf"; then echo "the superuser password is in $conf" >&2; exit 1; fi

        # The bootstrap user exists with its options and its password (read from its file at start).
        rw "SELECT rolcreatedb, rolsuper FROM pg_roles WHERE rolname = 'app_user'" | grep -x 't|f'
        PGPASSWORD=$(cat data/pg/replication.password) psql -X -At -h 127.0.0.1 -p 25000 -U app_user -d postgres -c "SELECT current_user" | grep -x app_user

        # The cluster's identity survives a stop and a start.
        id=$(rw "SELECT system_identifier FROM pg_control_system()")
        if [[ $run == 1 ]]; then
          echo "$id" > system-identifier
        else
          test "$id" = "$(cat system-identifier)"
          rw "SELECT count(*) FROM visits WHERE run = 1" | grep -x 1
        fi
      `,
      dependsOn: [
        { process: "pg-n1", condition: "ready" },
        { process: "pg-n2", condition: "ready" },
        { process: "pg-haproxy", condition: "ready" },
      ],
    };
  },
});
