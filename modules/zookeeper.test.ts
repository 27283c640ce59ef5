/**
 * zookeeper (ZooKeeper 3.9, as nixpkgs'): two standalone servers; a znode written through the client survives a
 * restart; z2 logs to a file through its `logback` configuration (ZooKeeper 3.9 reads logback.xml, not log4j.properties).
 */
import { defineTest, sh } from "../dsl";
import zookeeper from "./zookeeper";

export default defineTest({
  name: "zookeeper",
  services: { zookeeper },
  instances: {
    zookeeper: {
      z1: { port: 22181 },
      z2: {
        port: 22182,
        id: 7,
        purgeInterval: 0,
        extraConf: "initLimit=5\nsyncLimit=2\ntickTime=1000\nmaxClientCnxns=17\n",
        logback:
          '<configuration>\n  <appender name="FILE" class="ch.qos.logback.core.FileAppender">\n    <file>./data/z2/zookeeper.log</file>\n' +
          "    <encoder><pattern>%-5p %m%n</pattern></encoder>\n  </appender>\n" +
          '  <root level="INFO"><appender-ref ref="FILE"/></root>\n</configuration>\n',
      },
    },
  },
  rendered: [
    {
      process: "z1",
      contains: [
        "clientPort=22181",
        "clientPortAddress=127.0.0.1",
        "-Djava.net.preferIPv4Stack=true",
        // Both logging configurations, for ZooKeeper before 3.8 (Log4j 1) and from 3.8 on (Logback).
        "log4j.rootLogger=INFO, CONSOLE\n",
        '<root level="INFO"><appender-ref ref="CONSOLE"/></root>',
      ],
    },
    { process: "z2", contains: ["clientPort=22182", "autopurge.purgeInterval=0", "maxClientCnxns=17", "printf '%s\\n' 7 >", "<file>./data/z2/zookeeper.log</file>"] },
  ],
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [cfg.zookeeper.z1.package, cfg.zookeeper.z1.jre, pkgs.netcat, pkgs.gnugrep, pkgs.coreutils],
    text: sh`
      echo stat | nc -q 1 127.0.0.1 ${cfg.zookeeper.z1.port} | grep -q '^Mode: standalone'
      echo ruok | nc -q 1 127.0.0.1 ${cfg.zookeeper.z2.port} | grep -qx imok
      # A znode created on the first start is read back on the second.
      zk() { zkCli.sh -server 127.0.0.1:${cfg.zookeeper.z1.port} "$@" 2>/dev/null; }
      if [ "$SERVICES_TS_RUN" = 1 ]; then zk create /greeting hello >/dev/null; fi
      zk get /greeting | grep -qx hello
      test "$(cat ${cfg.zookeeper.z2.dataDir}/myid)" = 7
      # z2's Logback configuration was read: its log file has the server's start.
      grep -q '^INFO  binding to port .*:${cfg.zookeeper.z2.port}$' ${cfg.zookeeper.z2.dataDir}/zookeeper.log
    `,
    dependsOn: [
      { process: "z1", condition: "ready" },
      { process: "z2", condition: "ready" },
    ],
  }),
});
