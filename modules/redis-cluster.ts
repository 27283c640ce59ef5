/**
 * A Redis Cluster: one redis-server per node, then `redis-cli --cluster create`
 * once all nodes are healthy. Options, defaults and process names
 * (`<name>-<node>`, `<name>-cluster-create`) follow services-flake's
 * `redis-cluster` service.
 * Cluster tutorial: https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/
 */
import {
  type ListenPortValue,
  concatLists,
  concatStrings,
  runtimePath,
  count,
  defineService,
  dependsOnEach,
  exe,
  file,
  gte,
  ifSet,
  mapAttrsToList,
  named,
  plus,
  times,
  orElse,
  process,
  processesFor,
  s,
  script,
  sh,
  t,
} from "../dsl";
import { redisServerScript } from "./redis";

export default defineService({
  name: "redis-cluster",
  description:
    "A [Redis Cluster](https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/): one server per node; " +
    "`<name>-cluster-create` joins them into a cluster once, with `replicas` replicas per master (six nodes: 3 masters, 3 replicas).",
  homepage: "https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/",
  example: `services.redis-cluster."cache" = {
  enable = true;
  nodes = {
    n1.port = 21001; n2.port = 21002; n3.port = 21003;
    n4.port = 21004; n5.port = 21005; n6.port = 21006;
  };
};`,
  options: {
    package: t.package("redis"),
    nodes: t.attrsOf(
      t.submodule({
        port: t.port({
          description:
            "The node's TCP port. The cluster bus listens on port + 10000: keep that below the OS's ephemeral port range " +
            "(Linux: 32768–60999), or an outgoing connection may hold it and the node fails to start.",
        }),
        extraConfig: t.lines({ default: "", description: "Lines appended to this node's `redis.conf`, written as they are." }),
      }),
      {
        default: Object.fromEntries([1, 2, 3, 4, 5, 6].map((i) => [`n${i}`, { port: 30000 + i, extraConfig: "" }])),
        description: "The cluster's nodes, by name: each runs as the process `<name>-<node>`.",
      },
    ),
    bind: t.nullOr(t.str(), {
      default: "127.0.0.1",
      example: "127.0.0.1",
      description: "The IP interface every node binds to. `null` means all interfaces.",
    }),
    timeout: t.int({
      default: 2000,
      description: "`cluster-node-timeout`, in milliseconds: after it a node is considered failing and a replica of a failed master takes over.",
    }),
    replicas: t.int({ default: 1, description: "Replicas per master (`--cluster-replicas`)." }),
  },
  // Each node listens on its port and on its cluster bus, port + 10000.
  ports: ({ cfg }) =>
    concatLists<ListenPortValue>(
      mapAttrsToList(cfg.nodes, (node, n) => ({ port: n.port, option: s`nodes.${node}.port` }), "node"),
      mapAttrsToList(cfg.nodes, (node, n) => ({ port: plus(n.port, 10000), option: s`nodes.${node}.port + 10000 (cluster bus)` }), "node"),
    ),
  // redis-cli --cluster create needs at least 3 masters, each with `replicas` replicas.
  assertions: ({ cfg }) => {
    const nodeCount = named("nodeCount", count(cfg.nodes));
    const needed = named("nodesNeeded", times(3, plus(cfg.replicas, 1)));
    return [
      {
        assertion: gte(nodeCount, needed),
        message: s`nodes has ${nodeCount} nodes, but a cluster needs at least 3 masters with ${cfg.replicas} replicas each: ${needed} nodes.`,
      },
    ];
  },
  processes: ({ name, cfg, pkgs }) => {
    const host = named("host", orElse(cfg.bind, "127.0.0.1"));
    const cli = exe(cfg.package, "redis-cli");
    const nodes = processesFor(cfg.nodes, (node, n) => {
      const port = n.port;
      const conf = file(
        "redis.conf",
        concatStrings([
          s`port ${port}\n`,
          "cluster-enabled yes\n",
          s`cluster-config-file nodes-${port}.conf\n`,
          s`cluster-node-timeout ${cfg.timeout}\n`,
          "appendonly yes\n",
          s`appendfilename "appendonly-${port}.aof"\n`,
          s`dbfilename "dump-${port}.rdb"\n`,
          ifSet(cfg.bind, (b) => s`bind ${b}\n`, ""),
          // SIGTERM (process-compose's stop) always ends the node, even mid-way through its first sync
          // or AOF rewrite, where a SHUTDOWN command is answered with an error and the node stays up.
          "shutdown-on-sigterm nosave now force\nshutdown-on-sigint nosave now force\n",
          n.extraConfig,
          "\n",
        ]),
      );
      return process(s`${name}-${node}`, {
        command: redisServerScript("start-redis-cluster-node", pkgs, cfg.package, conf, cfg.dataDir),
        // Ready when the node on the port is this stack's: its working directory is dataDir.
        readiness: { exec: sh`[ "$(${cli} -h ${host} -p ${port} config get dir | ${exe(pkgs.gnused, "sed")} -n 2p)" = ${runtimePath(cfg.dataDir)} ]` },
        restart: { policy: "on-failure", maxRestarts: 5 },
      });
    });

    const hosts = mapAttrsToList(cfg.nodes, (_, n) => s`${host}:${n.port}`, "node");
    const createScript = script({
      name: "redis-cluster-create",
      runtimeInputs: [cfg.package, pkgs.gnugrep, pkgs.coreutils],
      text: sh`
        hosts=(${hosts})
        first=\${hosts[0]}
        info() { redis-cli -h "\${first%:*}" -p "\${first##*:}" cluster info; }
        # Nodes keep their slots in nodes-<port>.conf (in dataDir): a cluster made by an
        # earlier run comes back with every slot assigned, and is left as it is.
        if info | grep -q '^cluster_slots_assigned:16384'; then
          echo "redis cluster already created"
        else
          redis-cli --cluster create "\${hosts[@]}" --cluster-replicas ${cfg.replicas} --cluster-yes
        fi
        # Wait until every slot is served (at most 30 s).
        for _ in $(seq 1 60); do
          if info | grep -q '^cluster_state:ok'; then
            exit 0
          fi
          sleep 0.5
        done
        echo "the cluster did not reach cluster_state:ok" >&2
        exit 1
      `,
    });
    return [
      nodes,
      process(s`${name}-cluster-create`, {
        command: createScript,
        oneshot: true,
        dependsOn: [dependsOnEach(cfg.nodes, (node) => s`${name}-${node}`, "ready")],
      }),
    ];
  },
});
