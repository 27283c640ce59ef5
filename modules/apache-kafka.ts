/**
 * Apache Kafka, one broker per instance, in ZooKeeper mode (`zookeeper.connect`)
 * or in KRaft mode (`process.roles`, with `clusterId` and `formatLogDirs`).
 * Options, defaults and the process name follow services-flake's `apache-kafka`
 * service (itself after NixOS's), so its users' configurations work unchanged.
 * Broker configuration: https://kafka.apache.org/documentation/#brokerconfigs
 */
import {
  cond,
  defineService,
  eq,
  exe,
  type Expr,
  file,
  hasPrefix,
  helper,
  isNull,
  join,
  mapAttrsToList,
  mapList,
  named,
  concatStrings,
  nix,
  not,
  notNull,
  or,
  orElse,
  type Pkg,
  pathOf,
  process,
  replaceStrings,
  s,
  script,
  sh,
  switchType,
  t,
  toStr,
} from "../dsl";

/** A key of a `.properties` file: every character the format gives a meaning to is escaped with `\`. */
const propertyKey = helper("javaPropertyKey", "key", (k: Expr<string>) =>
  replaceStrings(
    ["\\", " ", "=", ":", "#", "!", "\n", "\r", "\t"],
    ["\\\\", "\\ ", "\\=", "\\:", "\\#", "\\!", "\\n", "\\r", "\\t"],
    k,
  ),
);

/** One scalar setting as text: booleans as `true`/`false`, numbers in decimal. */
const propertyScalar = (v: Expr<unknown>): Expr<string> =>
  switchType<string>(v, {
    bool: (b) => cond(b, "true", "false"),
    string: (str) => str,
    other: (x) => toStr(x as Expr<number>),
  });

/** A setting as text: a scalar, or a list joined with commas (Kafka's list syntax). */
const propertyText = helper("javaPropertyText", "value", (v: Expr<unknown>) =>
  switchType<string>(v, {
    bool: (b) => cond(b, "true", "false"),
    string: (str) => str,
    int: (i) => toStr(i),
    other: (l) => join(",", mapList(l as Expr<unknown[]>, propertyScalar, "item")),
  }),
);

/** A value of a `.properties` file: `\` and line breaks escaped, a leading space kept (escaped). */
const propertyValue = helper(
  "javaPropertyValue",
  "text",
  (text: Expr<string>) =>
    s`${cond(hasPrefix(" ", text), "\\", "")}${replaceStrings(["\\", "\n", "\r", "\t"], ["\\\\", "\\n", "\\r", "\\t"], text)}`,
);

/**
 * Kafka's ApiVersions request (version 0, correlation id 1, no client id): the
 * broker answers it with the same correlation id once it handles requests.
 * Octal escapes for printf(1).
 */
const apiVersionsRequest = "\\000\\000\\000\\012\\000\\022\\000\\000\\000\\000\\000\\001\\377\\377";

export default defineService({
  name: "apache-kafka",
  description:
    "[Apache Kafka](https://kafka.apache.org/) event-streaming broker, one per instance, its logs in `dataDir`; " +
    'with ZooKeeper (`settings."zookeeper.connect"`) or in KRaft mode (`clusterId`, `formatLogDirs`).',
  homepage: "https://kafka.apache.org/documentation/#brokerconfigs",
  example: `services.apache-kafka."events" = {
  enable = true;
  port = 9095;
  clusterId = "MkU3OEVBNTcwNTJENDM2Qk";
  formatLogDirs = true;
  settings = {
    "node.id" = 1;
    "process.roles" = [ "broker" "controller" ];
    "listeners" = [ "PLAINTEXT://127.0.0.1:9095" "CONTROLLER://127.0.0.1:9093" ];
    "controller.quorum.voters" = "1@127.0.0.1:9093";
    "controller.listener.names" = "CONTROLLER";
    "offsets.topic.replication.factor" = 1;
  };
};`,
  options: {
    port: t.port({
      default: 9092,
      description:
        "The TCP port of the broker's client listener: the default `listeners` use it, and the readiness check asks the broker on `localhost` at this port.",
    }),
    settings: t.submodule(
      {
        "broker.id": t.nullOr(t.int(), {
          default: null,
          description:
            "The broker's id. `null` (or -1) lets ZooKeeper mode allocate one; KRaft mode uses `node.id` instead.",
        }),
        "log.dirs": t.listOf(t.str(), {
          default: ({ cfg }) => [s`${cfg.dataDir}/logs`],
          defaultText: '[ "${dataDir}/logs" ]',
          description:
            "The directories the broker keeps its partitions in (relative paths are relative to where the stack runs).",
        }),
        listeners: t.listOf(t.str(), {
          default: ({ cfg }) => [s`PLAINTEXT://localhost:${cfg.port}`],
          defaultText: '[ "PLAINTEXT://localhost:${toString port}" ]',
          description:
            "The listeners, as `NAME://host:port` ([reference](https://kafka.apache.org/documentation/#brokerconfigs_listeners)). " +
            "The default is `port` on localhost only.",
        }),
      },
      {
        default: {},
        // services-flake's freeform type is attrsOf (nullOr (either primitive (listOf primitive))); the DSL
        // checks a literal's undeclared settings against `freeform` one by one but emits it as the
        // freeformType of the whole set, so only t.anything() satisfies both: values are not type-checked.
        freeform: t.anything(),
        example: { nix: '{ "offsets.topic.replication.factor" = 1; "zookeeper.connect" = [ "localhost:2181" ]; }' },
        description:
          "The broker configuration, written to `server.properties`: any [broker setting](https://kafka.apache.org/documentation/#brokerconfigs), " +
          'its dotted name quoted as one attribute (`"log.retention.hours" = 24;`, not nested attribute sets). ' +
          "Values are booleans (written `true`/`false`), integers, strings or lists of them (joined with commas); `null` leaves a setting out. " +
          "Keys and values are escaped as `.properties` files need (Java reads the file as ISO-8859-1: keep values ASCII).",
      },
    ),
    clusterId: t.nullOr(t.str(), {
      default: null,
      example: "MkU3OEVBNTcwNTJENDM2Qk",
      description:
        "The cluster id log directories are formatted with in KRaft mode (`kafka-storage.sh random-uuid` makes one). " +
        "Required with `formatLogDirs`; `null` otherwise.",
    }),
    configFiles: t.submodule(
      {
        serverProperties: t.path({
          default: ({ cfg }) =>
            pathOf(
              named(
                "serverProperties",
                file(
                  "server.properties",
                  concatStrings(
                    mapAttrsToList(
                      cfg.settings,
                      (k, v) => cond(isNull(v), "", s`${propertyKey(k)}=${propertyValue(propertyText(v))}\n`),
                      "setting",
                    ),
                  ),
                ),
              ),
            ),
          defaultText: { md: "`settings`, written as a `.properties` file" },
          description:
            "The broker's `server.properties`. By default the rendered `settings`; setting a file of your own ignores them.",
        }),
        log4jProperties: t.path({
          default: ({ cfg }) => pathOf(file("log4j.properties", cfg.log4jProperties)),
          defaultText: { md: "`log4jProperties`, written to a file" },
          description:
            "The Log4j 1 configuration file a broker before Kafka 4 is started with (`-Dlog4j.configuration`); Kafka 4 and later do not read it.",
        }),
        log4j2Properties: t.path({
          default: ({ cfg }) => pathOf(file("log4j2.properties", cfg.log4j2Properties)),
          defaultText: { md: "`log4j2Properties`, written to a file" },
          description:
            "The Log4j 2 configuration file a broker of Kafka 4 or later is started with (`-Dlog4j2.configurationFile`, any format Log4j 2 reads: " +
            "`.properties`, `.xml`, `.yaml` with Kafka's jars); earlier versions do not read it.",
        }),
      },
      { default: {}, description: "The configuration files the broker runs with." },
    ),
    formatLogDirs: t.bool({
      default: false,
      description:
        "KRaft mode: format the log directories with `clusterId` before the broker starts, when none of them is formatted yet " +
        "(none holds a `meta.properties`).",
    }),
    formatLogDirsIgnoreFormatted: t.bool({
      default: false,
      description:
        "With `formatLogDirs`: run the format on every start with `--ignore-formatted`, which formats the directories that are not formatted " +
        "and skips the others (for log directories added later), instead of formatting only when none is.",
    }),
    log4jProperties: t.lines({
      default: [
        "log4j.rootLogger=INFO, stdout",
        "",
        "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
        "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
        "",
      ].join("\n"),
      description:
        "The Log4j 1 configuration of a broker before Kafka 4 (`configFiles.log4jProperties` by default); the default logs INFO and above " +
        "to standard output. Kafka 4 logs through Log4j 2, which does not read it: see `log4j2Properties`.",
    }),
    log4j2Properties: t.lines({
      default: [
        "appender.stdout.type = Console",
        "appender.stdout.name = STDOUT",
        "appender.stdout.layout.type = PatternLayout",
        "appender.stdout.layout.pattern = [%d] %p %m (%c)%n",
        "rootLogger.level = INFO",
        "rootLogger.appenderRef.stdout.ref = STDOUT",
        "",
      ].join("\n"),
      description:
        "The Log4j 2 configuration, in Log4j 2's properties format, of a broker of Kafka 4 or later (`configFiles.log4j2Properties` by default); " +
        "the default logs INFO and above to standard output. Which of the two configurations the broker gets follows `package.version` " +
        "(nixpkgs' `<scala>-<kafka>`, `2.13-4.1.1`); a package without a version gets both, and each Kafka reads its own.",
    }),
    jvmOptions: t.listOf(t.str(), {
      default: [],
      example: ["-Xmx512m", "-Djava.net.preferIPv4Stack=true"],
      description:
        "Extra arguments to the JVM that runs the broker, one argument per element, each quoted for the shell " +
        "(services-flake joins them with spaces unquoted, so an element could split into several arguments).",
    }),
    package: t.package("apacheKafka"),
    jre: t.package(undefined, {
      default: ({ cfg, pkgs }) => nix<Pkg>("package")`${cfg.package}.passthru.jre or ${pkgs.get("jre_headless")}`,
      defaultText: "config.package.passthru.jre or pkgs.jre_headless",
      description:
        "The Java runtime the broker runs on: the one `package` was built for, or `pkgs.jre_headless` when a `package` " +
        "of your own names none (services-flake fails to evaluate then).",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  assertions: ({ cfg }) => [
    {
      assertion: or(not(cfg.formatLogDirs), notNull(cfg.clusterId)),
      message:
        "formatLogDirs is true but clusterId is null: formatting KRaft log directories needs a cluster id. Set clusterId.",
    },
  ],
  processes: ({ name, cfg, pkgs, let: bind }) => {
    const props = cfg.configFiles.serverProperties;
    // The assertion makes sure clusterId is set when formatLogDirs is.
    const clusterId = orElse(cfg.clusterId, "");
    const formatAll = sh`kafka-storage.sh format -t ${clusterId} -c ${props} --ignore-formatted`;
    // Only when no log directory is formatted yet (none has a meta.properties).
    const formatFresh = sh`
      formatted=0
      dirs=(${cfg.settings["log.dirs"]})
      for dir in "\${dirs[@]}"; do
        if [ -f "$dir/meta.properties" ]; then formatted=1; fi
      done
      if [ "$formatted" = 0 ]; then
        kafka-storage.sh format -t ${clusterId} -c ${props}
      fi
    `;
    // Kafka 4 logs through Log4j 2 (-Dlog4j2.configurationFile); before, through Log4j 1's API (-Dlog4j.configuration).
    // nixpkgs' version is "<scala version>-<kafka version>".
    const kafkaVersion = bind("kafkaVersion", nix<string>("string")`lib.last (lib.splitString "-" (${cfg.package}.version or ""))`);
    const log4j1 = sh`-Dlog4j.configuration=${s`file:${cfg.configFiles.log4jProperties}`}`;
    const log4j2 = sh`-Dlog4j2.configurationFile=${cfg.configFiles.log4j2Properties}`;
    const logging = bind(
      "logging",
      cond(
        eq(kafkaVersion, ""),
        sh`${log4j1} ${log4j2}`,
        cond(nix<boolean>("bool")`lib.versionAtLeast ${kafkaVersion} "4"`, log4j2, log4j1),
      ),
    );
    const format = bind("formatLogDirs", cond(cfg.formatLogDirs, cond(cfg.formatLogDirsIgnoreFormatted, formatAll, formatFresh), sh``));
    // Kafka 4 removed ZooKeeper mode (KIP-500; https://kafka.apache.org/documentation/#upgrade_4_0_0): a broker given
    // `zookeeper.connect` fails on a missing KRaft setting. nixpkgs' apacheKafka is Kafka 4 now, so a configuration
    // written for ZooKeeper mode fails there (with services-flake's module too): say why, and the ways forward.
    const zookeeperOnKafka4 = nix<boolean>("bool")`${cfg.settings} ? "zookeeper.connect" && ${kafkaVersion} != "" && lib.versionAtLeast ${kafkaVersion} "4"`;
    const refusal = sh`
      echo ${s`${name}: Kafka ${kafkaVersion} has no ZooKeeper mode (removed in Kafka 4), but settings."zookeeper.connect" is set. Run KRaft instead (clusterId and formatLogDirs, without zookeeper.connect), or keep ZooKeeper with package = pkgs.apacheKafka_3_9.`} >&2
      exit 1
    `;
    return [
      process(name, {
        command: script({
          name: "start-kafka",
          runtimeInputs: [cfg.jre, cfg.package],
          text: cond(
            zookeeperOnKafka4,
            refusal,
            sh`
              ${format}
              exec java -cp ${s`${cfg.package}/libs/*`} ${logging} ${cfg.jvmOptions} kafka.Kafka ${props}
            `,
          ),
        }),
        // Ready when the broker answers an ApiVersions request on `port` (services-flake only checks that the port is open).
        // A script of its own: process-compose fails to read a configuration whose probe command holds printf's octal escapes.
        readiness: {
          exec: sh`${exe(
            script({
              name: "kafka-ready",
              runtimeInputs: [pkgs.netcat, pkgs.coreutils, pkgs.gnugrep],
              text: sh`printf ${apiVersionsRequest} | nc -w 1 localhost ${cfg.port} | od -An -tx1 -j4 -N4 | grep -qx ' 00 00 00 01'`,
            }),
            "kafka-ready",
          )}`,
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
