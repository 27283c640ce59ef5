/**
 * elasticmq: a message sent to a queue through the SQS query interface and
 * received back; the second instance's statistics interface lists its queue.
 */
import { defineTest, sh } from "../dsl";
import elasticmq from "./elasticmq";

export default defineTest({
  name: "elasticmq",
  services: { elasticmq },
  instances: {
    elasticmq: {
      mq1: { restSqs: { bindPort: 29900 }, restStats: { bindPort: 29901 }, nodeAddress: { port: 29900 } },
      mq2: { restSqs: { bindPort: 29910 }, restStats: { bindPort: 29911 }, extraOptions: "queues {\n  orders {}\n}\n" },
    },
  },
  rendered: [
    { process: "mq1", contains: ["rest-sqs.bind-port = 29900\n", 'rest-sqs.bind-hostname = "127.0.0.1"\n', "node-address.port = 29900\n", "rest-stats.bind-port = 29901\n"] },
    { process: "mq2", contains: ["rest-sqs.bind-port = 29910\n", "queues {\n  orders {}\n}\n", "JAVA_TOOL_OPTIONS='-Dconfig.file=/nix/store/"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    text: sh`
      sqs="http://127.0.0.1:${cfg.elasticmq.mq1.restSqs.bindPort}"
      curl -sSf "$sqs/?Action=CreateQueue&QueueName=greetings" | grep -q '<QueueUrl>'
      curl -sSf "$sqs/queue/greetings?Action=SendMessage&MessageBody=hello%20from%20elasticmq" | grep -q '<MessageId>'
      curl -sSf "$sqs/queue/greetings?Action=ReceiveMessage" | grep -q 'hello from elasticmq'
      curl -sSf "http://127.0.0.1:${cfg.elasticmq.mq2.restStats.bindPort}/statistics/queues" | grep -q orders
    `,
    dependsOn: [
      { process: "mq1", condition: "ready" },
      { process: "mq2", condition: "ready" },
    ],
  }),
});
