/**
 * ElasticMQ, a message queue with an Amazon SQS-compatible interface, one per
 * instance. Options, defaults and the process name follow services-flake's
 * `elasticmq` service.
 * Configuration: https://github.com/softwaremill/elasticmq#configuration
 */
import { cond, connectHost, defineService, exe, file, process, s, script, sh, t, toJSON } from "../dsl";

/** An HTTP endpoint of ElasticMQ (`restSqs`, `restStats`). */
const endpoint = (what: string, port: number) =>
  t.submodule(
    {
      enable: t.bool({ default: true, description: `Serve the ${what}.` }),
      bindPort: t.port({ default: port, description: `The ${what}'s port.` }),
      bindHost: t.str({
        default: "127.0.0.1",
        example: "0.0.0.0",
        description: `The address the ${what} listens on (services-flake's default is \`0.0.0.0\`, every interface).`,
      }),
    },
    { default: {}, description: `ElasticMQ's ${what}.` },
  );

export default defineService({
  name: "elasticmq",
  description: "[ElasticMQ](https://github.com/softwaremill/elasticmq), an in-memory message queue with an Amazon SQS-compatible interface, one per instance.",
  homepage: "https://github.com/softwaremill/elasticmq#configuration",
  example: `services.elasticmq."sqs" = {
  enable = true;
  restSqs.bindPort = 9424;
  restStats.bindPort = 9425;
};`,
  options: {
    package: t.package("elasticmq-server-bin"),
    nodeAddress: t.submodule(
      {
        protocol: t.str({ default: "http", description: "Protocol of the address queue URLs are made with." }),
        host: t.str({ default: "localhost", description: "Host of the address queue URLs are made with." }),
        port: t.port({
          default: 9324,
          description:
            "Port of the address queue URLs are made with (not a port ElasticMQ listens on): set it with `restSqs.bindPort`, " +
            "or the URLs point elsewhere.",
        }),
        contextPath: t.str({ default: "", description: "Path prefix of queue URLs." }),
      },
      { default: {}, description: "The address in the queue URLs ElasticMQ hands out (`node-address`)." },
    ),
    restSqs: endpoint("SQS interface", 9324),
    restStats: endpoint("statistics interface", 9325),
    generateNodeAddress: t.bool({ default: false, description: "Make `node-address` from the address a request came to (`generate-node-address`)." }),
    extraOptions: t.lines({ default: "", example: "queues { orders { } }\n", description: "More configuration, in HOCON, after the settings above." }),
    extraArgs: t.listOf(t.str(), { default: [], description: "More arguments for the server, one per element." }),
  },
  ports: ({ cfg }) => [
    { port: cond(cfg.restSqs.enable, cfg.restSqs.bindPort, 0), option: "restSqs.bindPort" },
    { port: cond(cfg.restStats.enable, cfg.restStats.bindPort, 0), option: "restStats.bindPort" },
  ],
  processes: ({ name, cfg, pkgs }) => {
    // Strings as HOCON quoted strings, which JSON's are (services-flake writes some of them bare).
    const conf = file(
      "elasticmq.conf",
      s`node-address.protocol = ${toJSON(cfg.nodeAddress.protocol)}
node-address.host = ${toJSON(cfg.nodeAddress.host)}
node-address.port = ${cfg.nodeAddress.port}
node-address.context-path = ${toJSON(cfg.nodeAddress.contextPath)}
rest-sqs.enabled = ${toJSON(cfg.restSqs.enable)}
rest-sqs.bind-port = ${cfg.restSqs.bindPort}
rest-sqs.bind-hostname = ${toJSON(cfg.restSqs.bindHost)}
rest-stats.enabled = ${toJSON(cfg.restStats.enable)}
rest-stats.bind-port = ${cfg.restStats.bindPort}
rest-stats.bind-hostname = ${toJSON(cfg.restStats.bindHost)}
generate-node-address = ${toJSON(cfg.generateNodeAddress)}
${cfg.extraOptions}
`,
    );
    return [
      process(name, {
        command: script({
          name: "start-elasticmq",
          runtimeInputs: [],
          text: sh`
            export JAVA_TOOL_OPTIONS=${s`-Dconfig.file=${conf}`}
            exec ${exe(cfg.package)} ${cfg.extraArgs}
          `,
        }),
        // Ready when the SQS interface answers /health; with it off, when the process runs (as services-flake).
        readiness: {
          exec: cond(
            cfg.restSqs.enable,
            sh`${exe(pkgs.curl, "curl")} -sf http://${connectHost(cfg.restSqs.bindHost)}:${cfg.restSqs.bindPort}/health`,
            sh`true`,
          ),
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
