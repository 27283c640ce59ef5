/** zookeeper (Debian's ZooKeeper 3.8): two standalone servers; a znode written through the client survives a restart. */
import { defineTest, sh } from "../dsl";
import zookeeper from "./zookeeper";

export default defineTest({
  name: "zookeeper",
  services: { zookeeper },
  instances: {
    zookeeper: {
      z1: { port: 22181 },
      z2: { port: 22182, id: 7, purgeInterval: 0, extraConf: "initLimit=5\nsyncLimit=2\ntickTime=1000\nmaxClientCnxns=17\n" },
    },
  },
  rendered: [
    { process: "z1", contains: ["clientPort=22181", "clientPortAddress=127.0.0.1", "-Djava.net.preferIPv4Stack=true"] },
    { process: "z2", contains: ["clientPort=22182", "autopurge.purgeInterval=0", "maxClientCnxns=17", "printf '%s\\n' 7 >"] },
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
    `,
    dependsOn: [
      { process: "z1", condition: "ready" },
      { process: "z2", condition: "ready" },
    ],
  }),
});
