/**
 * pubsub-emulator: a topic, a subscription, a message published and pulled back
 * through the REST interface; the second instance answers for its own project.
 */
import { defineTest, sh } from "../dsl";
import pubsubEmulator from "./pubsub-emulator";

export default defineTest({
  name: "pubsub-emulator",
  services: { "pubsub-emulator": pubsubEmulator },
  instances: {
    "pubsub-emulator": {
      ps1: { port: 29950, project: "test" },
      ps2: { port: 29951, project: "other project" },
    },
  },
  rendered: [
    { process: "ps1", contains: ["--project test --data-dir \"$data\" --host-port 127.0.0.1:29950"] },
    { process: "ps2", contains: ["--project 'other project'", "--host-port 127.0.0.1:29951"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    text: sh`
      api="http://127.0.0.1:${cfg["pubsub-emulator"].ps1.port}/v1/projects/test"
      test "$(curl -sS http://127.0.0.1:${cfg["pubsub-emulator"].ps1.port}/)" = Ok
      curl -sSf -X PUT "$api/topics/greetings" >/dev/null
      curl -sSf -X PUT -H 'Content-Type: application/json' -d '{"topic":"projects/test/topics/greetings"}' "$api/subscriptions/reader" >/dev/null
      # "aGVsbG8=" is base64 for "hello".
      curl -sSf -X POST -H 'Content-Type: application/json' -d '{"messages":[{"data":"aGVsbG8="}]}' "$api/topics/greetings:publish" | grep -q messageIds
      curl -sSf -X POST -H 'Content-Type: application/json' -d '{"maxMessages":1}' "$api/subscriptions/reader:pull" | grep -q '"data": *"aGVsbG8="'
      test "$(curl -sS http://127.0.0.1:${cfg["pubsub-emulator"].ps2.port}/)" = Ok
    `,
    dependsOn: [
      { process: "ps1", condition: "ready" },
      { process: "ps2", condition: "ready" },
    ],
  }),
});
