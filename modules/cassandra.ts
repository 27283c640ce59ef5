/**
 * Apache Cassandra, one node per instance (by default a single-node cluster), its
 * data, commit log and logs in `dataDir`. Options, defaults and the process name
 * follow services-flake's `cassandra` service, so its users' configurations work
 * unchanged. `cassandra.yaml` reference:
 * https://cassandra.apache.org/doc/latest/cassandra/managing/configuration/cass_yaml_file.html
 */
import { concatLists, cond, defineService, exe, file, join, nix, process, runtimePath, s, script, sh, t, toJSON } from "../dsl";

export default defineService({
  name: "cassandra",
  description:
    "[Apache Cassandra](https://cassandra.apache.org/) wide-column database, one node per instance " +
    "(a single-node cluster unless `seedAddresses` say otherwise), its data in `dataDir`.",
  homepage: "https://cassandra.apache.org/doc/latest/cassandra/managing/configuration/cass_yaml_file.html",
  example: `services.cassandra."cass" = {
  enable = true;
  nativeTransportPort = 9043;
  storagePort = 7001;
  jmxPort = 7200;
  extraConfig.commitlog_sync_batch_window_in_ms = 3;
};`,
  options: {
    package: t.package("cassandra"),
    listenAddress: t.str({
      default: "127.0.0.1",
      example: "127.0.0.1",
      description: "The address the node listens on, for other nodes (`listen_address`) and for clients (`rpc_address`).",
    }),
    nativeTransportPort: t.port({ default: 9042, description: "The TCP port clients connect to (the CQL native protocol)." }),
    storagePort: t.port({ default: 7000, description: "The TCP port other nodes of the cluster connect to." }),
    jmxPort: t.port({
      default: 7199,
      description:
        "The TCP port of the JMX agent `nodetool` talks to, on localhost only. Not an option in services-flake, " +
        "where every instance takes Cassandra's fixed 7199, so a second instance could not start.",
    }),
    seedAddresses: t.listOf(t.str(), {
      default: ["127.0.0.1"],
      description: "The addresses of the nodes a starting node contacts to learn the cluster's layout (its seeds).",
    }),
    clusterName: t.str({ default: "Test Cluster", description: "The cluster's name; a node does not join a cluster of another name." }),
    allowClients: t.bool({
      default: true,
      description:
        "Whether the node serves clients over the CQL native protocol (`start_native_transport`). " +
        "Without it, the node counts as ready when its gossip runs (asked with `nodetool` over JMX).",
    }),
    extraConfig: t.anything({
      default: {},
      example: { commitlog_sync_batch_window_in_ms: 3 },
      description: "Settings merged (recursively) over the defaults into `cassandra.yaml`, as a Nix attribute set.",
    }),
    jvmOpts: t.listOf(t.str(), {
      default: [],
      example: ["-Xmx1G"],
      description:
        "Extra JVM arguments, added after Cassandra's own (through `JVM_EXTRA_OPTS`, which Cassandra's launcher " +
        "splits at spaces: one argument cannot contain a space).",
    }),
    defaultExtraConfig: t.anything({
      default: ({ cfg }) => ({
        start_native_transport: cfg.allowClients,
        listen_address: cfg.listenAddress,
        rpc_address: cfg.listenAddress,
        native_transport_port: cfg.nativeTransportPort,
        storage_port: cfg.storagePort,
        commitlog_sync: "batch",
        commitlog_sync_batch_window_in_ms: 2,
        cluster_name: cfg.clusterName,
        partitioner: "org.apache.cassandra.dht.Murmur3Partitioner",
        endpoint_snitch: "SimpleSnitch",
        data_file_directories: [s`${cfg.dataDir}/data`],
        commitlog_directory: s`${cfg.dataDir}/commitlog`,
        saved_caches_directory: s`${cfg.dataDir}/saved_caches`,
        hints_directory: s`${cfg.dataDir}/hints`,
        seed_provider: [
          {
            class_name: "org.apache.cassandra.locator.SimpleSeedProvider",
            parameters: [{ seeds: join(",", cfg.seedAddresses) }],
          },
        ],
      }),
      defaultText: { md: "the addresses, ports, cluster name and seeds of the options above; data directories under `dataDir`" },
      readOnly: true,
      internal: true,
      description: "The `cassandra.yaml` settings `extraConfig` is merged over.",
    }),
  },
  ports: ({ cfg }) => [
    { port: cond(cfg.allowClients, cfg.nativeTransportPort, 0), option: "nativeTransportPort" },
    { port: cfg.storagePort, option: "storagePort" },
    { port: cfg.jmxPort, option: "jmxPort" },
  ],
  processes: ({ name, cfg, pkgs }) => {
    // JSON is YAML: cassandra.yaml is the merged settings written with toJSON.
    const yaml = file("cassandra.yaml", toJSON(nix<object>("attrs")`lib.recursiveUpdate ${cfg.defaultExtraConfig} ${cfg.extraConfig}`));
    // Appended last to Cassandra's JVM options: the JMX port given here overrides cassandra-env.sh's fixed 7199.
    const jvmExtra = join(" ", concatLists([s`-Dcassandra.jmx.local.port=${cfg.jmxPort}`], cfg.jvmOpts));
    return [
      process(name, {
        command: script({
          name: "start-cassandra",
          runtimeInputs: [pkgs.coreutils, cfg.package],
          // The configuration directory is the package's, with cassandra.yaml replaced by ours;
          // data paths in cassandra.yaml stay relative to where the stack runs, as services-flake's.
          text: sh`
            data=${runtimePath(cfg.dataDir)}
            rm -rf -- "$data/conf"
            mkdir -p -- "$data/conf" "$data/log"
            for f in ${s`${cfg.package}/conf`}/*; do
              ln -s -- "$f" "$data/conf/"
            done
            rm -f -- "$data/conf/cassandra.yaml" "$data/conf/cassandra.yml"
            ln -s -- ${yaml} "$data/conf/cassandra.yaml"

            export CASSANDRA_CONF="$data/conf"
            export CASSANDRA_LOG_DIR="$data/log/"
            export CASSANDRA_HOME=${cfg.package}
            export CLASSPATH=${s`${cfg.package}/lib`}
            export LOCAL_JMX=yes
            export JVM_EXTRA_OPTS=${jvmExtra}
            exec cassandra -f
          `,
        }),
        // Ready when a CQL query is answered (services-flake runs cqlsh's local `show version`);
        // a node without clients, when nodetool reports its gossip running.
        readiness: {
          exec: cond(
            cfg.allowClients,
            sh`${exe(cfg.package, "cqlsh")} ${cfg.listenAddress} ${cfg.nativeTransportPort} -e 'SELECT release_version FROM system.local'`,
            sh`${exe(cfg.package, "nodetool")} -h localhost -p ${cfg.jmxPort} statusgossip | ${exe(pkgs.gnugrep, "grep")} -qx running`,
          ),
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
