/**
 * A highly available PostgreSQL cluster run by Patroni: one Patroni process
 * per node (`<name>-<node>`), each running its own PostgreSQL; an etcd
 * instance (`<name>-etcd`, or an existing one by name) holds the leader key;
 * an HAProxy instance (`<name>-haproxy`) routes a read-write port to the
 * leader (Patroni's REST `/primary`) and a read-only port to the replicas
 * (`/replica`). Option names follow Patroni's configuration file.
 * Patroni settings: https://patroni.readthedocs.io/en/latest/yaml_configuration.html
 * Environment: https://patroni.readthedocs.io/en/latest/ENVIRONMENT.html
 * REST health checks: https://patroni.readthedocs.io/en/latest/rest_api.html
 */
import {
  type Expr,
  all,
  concatLists,
  cond,
  defineService,
  dependsOnEach,
  file,
  gte,
  ifSet,
  instance,
  isNull,
  join,
  mapAttrsToList,
  matches,
  mkDefault,
  named,
  neq,
  orElse,
  process,
  processesFor,
  recursiveUpdate,
  runtimePath,
  s,
  script,
  sh,
  t,
  toJSON,
  count,
} from "../dsl";
import etcd from "./etcd";
import haproxy from "./haproxy";

const credential = (role: string, username: string) =>
  t.submodule({
    username: t.str({ default: username, description: `The ${role} role's name.` }),
    passwordFile: t.nullOr(t.str(), {
      default: null,
      example: `/run/secrets/pg-${role}`,
      description:
        `A file holding the ${role} role's password, read by every node when it starts (a relative path is relative to where the stack runs). ` +
        `\`null\` means a random password, made at the first start into \`<dataDir>/${role}.password\` (mode 0600). ` +
        "Either way it reaches Patroni through its environment, never the Nix store or a command line.",
    }),
  });

export default defineService({
  name: "patroni",
  description:
    "A highly available [PostgreSQL](https://www.postgresql.org/) cluster run by [Patroni](https://patroni.readthedocs.io/): " +
    "every node of `nodes` is a Patroni process `<name>-<node>` with its own PostgreSQL and data in `<dataDir>/<node>`; " +
    "`services.etcd.<name>-etcd` (or the etcd instance `etcdInstance`) holds the leader key; `services.haproxy.<name>-haproxy` " +
    "sends the read-write port `haproxy.port` to the leader and the read-only port `haproxy.replicaPort` to the replicas. " +
    "Passwords are random per cluster (or read from files) and reach Patroni through its environment.",
  homepage: "https://patroni.readthedocs.io/en/latest/yaml_configuration.html",
  example: `services.patroni."pg" = {
  enable = true;
  # Applications connect to 127.0.0.1:5000 (read-write, the leader) and 127.0.0.1:5001 (read-only, the replicas).
  synchronous_mode = true;
  users.app = { passwordFile = "./secrets/app-password"; options = [ "createdb" ]; };
};`,
  options: {
    package: t.package("postgresql", { description: "The PostgreSQL every node runs (Patroni's `postgresql.bin_dir` is its `bin`)." }),
    patroniPackage: t.package("patroni"),
    listenAddress: t.str({
      default: "127.0.0.1",
      description: "The IP address PostgreSQL, Patroni's REST API and HAProxy listen on, and that the nodes reach each other at.",
    }),
    nodes: t.attrsOf(
      t.submodule({
        port: t.port({ description: "This node's PostgreSQL TCP port." }),
        restApiPort: t.port({ description: "This node's Patroni REST API TCP port (health checks, switchover); Patroni's default is 8008." }),
      }),
      {
        default: { node1: { port: 5432, restApiPort: 8008 }, node2: { port: 5433, restApiPort: 8009 } },
        description: "The cluster's nodes, by name (Patroni's `name`): each runs as the process `<name>-<node>`. Two or three suit a laptop.",
      },
    ),
    scope: t.str({
      default: ({ name }) => name,
      defaultText: { md: "the instance name" },
      description: "Patroni's `scope`: the cluster's name, under which its keys live in etcd.",
    }),
    dcsNamespace: t.str({
      default: "/service/",
      description: "Patroni's `namespace` (renamed: `namespace` is every instance's process group): the etcd key prefix of all clusters.",
    }),
    ttl: t.int({
      default: 6,
      description:
        "Seconds the leader key lives in etcd unless the leader renews it: after a leader dies, a replica takes over once it expires. " +
        "Patroni's default is 30; Debian's Patroni 3.0.2 accepts less (Patroni ≥ 3.0.3 refuses below 20). Keep `ttl` ≥ `loop_wait` + 2 × `retry_timeout`.",
    }),
    loop_wait: t.int({ default: 1, description: "Seconds between two runs of each node's HA loop (Patroni's default 10)." }),
    retry_timeout: t.int({ default: 2, description: "Seconds a node retries etcd and PostgreSQL operations before it demotes itself (Patroni's default 10)." }),
    maximum_lag_on_failover: t.int({
      default: 1048576,
      description: "Bytes of WAL a replica may lag behind and still be promoted in a failover.",
    }),
    use_pg_rewind: t.bool({ default: true, description: "Rejoin a failed leader as a replica with `pg_rewind` instead of cloning it again." }),
    use_slots: t.bool({ default: true, description: "Give every replica a replication slot on the leader." }),
    synchronous_mode: t.bool({
      default: false,
      description: "Commit only when a replica has the WAL too, and fail over only to such a replica: no acknowledged commit is lost in a failover.",
    }),
    synchronous_mode_strict: t.bool({
      default: false,
      description: "With `synchronous_mode`, refuse commits while no synchronous replica is up (instead of going on without one).",
    }),
    parameters: t.attrsOf(t.anything(), {
      default: {},
      example: { max_connections: 50, wal_log_hints: "on" },
      description: "PostgreSQL settings for every node (Patroni's `postgresql.parameters`).",
    }),
    pg_hba: t.listOf(t.str(), {
      default: [
        "local all all peer",
        "host all all 127.0.0.1/32 scram-sha-256",
        "host all all ::1/128 scram-sha-256",
        "host replication all 127.0.0.1/32 scram-sha-256",
        "host replication all ::1/128 scram-sha-256",
      ],
      description: "pg_hba.conf lines of every node (Patroni's `postgresql.pg_hba`). The default asks every TCP client for a password.",
    }),
    initdb: t.listOf(t.anything(), {
      default: [{ encoding: "UTF8" }, "data-checksums"],
      description: "initdb options for the first node's bootstrap (Patroni's `bootstrap.initdb`): a string is a flag, an attrset a flag with a value.",
    }),
    users: t.attrsOf(
      t.submodule({
        passwordFile: t.str({ description: "A file holding the user's password, read when the node that bootstraps the cluster starts." }),
        options: t.listOf(t.str(), { default: [], example: ["createdb"], description: "Role options (`createrole`, `createdb`, …)." }),
      }),
      {
        default: {},
        description:
          "Roles created when the cluster is bootstrapped (Patroni's `bootstrap.users`, passed as `PATRONI_<user>_PASSWORD`): " +
          "names of letters, digits and `_`.",
      },
    ),
    superuser: credential("superuser", "postgres"),
    replication: credential("replication", "replicator"),
    etcdInstance: t.nullOr(t.str(), {
      default: null,
      example: { nix: '"dcs"' },
      description: "The name of an existing `services.etcd` instance to keep the cluster's state in. `null` means the cluster's own `services.etcd.<name>-etcd`.",
    }),
    etcdClientPort: t.port({
      default: 2379,
      description: "The client TCP port of the cluster's own etcd (one member, `m1`); unused with `etcdInstance`.",
    }),
    etcdPeerPort: t.port({
      default: 2380,
      description: "The peer TCP port of the cluster's own etcd; unused with `etcdInstance`.",
    }),
    extraEtcdSettings: t.deferredModule({
      default: {},
      example: { nix: "{ heartbeatInterval = 50; }" },
      description: "Options for the cluster's own etcd instance (any etcd option; `members` replaces the one member on `etcdClientPort` and `etcdPeerPort`).",
    }),
    haproxy: t.submodule({
      port: t.port({ default: 5000, description: "HAProxy's read-write port: connections go to the current leader." }),
      replicaPort: t.port({ default: 5001, description: "HAProxy's read-only port: connections go to the running replicas." }),
      checkInterval: t.str({
        default: "250ms",
        description: "How often HAProxy asks each node's REST API whether it is the leader or a replica (`inter`); a node is out after two failed checks, back after one good one.",
      }),
    }),
    extraHaproxySettings: t.deferredModule({
      default: {},
      example: { nix: "{ stats.enable = true; }" },
      description: "Options for the cluster's `services.haproxy.<name>-haproxy` instance (any haproxy option).",
    }),
  },

  assertions: ({ cfg }) => [
    { assertion: gte(count(cfg.nodes), 1), message: "nodes is empty: a Patroni cluster needs at least one node." },
    {
      assertion: neq(cfg.haproxy.port, cfg.haproxy.replicaPort),
      message: s`haproxy.port and haproxy.replicaPort are both ${cfg.haproxy.port}: the read-write and read-only ports must differ.`,
    },
    {
      assertion: all(mapAttrsToList(cfg.users, (u) => matches("[A-Za-z_][A-Za-z0-9_]*", u), "user")),
      message: "users: a user name holds a character other than letters, digits and _: Patroni takes each as an environment variable name (PATRONI_<user>_PASSWORD).",
    },
  ],

  instances: ({ name, cfg }) => {
    const host = cfg.listenAddress;
    // OPTIONS: Patroni answers it with the status line only (a GET's body, written after HAProxy has read the
    // status and closed the connection, fills Patroni's log with "Connection reset by peer" tracebacks).
    const servers = (path: string) => [
      "option httpchk",
      `http-check send meth OPTIONS uri ${path}`,
      "http-check expect status 200",
      s`default-server inter ${cfg.haproxy.checkInterval} fall 2 rise 1 on-marked-down shutdown-sessions`,
    ];
    const serverLines = mapAttrsToList(cfg.nodes, (node, n) => s`server ${node} ${host}:${n.port} check port ${n.restApiPort}`, "node");
    return [
      instance(
        etcd,
        s`${name}-etcd`,
        {
          enable: isNull(cfg.etcdInstance),
          namespace: mkDefault(cfg.namespace),
          bind: mkDefault(host),
          // One definition of the whole attrset at default priority, so that extraEtcdSettings.members replaces it.
          members: mkDefault({ m1: { clientPort: cfg.etcdClientPort, peerPort: cfg.etcdPeerPort } }),
        },
        [cfg.extraEtcdSettings],
      ),
      instance(
        haproxy,
        s`${name}-haproxy`,
        {
          enable: true,
          namespace: mkDefault(cfg.namespace),
          ports: [cfg.haproxy.port, cfg.haproxy.replicaPort],
          settings: {
            // Sessions last as long as the client keeps them; a node marked down has its sessions cut at once.
            defaults: mkDefault(["mode tcp", "timeout connect 1s", "timeout client 30m", "timeout server 30m", "timeout check 1s"]),
            proxies: {
              "listen primary": concatLists([s`bind ${host}:${cfg.haproxy.port}`], servers("/primary"), serverLines),
              "listen replicas": concatLists([s`bind ${host}:${cfg.haproxy.replicaPort}`], servers("/replica"), serverLines),
            },
          },
        },
        [cfg.extraHaproxySettings],
      ),
    ];
  },

  processes: ({ name, cfg, pkgs, instanceOf }) => {
    const etcdName = named("etcdName", orElse(cfg.etcdInstance, s`${name}-etcd`));
    const dcs = instanceOf(etcd, etcdName);
    const etcdHost = named("etcdHost", orElse(dcs.bind, "127.0.0.1"));
    const etcdHosts = mapAttrsToList(dcs.members, (_, m) => s`${etcdHost}:${m.clientPort}`, "member");
    const host = cfg.listenAddress;

    const passwordPath = (role: "superuser" | "replication") =>
      ifSet(cfg[role].passwordFile, (f) => runtimePath(f), sh`"$root"/${role}.password`);

    // Make the passwords that are not read from files, once, before any node starts (nodes must agree on them).
    const credentials = process(s`${name}-credentials`, {
      command: script({
        name: "patroni-credentials",
        runtimeInputs: [pkgs.coreutils],
        text: sh`
          umask 077
          root=${runtimePath(cfg.dataDir)}
          mkdir -p -- "$root"
          chmod 0700 -- "$root"
          for role in ${cond(isNull(cfg.superuser.passwordFile), "superuser", "")} ${cond(isNull(cfg.replication.passwordFile), "replication", "")}; do
            [[ -n $role ]] || continue
            if [[ ! -s "$root/$role.password" ]]; then
              head -c 18 /dev/urandom | base64 | tr -d '/+=\\n' > "$root/$role.password.new"
              mv -- "$root/$role.password.new" "$root/$role.password"
              echo "made a password for the $role role in $root/$role.password"
            fi
          done
        `,
      }),
      oneshot: true,
    });

    const userNames = mapAttrsToList(cfg.users, (u) => u, "user");
    const userFiles = mapAttrsToList(cfg.users, (_, v) => v.passwordFile, "user");
    const userOptions = mapAttrsToList(cfg.users, (_, v) => join(",", v.options), "user");

    const nodes = processesFor(cfg.nodes, (node, n) => {
      const config = file(
        s`patroni-${node}.yml`,
        toJSON({
          scope: cfg.scope,
          namespace: cfg.dcsNamespace,
          name: node,
          restapi: { listen: s`${host}:${n.restApiPort}`, connect_address: s`${host}:${n.restApiPort}` },
          etcd3: { hosts: etcdHosts },
          bootstrap: {
            dcs: {
              ttl: cfg.ttl,
              loop_wait: cfg.loop_wait,
              retry_timeout: cfg.retry_timeout,
              maximum_lag_on_failover: cfg.maximum_lag_on_failover,
              synchronous_mode: cfg.synchronous_mode,
              synchronous_mode_strict: cfg.synchronous_mode_strict,
              postgresql: { use_pg_rewind: cfg.use_pg_rewind, use_slots: cfg.use_slots, parameters: cfg.parameters },
            },
            initdb: cfg.initdb,
          },
          postgresql: {
            listen: s`${host}:${n.port}`,
            connect_address: s`${host}:${n.port}`,
            bin_dir: s`${cfg.package}/bin`,
            pg_hba: cfg.pg_hba,
            authentication: {
              superuser: { username: cfg.superuser.username },
              replication: { username: cfg.replication.username },
            },
            // The Unix socket lives in the node's private directory, beside (not in) the data directory, which
            // pg_rewind and pg_basebackup copy file by file (a socket there fails pg_rewind). Debian's default
            // directory, /var/run/postgresql, is root's. The path is relative to the data directory.
            parameters: recursiveUpdate({ unix_socket_directories: ".." }, cfg.parameters),
          },
        }),
      );
      return process(s`${name}-${node}`, {
        command: script({
          name: "start-patroni-node",
          runtimeInputs: [cfg.patroniPackage, cfg.package, pkgs.coreutils],
          // Paths and passwords reach Patroni through its environment (read at start, never in the store or argv).
          text: sh`
            umask 077
            root=${runtimePath(cfg.dataDir)}
            data="$root"/${node}
            mkdir -p -- "$data"
            chmod 0700 -- "$root" "$data"
            export PATRONI_POSTGRESQL_DATA_DIR="$data/pgdata"
            export PATRONI_POSTGRESQL_PGPASS="$data/pgpass"
            PATRONI_SUPERUSER_PASSWORD=$(cat -- ${passwordPath("superuser")})
            PATRONI_REPLICATION_PASSWORD=$(cat -- ${passwordPath("replication")})
            export PATRONI_SUPERUSER_PASSWORD PATRONI_REPLICATION_PASSWORD
            users=(${userNames})
            files=(${userFiles})
            options=(${userOptions})
            for i in "\${!users[@]}"; do
              export "PATRONI_\${users[i]}_PASSWORD=$(cat -- "\${files[i]}")"
              export "PATRONI_\${users[i]}_OPTIONS=\${options[i]}"
            done
            cd -- "$data"
            # Patroni runs as a child, so that a PostgreSQL it leaves behind (stopped while it was starting
            # or demoting one, or killed) is stopped too: an orphaned server would keep the port, and the
            # stack's output open.
            patroni ${config} &
            child=$!
            echo "$child" > "$data/patroni.pid"
            trap 'kill -TERM "$child" 2>/dev/null || true' TERM INT
            status=0
            wait "$child" || status=$?
            # A signal (the trap) ends the first wait early: wait again for Patroni's own exit status.
            while kill -0 "$child" 2>/dev/null; do
              status=0
              wait "$child" || status=$?
            done
            if pg_ctl status -D "$PATRONI_POSTGRESQL_DATA_DIR" >/dev/null 2>&1; then
              echo "Patroni ended and left PostgreSQL running: stopping it"
              pg_ctl stop -D "$PATRONI_POSTGRESQL_DATA_DIR" -m fast -w -t 15 || pg_ctl stop -D "$PATRONI_POSTGRESQL_DATA_DIR" -m immediate -w || true
            fi
            exit "$status"
          `,
        }),
        // Ready when Patroni reports its PostgreSQL running (leader or replica).
        readiness: { http: { host, port: n.restApiPort, path: "/health" }, withinSeconds: 5, failureThreshold: 60 },
        restart: { policy: "on-failure", maxRestarts: 5 },
        stop: { timeoutSeconds: 20 },
        dependsOn: [
          { process: credentials, condition: "succeeded" },
          dependsOnEach(dcs.members, (m) => s`${etcdName}-${m}`, "ready"),
        ],
      });
    });
    return [credentials, nodes];
  },
});
