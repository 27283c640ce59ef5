/**
 * Apache ZooKeeper, one server per instance (standalone, or a member of an
 * ensemble through `servers`). Options, defaults and the process name follow
 * services-flake's `zookeeper` service.
 * Configuration: https://zookeeper.apache.org/doc/r3.8.4/zookeeperAdmin.html#sc_configuration
 */
import { defineService, exe, file, ifSet, nix, optional, type Pkg, process, runtimePath, s, script, sh, t } from "../dsl";

export default defineService({
  name: "zookeeper",
  description: "[Apache ZooKeeper](https://zookeeper.apache.org/), a coordination service, one server per instance.",
  homepage: "https://zookeeper.apache.org/doc/r3.8.4/zookeeperAdmin.html",
  example: `services.zookeeper."zk" = {
  enable = true;
  port = 2182;
};`,
  options: {
    port: t.port({ default: 2181, description: "The client port (`clientPort`)." }),
    clientPortAddress: t.nullOr(t.str(), {
      default: "127.0.0.1",
      example: "0.0.0.0",
      description:
        "The address the client port listens on (`clientPortAddress`); `null` means every interface, " +
        "which is ZooKeeper's default and services-flake's.",
    }),
    id: t.int({
      default: 0,
      description:
        "This server's id in an ensemble, written to `dataDir/myid` (services-flake declares the option but never writes the file, " +
        "so an ensemble from `servers` could not start).",
    }),
    purgeInterval: t.int({
      default: 1,
      description: "Hours between purges of old snapshots and transaction logs (`autopurge.purgeInterval`); 0 turns purging off.",
    }),
    extraConf: t.lines({
      default: "initLimit=5\nsyncLimit=2\ntickTime=2000\n",
      description: "More `zoo.cfg` lines, after the ones made from the options above (a key given twice: the later line wins).",
    }),
    servers: t.lines({
      default: "",
      example: "server.0=127.0.0.1:2888:3888\nserver.1=127.0.0.1:2889:3889\nserver.2=127.0.0.1:2890:3890\n",
      description: "The ensemble's members, `server.<id>=<host>:<peer port>:<election port>` lines; empty for a standalone server.",
    }),
    logging: t.lines({
      default:
        "zookeeper.root.logger=INFO, CONSOLE\nlog4j.rootLogger=INFO, CONSOLE\nlog4j.logger.org.apache.zookeeper.audit.Log4jAuditLogger=INFO, CONSOLE\n" +
        "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\nlog4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n" +
        "log4j.appender.CONSOLE.layout.ConversionPattern=[myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n\n",
      description:
        "`log4j.properties`, put on the class path beside `zoo.cfg`: ZooKeeper before 3.8 logs through Log4j 1, which reads it. " +
        "ZooKeeper 3.8 and later (nixpkgs' is 3.9) log through Logback and do not read it: see `logback`.",
    }),
    logback: t.lines({
      default:
        '<configuration>\n  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">\n' +
        "    <encoder><pattern>[myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n</pattern></encoder>\n  </appender>\n" +
        '  <root level="INFO"><appender-ref ref="CONSOLE"/></root>\n</configuration>\n',
      description:
        "`logback.xml`, put on the class path beside `zoo.cfg`: ZooKeeper 3.8 and later log through Logback, which reads it " +
        "(services-flake has only `logging`, which those versions ignore). Both files are always there, and each version reads its own; " +
        "the default logs INFO and above to standard output, as `logging`'s does.",
    }),
    extraCmdLineOptions: t.listOf(t.str(), {
      default: ["-Dcom.sun.management.jmxremote", "-Dcom.sun.management.jmxremote.local.only=true"],
      example: ["-Xmx256m", "-Dcom.sun.management.jmxremote"],
      description: "More `java` arguments, one argument per element.",
    }),
    preferIPv4: t.bool({ default: true, description: "Pass `-Djava.net.preferIPv4Stack=true` to the JVM." }),
    package: t.package("zookeeper"),
    jre: t.package("jre", {
      default: ({ cfg }) => nix<Pkg>("package")`${cfg.package}.jre`,
      defaultText: "config.package.jre",
      description: "The Java runtime that runs the server; by default the one its package was built with.",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, pkgs, let: bind }) => {
    const conf = bind(
      "zooCfg",
      file(
        "zoo.cfg",
        s`dataDir=${cfg.dataDir}
clientPort=${cfg.port}
${ifSet(cfg.clientPortAddress, (a) => s`clientPortAddress=${a}\n`, "")}autopurge.purgeInterval=${cfg.purgeInterval}
${cfg.extraConf}
${cfg.servers}
admin.enableServer=false
4lw.commands.whitelist=stat,ruok
`,
      ),
    );
    const log4j = file("log4j.properties", cfg.logging);
    const logback = file("logback.xml", cfg.logback);
    return [
      process(name, {
        command: script({
          name: "start-zookeeper",
          runtimeInputs: [cfg.jre, pkgs.coreutils],
          text: sh`
            data=${runtimePath(cfg.dataDir)}
            mkdir -p -- "$data"
            printf '%s\\n' ${cfg.id} > "$data/myid"
            # zoo.cfg and the logging configuration are read from the class path, as ZooKeeper's own scripts arrange.
            conf="$data/conf"
            rm -rf -- "$conf"
            mkdir -p -- "$conf"
            ln -s ${conf} "$conf/zoo.cfg"
            ln -s ${log4j} "$conf/log4j.properties"
            ln -s ${logback} "$conf/logback.xml"
            exec java -cp ${cfg.package}"/lib/*:$conf" ${cfg.extraCmdLineOptions} -Dzookeeper.datadir.autocreate=true ${optional(cfg.preferIPv4, sh`-Djava.net.preferIPv4Stack=true`)} org.apache.zookeeper.server.quorum.QuorumPeerMain "$conf/zoo.cfg"
          `,
        }),
        // Ready when the server answers `stat` as a serving member (standalone, leader or follower).
        readiness: {
          exec: sh`echo stat | ${exe(pkgs.netcat, "nc")} -q 1 ${ifSet(cfg.clientPortAddress, (a) => sh`${a}`, sh`127.0.0.1`)} ${cfg.port} | ${exe(pkgs.gnugrep, "grep")} -q '^Mode: '`,
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});

