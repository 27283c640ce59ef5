/**
 * A Redis Cluster: one redis-server per node, then `<name>-cluster-create` forms
 * the cluster once all nodes are healthy (what `redis-cli --cluster create`
 * does, without its one-second waits). Options, defaults and process names
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
    replicas: t.int({
      default: 1,
      description:
        "Replicas per master (as `redis-cli --cluster create --cluster-replicas`): the first `nodes / (replicas + 1)` nodes, by name, are masters.",
    }),
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
        node() { local h=$1; shift; redis-cli -h "\${h%:*}" -p "\${h##*:}" "$@"; }
        info() { node "$first" cluster info; }
        count=\${#hosts[@]}
        replicas=${cfg.replicas}
        masters=$(( count / (replicas + 1) ))
        # Nodes keep their slots in nodes-<port>.conf (in dataDir): a cluster made by an
        # earlier run comes back with every slot assigned, and is left as it is.
        if info | grep -q '^cluster_slots_assigned:16384'; then
          echo "redis cluster already created"
        else
          # Formed directly, with the commands redis-cli --cluster create sends, but polling instead of
          # its one-second sleeps: the first nodes are masters with even slot ranges, the others
          # replicas, assigned to the masters in turn.
          ids=()
          for i in "\${!hosts[@]}"; do
            ids[i]=$(node "\${hosts[i]}" cluster myid)
            # Distinct config epochs from the start, so no collision has to be resolved by gossip.
            node "\${hosts[i]}" cluster set-config-epoch $(( i + 1 )) >/dev/null
          done
          first_slot=0
          for (( m = 0; m < masters; m++ )); do
            # As redis-cli: master m ends at round((m + 1) * 16384 / masters - 1), the last at 16383.
            last_slot=$(( (2 * ((m + 1) * 16384 - masters) + masters) / (2 * masters) ))
            if (( m == masters - 1 )); then last_slot=16383; fi
            node "\${hosts[m]}" cluster addslotsrange "$first_slot" "$last_slot" >/dev/null
            echo "master \${hosts[m]}: slots $first_slot-$last_slot"
            first_slot=$(( last_slot + 1 ))
          done
          # Every node meets every other (one redis-cli per node, its commands on stdin): no node
          # has to wait for gossip to learn of the others.
          for a in "\${hosts[@]}"; do
            for h in "\${hosts[@]}"; do
              [[ $a == "$h" ]] || printf 'CLUSTER MEET %s %s\n' "\${h%:*}" "\${h##*:}"
            done | node "$a" >/dev/null
          done
          # Every node knows every other before a replica names its master (at most 30 s).
          for (( t = 0; t < 600; t++ )); do
            known=0
            for h in "\${hosts[@]}"; do
              if (( $(node "$h" cluster nodes | grep -vc handshake) == count )); then known=$(( known + 1 )); fi
            done
            if (( known == count )); then break; fi
            sleep 0.05
          done
          for (( r = masters; r < count; r++ )); do
            m=$(( (r - masters) % masters ))
            node "\${hosts[r]}" cluster replicate "\${ids[m]}" >/dev/null
            echo "replica \${hosts[r]} of \${hosts[m]}"
          done
        fi
        # Formed when every node serves every slot (at most 30 s). A master turns its cluster_state to ok
        # only 2 s after it started (Redis's CLUSTER_WRITABLE_DELAY): that, not this script, bounds a start.
        formed() {
          for h in "\${hosts[@]}"; do
            node "$h" cluster info | grep -q '^cluster_state:ok' || return 1
          done
        }
        for _ in $(seq 1 600); do
          if formed; then
            exit 0
          fi
          sleep 0.05
        done
        echo "the cluster did not form: not every node reached cluster_state:ok" >&2
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
