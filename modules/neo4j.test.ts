/**
 * Two Neo4j servers on other ports than the defaults: the HTTP API answers
 * (services-flake's test), a Cypher write and read over the HTTP API with the
 * configured password (the first start's node still there after the restart, and a
 * wrong password refused), and the second server's default database renamed through
 * extraServerConfig.
 */
import { defineTest, sh } from "../dsl";
import neo4j from "./neo4j";

const memory = "server.memory.heap.initial_size=256m\nserver.memory.heap.max_size=256m\nserver.memory.pagecache.size=64m\n";

export default defineTest({
  name: "neo4j",
  services: { neo4j },
  instances: {
    neo4j: {
      neo4j1: { httpPort: 26474, boltPort: 26687, extraServerConfig: memory },
      neo4j2: {
        httpPort: 26475,
        boltPort: 26688,
        initialPassword: "second-secret",
        extraServerConfig: `${memory}initial.dbms.default_database=graph\n`,
      },
    },
  },
  test: ({ cfg, pkgs }) => ({
    runtimeInputs: [pkgs.curl, pkgs.gnugrep, pkgs.coreutils],
    text: sh`
      run=\${SERVICES_TS_RUN:-1}
      # cypher PORT PASSWORD DATABASE STATEMENT: runs one statement over the HTTP API, prints the JSON answer.
      cypher() {
        curl -sSf -u "neo4j:$2" -H 'Content-Type: application/json' "http://127.0.0.1:$1/db/$3/tx/commit" \\
          -d "{\\"statements\\":[{\\"statement\\":\\"$4\\"}]}"
      }
      curl -sSf http://127.0.0.1:${cfg.neo4j.neo4j1.httpPort}/ | grep -q bolt

      echo "neo4j1: a node written, and the first start's read back, with the default password"
      cypher ${cfg.neo4j.neo4j1.httpPort} neo4jadmin neo4j "CREATE (:Greeting {run: $run})" | grep -q '"errors":\\[\\]'
      cypher ${cfg.neo4j.neo4j1.httpPort} neo4jadmin neo4j "MATCH (g:Greeting {run: 1}) RETURN count(g) > 0 AS found" | grep -q '"row":\\[true\\]'
      echo "neo4j1: a wrong password is refused"
      test "$(curl -s -o /dev/null -w '%{http_code}' -u neo4j:wrong-password http://127.0.0.1:${cfg.neo4j.neo4j1.httpPort}/db/neo4j/tx/commit \\
        -H 'Content-Type: application/json' -d '{"statements":[]}')" = 401

      echo "neo4j2: its own password, its default database named graph"
      cypher ${cfg.neo4j.neo4j2.httpPort} second-secret graph "MERGE (n:Marker) RETURN count(n) AS n" | grep -q '"row":\\[1\\]'
    `,
    dependsOn: [
      { process: "neo4j1", condition: "ready" },
      { process: "neo4j2", condition: "ready" },
    ],
  }),
  rendered: [
    {
      process: "neo4j1",
      contains: ["server.http.listen_address=:26474\n", "server.bolt.listen_address=:26687\n", "server.default_listen_address=127.0.0.1\n", "set-initial-password neo4jadmin "],
    },
    {
      process: "neo4j2",
      contains: ["server.http.listen_address=:26475\n", "server.bolt.listen_address=:26688\n", "initial.dbms.default_database=graph\n", "set-initial-password second-secret "],
    },
  ],
});
