/**
 * Elasticsearch, one node per instance (a single-node cluster by default), with
 * `dataDir` as its home: configuration, data, logs and plugins. Options, defaults
 * and the process name follow services-flake's `elasticsearch` service, so its
 * users' configurations work unchanged (nixpkgs' `elasticsearch7` is unfree:
 * `allowUnfree` must be on in the `pkgs` the services get).
 * Settings: https://www.elastic.co/guide/en/elasticsearch/reference/7.17/settings.html
 */
import { cond, defineService, eq, file, join, mapList, process, s, script, sh, t, toJSON } from "../dsl";

export default defineService({
  name: "elasticsearch",
  description:
    "[Elasticsearch](https://www.elastic.co/elasticsearch) search engine, one node per instance " +
    "(a single-node cluster unless `single_node` is off), `dataDir` its home.",
  homepage: "https://www.elastic.co/guide/en/elasticsearch/reference/7.17/settings.html",
  example: `services.elasticsearch."search" = {
  enable = true;
  port = 9201;
  tcp_port = 9301;
  extraJavaOptions = [ "-Xms512m" "-Xmx512m" ];
  plugins = [ pkgs.elasticsearchPlugins.analysis-icu ];
};`,
  options: {
    package: t.package("elasticsearch7"),
    listenAddress: t.str({
      default: "127.0.0.1",
      description: "The address the node binds and publishes (`network.host`), for HTTP and for the transport.",
    }),
    port: t.port({
      default: 9200,
      description: "The TCP port of the HTTP API (`http.port`). An `int` in services-flake; any valid port number is accepted here.",
    }),
    tcp_port: t.port({
      default: 9300,
      description: "The TCP port nodes talk to each other on (`transport.port`). An `int` in services-flake.",
    }),
    cluster_name: t.str({
      default: "elasticsearch",
      description: "The cluster's name (`cluster.name`); nodes join only a cluster of their name.",
    }),
    single_node: t.bool({
      default: true,
      description: "Whether the node forms a cluster of its own (`discovery.type: single-node`), electing itself master without discovery.",
    }),
    extraConf: t.str({
      default: "",
      example: 'node.name: "elasticsearch"\nnode.master: true\nnode.data: false\n',
      description: "Lines appended to `elasticsearch.yml`, written as they are (YAML).",
    }),
    logging: t.str({
      default: [
        "logger.action.name = org.elasticsearch.action",
        "logger.action.level = info",
        "appender.console.type = Console",
        "appender.console.name = console",
        "appender.console.layout.type = PatternLayout",
        "appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %marker%m%n",
        "rootLogger.level = info",
        "rootLogger.appenderRef.console.ref = console",
        "",
      ].join("\n"),
      description: "The log4j2 configuration (`log4j2.properties`); the default logs INFO and above to the console.",
    }),
    extraCmdLineOptions: t.listOf(t.str(), {
      default: [],
      example: ["-Enode.attr.rack=r1"],
      description:
        "Extra arguments to the `elasticsearch` launcher, one argument per element, each quoted for the shell " +
        "(services-flake joins them with spaces unquoted, so an element could split into several arguments).",
    }),
    extraJavaOptions: t.listOf(t.str(), {
      default: [],
      example: ["-Djava.net.preferIPv4Stack=true"],
      description: "Extra JVM arguments, through `ES_JAVA_OPTS` (which the launcher splits at spaces: one argument cannot contain a space).",
    }),
    plugins: t.listOf(t.package(), {
      default: [],
      example: { nix: "[ pkgs.elasticsearchPlugins.discovery-ec2 ]" },
      description: "Plugins to install: packages with a `plugins/<name>` directory, as nixpkgs' `elasticsearchPlugins`. Reinstalled on every start.",
    }),
  },
  ports: ({ cfg }) => [
    { port: cfg.port, option: "port" },
    { port: cfg.tcp_port, option: "tcp_port" },
  ],
  processes: ({ name, cfg, pkgs }) => {
    // Strings are written as JSON strings, which YAML reads as they are (services-flake writes them bare).
    const yml = file(
      "elasticsearch.yml",
      s`
        network.host: ${toJSON(cfg.listenAddress)}
        cluster.name: ${toJSON(cfg.cluster_name)}
        ${cond(cfg.single_node, "discovery.type: single-node", "")}
        http.port: ${cfg.port}
        transport.port: ${cfg.tcp_port}
        ${cfg.extraConf}
      `,
    );
    const logging = file("log4j2.properties", cfg.logging);
    // sh quotes a list of strings, not of packages: each package is quoted on its own.
    const pluginDirs = mapList(cfg.plugins, (p) => sh`${p}`, "plugin");
    return [
      process(name, {
        command: script({
          name: "es-startup",
          runtimeInputs: [pkgs.coreutils, cfg.package],
          // dataDir is ES_HOME: the package's lib and modules linked in, plugins copied (they must be writable),
          // the configuration written afresh on every start.
          text: sh`
            umask 077
            mkdir -p -- ${cfg.dataDir}
            chmod 0700 -- ${cfg.dataDir}
            ES_HOME=$(realpath -- ${cfg.dataDir})
            ES_JAVA_OPTS=${join(" ", cfg.extraJavaOptions)}
            ES_PATH_CONF="$ES_HOME/config"
            export ES_HOME ES_JAVA_OPTS ES_PATH_CONF

            rm -rf -- "$ES_HOME/plugins"
            mkdir -p -- "$ES_HOME/plugins"
            plugins=(${pluginDirs})
            for plugin in "\${plugins[@]}"; do
              cp -rL -- "$plugin/plugins/." "$ES_HOME/plugins/"
            done
            chmod -R u+w -- "$ES_HOME/plugins"

            ln -sfn -- ${s`${cfg.package}/lib`} "$ES_HOME/lib"
            ln -sfn -- ${s`${cfg.package}/modules`} "$ES_HOME/modules"

            mkdir -p -- "$ES_PATH_CONF" "$ES_HOME/logs" "$ES_HOME/scripts"
            cp -f -- ${yml} "$ES_PATH_CONF/elasticsearch.yml"
            cp -f -- ${logging} "$ES_PATH_CONF/log4j2.properties"
            cp -f -- ${s`${cfg.package}/config/jvm.options`} "$ES_PATH_CONF/jvm.options"
            chmod u+w -- "$ES_PATH_CONF"/*

            exec elasticsearch ${cfg.extraCmdLineOptions}
          `,
        }),
        // Ready when the cluster's health is yellow or green: the node has elected a master and
        // serves its indices (services-flake waits for any answer on /).
        readiness: {
          http: {
            host: cond(eq(cfg.listenAddress, "0.0.0.0"), "127.0.0.1", cfg.listenAddress),
            port: cfg.port,
            path: "/_cluster/health?wait_for_status=yellow&timeout=1s",
          },
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
