/**
 * dynamodb-local: a table created, an item put and read back (it survives the
 * restart on the file-backed instance); the in-memory instance lists no tables.
 */
import { defineTest, sh } from "../dsl";
import dynamodbLocal from "./dynamodb-local";

export default defineTest({
  name: "dynamodb-local",
  services: { "dynamodb-local": dynamodbLocal },
  instances: {
    "dynamodb-local": {
      ddb1: { port: 29800 },
      ddb2: { port: 29801, inMemory: true, extraArgs: ["-delayTransientStatuses"] },
    },
  },
  rendered: [
    { process: "ddb1", contains: ["-port 29800 -dbPath \"$db\"", "-disableTelemetry", "realpath -m -- ./data/ddb1"] },
    { process: "ddb2", contains: ["-port 29801  -inMemory -disableTelemetry -delayTransientStatuses"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    text: sh`
      ddb() {
        curl -sSf --aws-sigv4 aws:amz:us-east-1:dynamodb --user fake:fake -X POST -H 'Content-Type: application/x-amz-json-1.0' \\
          -H "X-Amz-Target: DynamoDB_20120810.$2" -d "$3" "http://127.0.0.1:$1/"
      }
      p1=${cfg["dynamodb-local"].ddb1.port}
      if [ "$SERVICES_TS_RUN" = 1 ]; then
        ddb "$p1" CreateTable '{"TableName":"notes","KeySchema":[{"AttributeName":"id","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}' >/dev/null
        ddb "$p1" PutItem '{"TableName":"notes","Item":{"id":{"S":"1"},"body":{"S":"hello from dynamodb"}}}' >/dev/null
      fi
      ddb "$p1" GetItem '{"TableName":"notes","Key":{"id":{"S":"1"}}}' | grep -q 'hello from dynamodb'
      ddb ${cfg["dynamodb-local"].ddb2.port} ListTables '{}' | grep -q '"TableNames":\\[\\]'
    `,
    dependsOn: [
      { process: "ddb1", condition: "ready" },
      { process: "ddb2", condition: "ready" },
    ],
  }),
});
