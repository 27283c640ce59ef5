/**
 * Two single-node Cassandra clusters on other ports than the defaults (two nodes on one
 * machine need their own JMX ports too): services-flake's test (a keyspace, a table,
 * a row written and read back), the row still there after a restart, and each node
 * answering with its own cluster name.
 */
import { defineTest, sh } from "../dsl";
import cassandra from "./cassandra";

export default defineTest({
  name: "cassandra",
  services: { cassandra },
  instances: {
    cassandra: {
      cass1: { nativeTransportPort: 26042, storagePort: 26700, jmxPort: 26199, jvmOpts: ["-Xms256m", "-Xmx512m"] },
      cass2: {
        nativeTransportPort: 26043,
        storagePort: 26701,
        jmxPort: 26200,
        clusterName: "Second Cluster",
        extraConfig: { commitlog_sync_batch_window_in_ms: 3 },
        jvmOpts: ["-Xms256m", "-Xmx512m"],
      },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [cfg.cassandra.cass1.package, pkgs.gnugrep],
    text: sh`
      cql() { cqlsh 127.0.0.1 "$1" -e "$2"; }
      for port in ${cfg.cassandra.cass1.nativeTransportPort} ${cfg.cassandra.cass2.nativeTransportPort}; do
        echo "node on $port: a keyspace, a table, a row written and read back"
        cql "$port" "CREATE KEYSPACE IF NOT EXISTS test WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        cql "$port" "CREATE TABLE IF NOT EXISTS test.greetings (id int PRIMARY KEY, name text)"
        cql "$port" "INSERT INTO test.greetings (id, name) VALUES (\${SERVICES_TS_RUN:-1}, 'hello')"
        # The first start's row survives the restart.
        cql "$port" "SELECT name FROM test.greetings WHERE id = 1" | grep -q hello
      done
      echo "each node is its own cluster"
      cql ${cfg.cassandra.cass1.nativeTransportPort} "SELECT cluster_name FROM system.local" | grep -q 'Test Cluster'
      cql ${cfg.cassandra.cass2.nativeTransportPort} "SELECT cluster_name FROM system.local" | grep -q 'Second Cluster'
    `,
    dependsOn: [
      { process: "cass1", condition: "ready" },
      { process: "cass2", condition: "ready" },
    ],
  }),
  rendered: [
    {
      process: "cass1",
      contains: [
        '"native_transport_port":26042',
        '"storage_port":26700',
        '"listen_address":"127.0.0.1"',
        '"data_file_directories":["./data/cass1/data"]',
        "export JVM_EXTRA_OPTS='-Dcassandra.jmx.local.port=26199 -Xms256m -Xmx512m'",
      ],
    },
    {
      process: "cass2",
      contains: [
        '"native_transport_port":26043',
        '"storage_port":26701',
        '"cluster_name":"Second Cluster"',
        '"commitlog_sync_batch_window_in_ms":3',
        "-Dcassandra.jmx.local.port=26200",
      ],
    },
  ],
});
