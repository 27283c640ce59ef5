/**
 * Two KRaft brokers (services-flake's apache-kafka-kraft test; ZooKeeper mode needs
 * a zookeeper instance, so it is not run here), each its own single-node cluster:
 * a topic, a record produced and consumed back, and the records of the first start
 * still there on the second.
 */
import { defineTest, sh } from "../dsl";
import apacheKafka from "./apache-kafka";

const kraft = (nodeId: number, port: number, controllerPort: number) => ({
  "node.id": nodeId,
  "process.roles": ["broker", "controller"],
  listeners: [`PLAINTEXT://127.0.0.1:${port}`, `CONTROLLER://127.0.0.1:${controllerPort}`],
  "controller.quorum.voters": `${nodeId}@127.0.0.1:${controllerPort}`,
  "controller.listener.names": "CONTROLLER",
  "inter.broker.listener.name": "PLAINTEXT",
  "offsets.topic.replication.factor": 1,
  "transaction.state.log.replication.factor": 1,
});

export default defineTest({
  name: "apache-kafka",
  services: { "apache-kafka": apacheKafka },
  instances: {
    "apache-kafka": {
      k1: {
        port: 26092,
        clusterId: "MkU3OEVBNTcwNTJENDM2Qk",
        formatLogDirs: true,
        jvmOptions: ["-Xmx256m", "-Xms256m"],
        settings: kraft(1, 26092, 26093),
      },
      k2: {
        port: 26094,
        clusterId: "c2VydmljZXMtdHMtazIhIQ",
        formatLogDirs: true,
        formatLogDirsIgnoreFormatted: true,
        jvmOptions: ["-Xmx256m", "-Xms256m"],
        settings: { ...kraft(2, 26094, 26095), "num.partitions": 2, "auto.create.topics.enable": false },
      },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [cfg["apache-kafka"].k1.package, pkgs.bash, pkgs.gnugrep, pkgs.coreutils],
    text: sh`
      run=\${SERVICES_TS_RUN:-1}
      for port in ${cfg["apache-kafka"].k1.port} ${cfg["apache-kafka"].k2.port}; do
        echo "broker on $port: a topic, then a record produced and consumed back"
        kafka-topics.sh --bootstrap-server "127.0.0.1:$port" --create --if-not-exists --topic greetings --replication-factor 1
        echo "hello $run" | kafka-console-producer.sh --bootstrap-server "127.0.0.1:$port" --topic greetings
        # Every record of every start: the first start's survived the restart.
        kafka-console-consumer.sh --bootstrap-server "127.0.0.1:$port" --topic greetings --from-beginning \\
          --max-messages "$run" --timeout-ms 30000 > records
        grep -qx "hello 1" records
        grep -qx "hello $run" records
      done

      echo "k2: its settings reached the broker (two partitions by default)"
      kafka-topics.sh --bootstrap-server 127.0.0.1:${cfg["apache-kafka"].k2.port} --describe --topic greetings | grep -q 'PartitionCount: *2'
      echo "k1 and k2 are separate clusters, with the configured ids"
      grep -q 'cluster.id=MkU3OEVBNTcwNTJENDM2Qk' ${cfg["apache-kafka"].k1.dataDir}/logs/meta.properties
      grep -q 'cluster.id=c2VydmljZXMtdHMtazIhIQ' ${cfg["apache-kafka"].k2.dataDir}/logs/meta.properties
    `,
    dependsOn: [
      { process: "k1", condition: "ready" },
      { process: "k2", condition: "ready" },
    ],
  }),
  rendered: [
    {
      process: "k1",
      contains: [
        "listeners=PLAINTEXT://127.0.0.1:26092,CONTROLLER://127.0.0.1:26093\n",
        "process.roles=broker,controller\n",
        "node.id=1\n",
        "controller.quorum.voters=1@127.0.0.1:26093\n",
        "log.dirs=./data/k1/logs\n",
        "kafka-storage.sh format -t MkU3OEVBNTcwNTJENDM2Qk -c ",
        "dirs=(./data/k1/logs)",
        "-Xmx256m -Xms256m kafka.Kafka ",
        "log4j.rootLogger=INFO, stdout",
      ],
    },
    {
      process: "k2",
      contains: [
        "listeners=PLAINTEXT://127.0.0.1:26094,CONTROLLER://127.0.0.1:26095\n",
        "node.id=2\n",
        "num.partitions=2\n",
        "auto.create.topics.enable=false\n",
        " --ignore-formatted",
        "kafka-storage.sh format -t c2VydmljZXMtdHMtazIhIQ -c ",
      ],
    },
  ],
});
