/**
 * A PostgreSQL primary with a streaming replica, composed from two `postgres`
 * instances: the primary `<name>` and the replica `<name>-replica`, plus
 * `pg-basebackup-<name>`, which clones the primary into the replica's data
 * directory once (with a replication slot and `-R`) before the replica starts.
 * Process and option names follow the seed's postgres-with-replica module.
 * See https://www.postgresql.org/docs/current/warm-standby.html and
 * https://www.postgresql.org/docs/current/app-pgbasebackup.html
 */
import {
  connectHost,
  defineService,
  extendProcess,
  instance,
  mkDefault,
  neq,
  process,
  replaceStrings,
  runtimePath,
  s,
  script,
  sh,
  sql,
  t,
  toLower,
} from "../dsl";
import postgres from "./postgres";

export default defineService({
  name: "postgres-with-replica",
  description:
    "A PostgreSQL primary (`services.postgres.<name>`) with a streaming, read-only replica (`services.postgres.<name>-replica`). " +
    "`pg-basebackup-<name>` clones the primary once, through a replication slot, as a role that has only REPLICATION and LOGIN; " +
    "later starts reuse the replica's data.",
  homepage: "https://www.postgresql.org/docs/current/warm-standby.html",
  example: `services.postgres-with-replica."db" = {
  enable = true;
  port = 5432;
  replicaPort = 5433;
  extraMasterDBSettings.initialDatabases = [ { name = "app"; } ];
};`,
  options: {
    package: t.package("postgresql", { description: "Used by the primary, the replica and pg_basebackup." }),
    port: t.port({ default: 5432, description: "The primary's TCP port." }),
    replicaPort: t.port({ default: 5433, description: "The replica's TCP port." }),
    replicationUser: t.str({
      default: "replicator",
      description: "The role pg_basebackup and the replica connect as; created on the primary with only REPLICATION and LOGIN.",
    }),
    replicationSlot: t.str({
      default: ({ name }) => s`${toLower(replaceStrings(["-", "."], ["_", "_"], name))}_replica`,
      defaultText: { md: "`\"<name>_replica\"`, lowercase, with `-` and `.` replaced by `_`" },
      description: "The physical replication slot on the primary that keeps the WAL the replica still needs.",
    }),
    extraMasterDBSettings: t.deferredModule({
      default: {},
      example: { nix: "{ initialDatabases = [ { name = \"app\"; } ]; settings.log_statement = \"all\"; }" },
      description: "Options for the primary's `services.postgres` instance (any postgres option).",
    }),
    extraReplicaDBSettings: t.deferredModule({
      default: {},
      example: { nix: "{ settings.hot_standby_feedback = true; }" },
      description: "Options for the replica's `services.postgres` instance (any postgres option).",
    }),
  },

  assertions: ({ cfg }) => [
    { assertion: neq(cfg.port, cfg.replicaPort), message: s`port and replicaPort are both ${cfg.port}: the primary and the replica need a port each.` },
  ],

  instances: ({ name, cfg }) => [
    instance(
      postgres,
      name,
      {
        enable: true,
        package: mkDefault(cfg.package),
        port: mkDefault(cfg.port),
        namespace: mkDefault(cfg.namespace),
        ensureUsers: [{ name: cfg.replicationUser, ensureClauses: { login: true, replication: true, superuser: false } }],
      },
      [cfg.extraMasterDBSettings],
    ),
    instance(
      postgres,
      s`${name}-replica`,
      { enable: true, package: mkDefault(cfg.package), port: mkDefault(cfg.replicaPort), namespace: mkDefault(cfg.namespace) },
      [cfg.extraReplicaDBSettings],
    ),
  ],

  processes: ({ name, cfg, pkgs, instanceOf }) => {
    const primary = instanceOf(postgres, name);
    const replica = instanceOf(postgres, s`${name}-replica`);
    const host = connectHost(primary.listen_addresses);
    const backup = process(s`pg-basebackup-${name}`, {
      command: script({
        name: "pg-basebackup",
        runtimeInputs: [cfg.package, pkgs.coreutils],
        text: sh`
          REPLICA_DATA=${runtimePath(replica.dataDir)}
          if [[ -f "$REPLICA_DATA/PG_VERSION" ]]; then
            echo "$REPLICA_DATA already holds the replica; not cloning again"
            exit 0
          fi
          if [[ -d "$REPLICA_DATA" && -n "$(ls -A "$REPLICA_DATA")" ]]; then
            echo "error: $REPLICA_DATA is not empty but holds no cluster; move it away to clone again" >&2
            exit 1
          fi
          mkdir -p "$(dirname "$REPLICA_DATA")"
          # The clone is made beside the replica's dataDir and moved into place when pg_basebackup has
          # finished: an interrupted clone leaves nothing the replica would start from (and crash-loop on).
          clone="$REPLICA_DATA.clone"
          if [[ -e $clone ]]; then
            echo "a previous clone did not finish: cloning again"
            rm -rf -- "$clone"
          fi
          connect=(-h ${host} -p ${primary.port} -U ${cfg.replicationUser})
          slot_args=(--slot=${cfg.replicationSlot})
          slots=$(psql -X -At "\${connect[@]}" -d postgres -c ${sql`SELECT count(*) FROM pg_replication_slots WHERE slot_name = ${cfg.replicationSlot}`})
          if [[ $slots == 0 ]]; then
            slot_args+=(--create-slot)
          fi
          echo "cloning the primary into $REPLICA_DATA"
          pg_basebackup "\${connect[@]}" -D "$clone" -R -X stream --checkpoint=fast "\${slot_args[@]}"
          if [[ -d $REPLICA_DATA ]]; then rmdir -- "$REPLICA_DATA"; fi
          mv -T -- "$clone" "$REPLICA_DATA"
        `,
      }),
      oneshot: true,
      dependsOn: [{ process: name, condition: "ready" }],
    });
    return [
      backup,
      extendProcess(s`${name}-replica-init`, { dependsOn: [{ process: backup, condition: "succeeded" }] }),
    ];
  },
});
