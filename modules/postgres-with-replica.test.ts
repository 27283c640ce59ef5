/**
 * postgres-with-replica under process-compose: rows written on the primary
 * reach the replica, which is in recovery and refuses writes; the replication
 * role has REPLICATION without SUPERUSER; on the second start the data is kept
 * and the replica is not cloned again.
 */
import { defineTest, sh } from "../dsl";
import postgresWithReplica from "./postgres-with-replica";

export default defineTest({
  name: "postgres-with-replica",
  services: { "postgres-with-replica": postgresWithReplica },
  instances: {
    "postgres-with-replica": {
      db: { port: 5481, replicaPort: 5482, extraMasterDBSettings: { initialDatabases: [{ name: "app" }] } },
    },
  },
  test: ({ cfg, pkgs }) => {
    const db = cfg["postgres-with-replica"].db;
    return {
      runtimeInputs: [db.package, pkgs.gnugrep, pkgs.coreutils],
      text: sh`
        run=\${SERVICES_TS_RUN:-1}
        primary() { psql -X -At -h 127.0.0.1 -p ${db.port} -d app -c "$1"; }
        replica() { psql -X -At -h 127.0.0.1 -p ${db.replicaPort} -d app -c "$1"; }
        marker=./data/db-replica/services-ts-cloned-once

        if [[ $run == 1 ]]; then
          primary "CREATE TABLE visits (n int)"
          touch "$marker"
        else
          test -f "$marker" || { echo "the replica was cloned again" >&2; exit 1; }
        fi
        primary "INSERT INTO visits VALUES ($run)"

        echo "waiting for the row to reach the replica"
        for _ in $(seq 1 100); do
          # Asked about the table only once it has arrived: a query of a table the replica lacks is logged as ERROR.
          if [[ "$(replica "SELECT to_regclass('visits') IS NOT NULL" 2>/dev/null)" == t && "$(replica "SELECT count(*) FROM visits" 2>/dev/null)" == "$run" ]]; then break; fi
          sleep 0.1
        done
        replica "SELECT count(*) FROM visits" | grep -x "$run"

        replica "SELECT pg_is_in_recovery()" | grep -x t
        if replica "INSERT INTO visits VALUES (0)" 2>err.txt; then
          echo "the replica accepted a write" >&2
          exit 1
        fi
        grep -q "read-only transaction" err.txt

        primary "SELECT rolreplication, rolsuper FROM pg_roles WHERE rolname = 'replicator'" | grep -x "t|f"
        primary "SELECT active FROM pg_replication_slots WHERE slot_name = 'db_replica'" | grep -x t
      `,
      dependsOn: [
        { process: "db", condition: "ready" },
        { process: "db-replica", condition: "ready" },
      ],
    };
  },
});
