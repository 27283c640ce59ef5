/**
 * etcd, one cluster per instance: each member is a process `<name>-<member>`
 * with its own data directory, client port and peer port. Option names follow
 * etcd's own flags (`--initial-cluster-token`, `--initial-cluster-state`, …)
 * and NixOS's `services.etcd` where it has them.
 * Configuration flags: https://etcd.io/docs/v3.4/op-guide/configuration/
 * Clustering: https://etcd.io/docs/v3.4/op-guide/clustering/
 */
import {
  type ListenPortValue,
  concatLists,
  defineService,
  join,
  mapAttrsToList,
  named,
  nonEmpty,
  orElse,
  process,
  processesFor,
  runtimePath,
  s,
  script,
  sh,
  t,
} from "../dsl";

export default defineService({
  name: "etcd",
  description:
    "[etcd](https://etcd.io/), a consistent key-value store, one cluster per instance: every member of `members` runs as " +
    "the process `<name>-<member>`, with its data in `<dataDir>/<member>`. One member by default; three give a quorum that survives losing one.",
  homepage: "https://etcd.io/docs/v3.4/op-guide/configuration/",
  example: `services.etcd."dcs" = {
  enable = true;
  members = {
    m1 = { clientPort = 2379; peerPort = 2380; };
    m2 = { clientPort = 2381; peerPort = 2382; };
    m3 = { clientPort = 2383; peerPort = 2384; };
  };
};`,
  options: {
    package: t.package("etcd"),
    bind: t.nullOr(t.str(), {
      default: "127.0.0.1",
      example: "127.0.0.1",
      description:
        "The IP address every member listens on, for clients and peers, and advertises to them. " +
        "`null` means all interfaces (0.0.0.0), advertising 127.0.0.1.",
    }),
    members: t.attrsOf(
      t.submodule({
        clientPort: t.port({ description: "The TCP port this member serves clients on (`--listen-client-urls`); etcd's default is 2379." }),
        peerPort: t.port({ description: "The TCP port this member talks to the other members on (`--listen-peer-urls`); etcd's default is 2380." }),
      }),
      {
        default: { m1: { clientPort: 2379, peerPort: 2380 } },
        description:
          "The cluster's members, by name (etcd's `--name`): each runs as the process `<name>-<member>`. " +
          "Use an odd number: a cluster of n members keeps working while more than n/2 are up.",
      },
    ),
    initialClusterToken: t.str({
      default: "etcd-cluster",
      description:
        "`--initial-cluster-token`: members bootstrapped with different tokens never join each other's cluster. " +
        "Read only when a member starts on an empty data directory.",
    }),
    initialClusterState: t.enum(["new", "existing"], {
      default: "new",
      description:
        "`--initial-cluster-state`: `new` when all members bootstrap together, `existing` when they join a running cluster. " +
        "Read only when a member starts on an empty data directory.",
    }),
    heartbeatInterval: t.int({
      default: 100,
      description: "`--heartbeat-interval`, in milliseconds: how often the leader tells the followers it is alive.",
    }),
    electionTimeout: t.int({
      default: 1000,
      description: "`--election-timeout`, in milliseconds: how long a follower waits without a heartbeat before it calls an election.",
    }),
    extraArgs: t.listOf(t.str(), {
      default: [],
      example: ["--auto-compaction-retention=1"],
      description: "More arguments for every member's `etcd`, one argument per element, each quoted for the shell.",
    }),
  },
  ports: ({ cfg }) =>
    concatLists<ListenPortValue>(
      mapAttrsToList(cfg.members, (m, v) => ({ port: v.clientPort, option: s`members.${m}.clientPort` }), "member"),
      mapAttrsToList(cfg.members, (m, v) => ({ port: v.peerPort, option: s`members.${m}.peerPort` }), "member"),
    ),
  assertions: ({ cfg }) => [{ assertion: nonEmpty(cfg.members), message: "members is empty: an etcd cluster needs at least one member." }],
  processes: ({ name, cfg, pkgs }) => {
    const listen = named("listenHost", orElse(cfg.bind, "0.0.0.0"));
    const host = named("advertiseHost", orElse(cfg.bind, "127.0.0.1"));
    const initialCluster = named(
      "initialCluster",
      join(",", mapAttrsToList(cfg.members, (m, v) => s`${m}=http://${host}:${v.peerPort}`, "member")),
    );
    return [
      processesFor(cfg.members, (member, m) =>
        process(s`${name}-${member}`, {
          command: script({
            name: "start-etcd-member",
            runtimeInputs: [cfg.package, pkgs.coreutils],
            // The data directory is private (etcd wants 0700); the --initial-* flags matter only
            // while it is empty: later starts rejoin the cluster the member already belongs to.
            text: sh`
              umask 077
              data=${runtimePath(cfg.dataDir)}/${member}
              mkdir -p -- "$data"
              chmod 0700 -- "$data"
              exec etcd \\
                --name ${member} \\
                --data-dir "$data" \\
                --listen-client-urls ${s`http://${listen}:${m.clientPort}`} \\
                --advertise-client-urls ${s`http://${host}:${m.clientPort}`} \\
                --listen-peer-urls ${s`http://${listen}:${m.peerPort}`} \\
                --initial-advertise-peer-urls ${s`http://${host}:${m.peerPort}`} \\
                --initial-cluster ${initialCluster} \\
                --initial-cluster-token ${cfg.initialClusterToken} \\
                --initial-cluster-state ${cfg.initialClusterState} \\
                --heartbeat-interval ${cfg.heartbeatInterval} \\
                --election-timeout ${cfg.electionTimeout} \\
                ${cfg.extraArgs}
            `,
          }),
          // /health answers 200 only when the member is part of a cluster that has a leader (a quorum).
          readiness: { http: { host, port: m.clientPort, path: "/health" } },
          restart: { policy: "on-failure", maxRestarts: 5 },
        }),
      ),
    ];
  },
});
