# Run tier: PostgreSQL extensions and pgTAP database tests, as a team using
# Supabase-style extensions writes them (issue 16).
#
# One instance with `extensions = ps: [ … ]`: the test package set's
# `postgresql.withPackages` is a PostgreSQL tree holding only the chosen
# extensions (Debian's postgresql-15-postgis-3, -cron, -pgtap, -pgaudit,
# -partman, -hypopg), so a wrong mapping, an extension left out or a missing
# `shared_preload_libraries` fails here. The schema creates each extension and
# gives it work; the `test` process uses each one: a PostGIS distance, pg_cron's
# job running, pgaudit's audit lines, pg_partman's partitions, a hypopg
# hypothetical index. `ext-pgtap` runs
# the pgTAP suite in ./postgres-extensions/pgtap with pg_prove once the server is
# ready, and the test waits for it to succeed.
#
# A plain Nix stack rather than a module test: the schema and the pgTAP tests are
# path literals, which the DSL cannot write into a generated test.
{ config, lib, pkgs, ... }:
let
  ext = config.services.postgres.ext;
in
{
  imports = [ ../../generated/default.nix ];

  services.postgres.ext = {
    enable = true;
    port = 5485;
    extensions = ps: [ ps.postgis ps.pg_cron ps.pgtap ps.pgaudit ps.pg_partman ps.hypopg ];
    settings = {
      shared_preload_libraries = "pg_cron,pgaudit";
      "cron.database_name" = "app";
      "pgaudit.log" = "write, ddl";
    };
    initialScript.before = "CREATE ROLE tester LOGIN;";
    initialDatabases = [ { name = "app"; schemas = [ ./postgres-extensions/schema.sql ]; } ];
    pgtap = {
      enable = true;
      tests = [ ./postgres-extensions/pgtap ];
      database = "app";
      user = "tester";
    };
  };

  settings.processes.test = {
    command = pkgs.writeShellApplication {
      name = "postgres-extensions-test";
      runtimeInputs = [ ext.package pkgs.gnugrep pkgs.coreutils ];
      text = ''
        run=''${SERVICES_TS_RUN:-1}
        q() { psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p ${toString ext.port} -d app -c "$1"; }

        echo "the package the instance reports is the one with extensions, and the server runs from it"
        test -e ${ext.package}/share/postgresql/${ext.package.psqlSchema}/extension/pgtap.control
        q "SELECT setting FROM pg_settings WHERE name = 'data_directory'" >/dev/null

        echo "postgis: the distance from Berlin to Paris, in km"
        km=$(q "SELECT round(ST_Distance(a.location, b.location) / 1000) FROM places a, places b WHERE a.name = 'berlin' AND b.name = 'paris'")
        echo "$km km"
        test "$km" -ge 870 && test "$km" -le 890

        echo "pg_partman: daily partitions around today, and a row of today lands in one of them"
        parts=$(q "SELECT count(*) FROM pg_inherits WHERE inhparent = 'public.events'::regclass")
        echo "$parts partitions"
        test "$parts" -ge 5
        q "INSERT INTO events (created_at, body) VALUES (now(), 'start $run')"
        q "SELECT tableoid::regclass FROM events WHERE body = 'start $run'" | grep -E '^events_p[0-9]{4}_[0-9]{2}_[0-9]{2}$'

        echo "hypopg: a hypothetical index, which the planner would use"
        q "SELECT count(*) FROM hypopg_create_index('CREATE INDEX ON places (name)')" | grep -x 1
        q "SELECT count(*) FROM hypopg_list_indexes" | grep -x 0

        echo "pgaudit: a write is audited (the client sees the audit line)"
        PGOPTIONS="-c pgaudit.log_client=on -c client_min_messages=log" \
          psql -X -At -h 127.0.0.1 -p ${toString ext.port} -d app -c "INSERT INTO ticks DEFAULT VALUES" 2>audit.txt
        cat audit.txt
        grep -E 'AUDIT: SESSION,[0-9]+,[0-9]+,WRITE,INSERT' audit.txt

        echo "pg_cron: the scheduler runs in the server, and the job of every minute runs"
        q "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'" | grep -x 1
        for _ in $(seq 1 150); do
          done_runs=$(q "SELECT count(*) FROM cron.job_run_details WHERE status = 'succeeded'")
          if [ "$done_runs" -ge 1 ]; then break; fi
          sleep 0.5
        done
        echo "$done_runs succeeded runs of the job"
        test "$done_runs" -ge 1
        q "SELECT count(*) > 0 FROM ticks" | grep -x t
      '';
    };
    depends_on.ext.condition = "process_healthy";
    depends_on.ext-pgtap.condition = "process_completed_successfully";
  };
}
