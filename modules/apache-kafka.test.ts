/**
 * Three brokers: two in KRaft mode on Kafka 4 (services-flake's apache-kafka-kraft test; each its own
 * single-node cluster), one in ZooKeeper mode on Kafka 3.9 (the last series that has it) with a
 * zookeeper instance. Each: a topic, a record produced and consumed back, and the records of the first
 * start still there on the second. Logging: k1 (Kafka 4, Log4j 2) and k3 (Kafka 3.9, Log4j 1) each log
 * to a file through its own configuration, which must hold the broker's start line.
 */
import { defineTest, pkgs, sh } from "../dsl";
import apacheKafka from "./apache-kafka";
import zookeeper from "./zookeeper";

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

const heap = ["-Xmx256m", "-Xms256m"];

export default defineTest({
  name: "apache-kafka",
  services: { "apache-kafka": apacheKafka, zookeeper },
  instances: {
    "apache-kafka": {
      k1: {
        port: 26092,
        clusterId: "MkU3OEVBNTcwNTJENDM2Qk",
        formatLogDirs: true,
        jvmOptions: heap,
        settings: kraft(1, 26092, 26093),
        // Log4j 2 (Kafka 4): standard output and a file.
        log4j2Properties: [
          "appender.file.type = File",
          "appender.file.name = FILE",
          "appender.file.fileName = ./data/k1/broker.log",
          "appender.file.layout.type = PatternLayout",
          "appender.file.layout.pattern = %p %m (%c)%n",
          "rootLogger.level = INFO",
          "rootLogger.appenderRef.file.ref = FILE",
          "",
        ].join("\n"),
      },
      k2: {
        port: 26094,
        clusterId: "c2VydmljZXMtdHMtazIhIQ",
        formatLogDirs: true,
        formatLogDirsIgnoreFormatted: true,
        jvmOptions: heap,
        settings: { ...kraft(2, 26094, 26095), "num.partitions": 2, "auto.create.topics.enable": false },
      },
      k3: {
        port: 26096,
        package: pkgs.get("apacheKafka_3_9"),
        jvmOptions: heap,
        settings: {
          "broker.id": 3,
          listeners: ["PLAINTEXT://127.0.0.1:26096"],
          "zookeeper.connect": "127.0.0.1:26181",
          "zookeeper.connection.timeout.ms": 60000,
          "offsets.topic.replication.factor": 1,
          "transaction.state.log.replication.factor": 1,
        },
        // Log4j 1 (Kafka 3): a file.
        log4jProperties: [
          "log4j.rootLogger=INFO, file",
          "log4j.appender.file=org.apache.log4j.FileAppender",
          "log4j.appender.file.File=./data/k3/broker.log",
          "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
          "log4j.appender.file.layout.ConversionPattern=%p %m (%c)%n",
          "",
        ].join("\n"),
      },
    },
    zookeeper: { "k3-zk": { port: 26181 } },
  },
  test: ({ cfg }) => ({
    runtimeInputs: [cfg["apache-kafka"].k1.package, cfg.zookeeper["k3-zk"].package, pkgs.bash, pkgs.gnugrep, pkgs.coreutils],
    text: sh`
      run=\${SERVICES_TS_RUN:-1}
      produce_consume() { # <kafka bin directory> <port>
        echo "broker on $2: a topic, then a record produced and consumed back"
        "$1/kafka-topics.sh" --bootstrap-server "127.0.0.1:$2" --create --if-not-exists --topic greetings --replication-factor 1
        echo "hello $run" | "$1/kafka-console-producer.sh" --bootstrap-server "127.0.0.1:$2" --topic greetings
        # Every record of every start: the first start's survived the restart.
        "$1/kafka-console-consumer.sh" --bootstrap-server "127.0.0.1:$2" --topic greetings --from-beginning \\
          --max-messages "$run" --timeout-ms 30000 > records
        grep -qx "hello 1" records
        grep -qx "hello $run" records
      }
      produce_consume ${cfg["apache-kafka"].k1.package}/bin ${cfg["apache-kafka"].k1.port}
      produce_consume ${cfg["apache-kafka"].k2.package}/bin ${cfg["apache-kafka"].k2.port}
      produce_consume ${cfg["apache-kafka"].k3.package}/bin ${cfg["apache-kafka"].k3.port}

      echo "k2: its settings reached the broker (two partitions by default)"
      kafka-topics.sh --bootstrap-server 127.0.0.1:${cfg["apache-kafka"].k2.port} --describe --topic greetings | grep -q 'PartitionCount: *2'
      echo "k1 and k2 are separate clusters, with the configured ids"
      grep -q 'cluster.id=MkU3OEVBNTcwNTJENDM2Qk' ${cfg["apache-kafka"].k1.dataDir}/logs/meta.properties
      grep -q 'cluster.id=c2VydmljZXMtdHMtazIhIQ' ${cfg["apache-kafka"].k2.dataDir}/logs/meta.properties
      echo "k3 runs in ZooKeeper mode: it registered itself as broker 3 in k3-zk"
      zkCli.sh -server 127.0.0.1:${cfg.zookeeper["k3-zk"].port} get /brokers/ids/3 2>/dev/null | grep -q '"port":${cfg["apache-kafka"].k3.port}'
      echo "k1 logged through its Log4j 2 configuration, k3 through its Log4j 1 configuration"
      grep -q '^INFO .*Kafka Server started (kafka.server.KafkaRaftServer)' ${cfg["apache-kafka"].k1.dataDir}/broker.log
      grep -q '^INFO \\[KafkaServer id=3\\] started (kafka.server.KafkaServer)' ${cfg["apache-kafka"].k3.dataDir}/broker.log
    `,
    dependsOn: [
      { process: "k1", condition: "ready" },
      { process: "k2", condition: "ready" },
      { process: "k3", condition: "ready" },
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
        // Kafka 4: the Log4j 2 configuration, not the Log4j 1 one.
        "-Dlog4j2.configurationFile=/nix/store/",
        "appender.file.fileName = ./data/k1/broker.log\n",
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
        "rootLogger.appenderRef.stdout.ref = STDOUT\n",
      ],
    },
    {
      process: "k3",
      contains: [
        "zookeeper.connect=127.0.0.1:26181\n",
        "broker.id=3\n",
        // Kafka 3.9: the Log4j 1 configuration.
        "-Dlog4j.configuration=file:/nix/store/",
        "log4j.appender.file.File=./data/k3/broker.log\n",
      ],
    },
  ],
});
