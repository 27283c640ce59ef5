/**
 * Neo4j, one server per instance, `dataDir` its home (configuration, databases,
 * logs). Options, defaults and the process name follow services-flake's `neo4j`
 * service, so its users' configurations work unchanged.
 * Settings: https://neo4j.com/docs/operations-manual/current/configuration/configuration-settings/
 */
import { cond, defineService, eq, file, process, s, script, sh, t } from "../dsl";

export default defineService({
  name: "neo4j",
  description: "[Neo4j](https://neo4j.com/) graph database, one server per instance, `dataDir` its home; the HTTP API and Bolt, without TLS.",
  homepage: "https://neo4j.com/docs/operations-manual/current/configuration/configuration-settings/",
  example: `services.neo4j."graph" = {
  enable = true;
  httpPort = 7475;
  boltPort = 7688;
  initialPassword = "change-me-please";
  extraServerConfig = "server.memory.heap.max_size=512m";
};`,
  options: {
    package: t.package("neo4j"),
    defaultListenAddress: t.str({
      default: "127.0.0.1",
      description: "The address the HTTP and Bolt connectors listen on (`server.default_listen_address`).",
    }),
    httpPort: t.port({ default: 7474, description: "The TCP port of the HTTP API and the Neo4j Browser." }),
    boltPort: t.port({ default: 7687, description: "The TCP port of the Bolt protocol, which drivers and `cypher-shell` use." }),
    initialPassword: t.str({
      default: "neo4jadmin",
      description:
        "The password of the `neo4j` user, set before the first start only (at least 8 characters); " +
        "changing it later has no effect on an existing `dataDir`.",
    }),
    extraServerConfig: t.lines({
      default: "",
      example: "server.memory.heap.max_size=512m",
      description: "Lines appended to `neo4j.conf`, written as they are.",
    }),
  },
  ports: ({ cfg }) => [
    { port: cfg.httpPort, option: "httpPort" },
    { port: cfg.boltPort, option: "boltPort" },
  ],
  processes: ({ name, cfg, pkgs }) => {
    // Everything but the directories under the home, which the start script writes first
    // (services-flake substitutes them into a template with sed, which breaks on `|` or `&` in the path).
    const conf = file(
      "neo4j.conf",
      s`
        server.default_listen_address=${cfg.defaultListenAddress}
        server.directories.plugins=${cfg.package}/share/neo4j/plugins
        server.directories.lib=${cfg.package}/share/neo4j/lib

        server.http.enabled=true
        server.http.listen_address=:${cfg.httpPort}
        server.https.enabled=false
        server.bolt.enabled=true
        server.bolt.listen_address=:${cfg.boltPort}
        server.bolt.tls_level=DISABLED

        server.jvm.additional=-XX:+UseG1GC
        server.jvm.additional=-XX:-OmitStackTraceInFastThrow
        server.jvm.additional=-XX:+AlwaysPreTouch
        server.jvm.additional=-XX:+UnlockExperimentalVMOptions
        server.jvm.additional=-XX:+TrustFinalNonStaticFields
        server.jvm.additional=-XX:+DisableExplicitGC
        server.jvm.additional=-Djdk.tls.ephemeralDHKeySize=2048
        server.jvm.additional=-Djdk.tls.rejectClientInitiatedRenegotiation=true
        server.jvm.additional=-Dunsupported.dbms.udc.source=tarball

        ${cfg.extraServerConfig}
      `,
    );
    return [
      process(name, {
        command: script({
          name: "start-neo4j",
          runtimeInputs: [cfg.package, pkgs.coreutils],
          // Neo4j wants its home as a normalized absolute path.
          text: sh`
            mkdir -p -- ${cfg.dataDir}
            NEO4J_HOME=$(realpath -- ${cfg.dataDir})
            NEO4J_CONF="$NEO4J_HOME/conf"
            export NEO4J_HOME NEO4J_CONF
            mkdir -p -- "$NEO4J_CONF" "$NEO4J_HOME/data" "$NEO4J_HOME/logs" "$NEO4J_HOME/run"
            {
              printf 'server.directories.data=%s/data\\n' "$NEO4J_HOME"
              printf 'server.directories.logs=%s/logs\\n' "$NEO4J_HOME"
              printf 'server.directories.run=%s/run\\n' "$NEO4J_HOME"
              cat -- ${conf}
            } > "$NEO4J_CONF/neo4j.conf"

            # The password is set once, before the first start.
            if [ ! -e "$NEO4J_HOME/.password_set" ]; then
              neo4j-admin dbms set-initial-password ${cfg.initialPassword} --require-password-change=false
              touch -- "$NEO4J_HOME/.password_set"
            fi

            exec neo4j console
          `,
        }),
        readiness: {
          http: { host: cond(eq(cfg.defaultListenAddress, "0.0.0.0"), "127.0.0.1", cfg.defaultListenAddress), port: cfg.httpPort, path: "/" },
        },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
