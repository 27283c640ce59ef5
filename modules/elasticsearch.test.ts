/**
 * Two single-node Elasticsearch clusters on other ports than the defaults: cluster
 * health answered, a document indexed and read back (the first start's still there
 * after the restart), each node with its own cluster name. services-flake's test
 * also installs the analysis-icu plugin; the test package set has no Elasticsearch
 * plugins, so plugins are left out here.
 */
import { defineTest, sh } from "../dsl";
import elasticsearch from "./elasticsearch";

export default defineTest({
  name: "elasticsearch",
  services: { elasticsearch },
  instances: {
    elasticsearch: {
      es1: { port: 26920, tcp_port: 26930, extraJavaOptions: ["-Xms256m", "-Xmx256m"] },
      es2: {
        port: 26921,
        tcp_port: 26931,
        cluster_name: "second cluster",
        extraConf: "node.name: es-two\n",
        extraJavaOptions: ["-Xms256m", "-Xmx256m"],
        extraCmdLineOptions: ["-Enode.attr.rack=r2"],
      },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep],
    text: sh`
      run=\${SERVICES_TS_RUN:-1}
      for port in ${cfg.elasticsearch.es1.port} ${cfg.elasticsearch.es2.port}; do
        echo "node on $port: health, then a document indexed and read back"
        curl -sSf "http://127.0.0.1:$port/_cat/health"
        curl -sSf -X PUT -H 'Content-Type: application/json' "http://127.0.0.1:$port/greetings/_doc/$run?refresh=true" \\
          -d "{\\"text\\":\\"hello $run\\"}"
        curl -sSf "http://127.0.0.1:$port/greetings/_doc/$run" | grep -q "\\"text\\":\\"hello $run\\""
        # The first start's document survives the restart.
        curl -sSf "http://127.0.0.1:$port/greetings/_doc/1" | grep -q '"found":true'
      done
      echo "es2: its own cluster name, node name and attribute"
      curl -sSf http://127.0.0.1:${cfg.elasticsearch.es2.port}/ | grep -q '"cluster_name" : "second cluster"'
      curl -sSf 'http://127.0.0.1:${cfg.elasticsearch.es2.port}/_cat/nodeattrs?h=node,attr,value' | grep -q 'es-two *rack *r2'
    `,
    dependsOn: [
      { process: "es1", condition: "ready" },
      { process: "es2", condition: "ready" },
    ],
  }),
  rendered: [
    {
      process: "es1",
      contains: ["http.port: 26920\n", "transport.port: 26930\n", 'network.host: "127.0.0.1"\n', "discovery.type: single-node\n", "ES_JAVA_OPTS='-Xms256m -Xmx256m'"],
    },
    {
      process: "es2",
      contains: ["http.port: 26921\n", "transport.port: 26931\n", 'cluster.name: "second cluster"\n', "node.name: es-two\n", "exec elasticsearch '-Enode.attr.rack=r2'"],
    },
  ],
});
