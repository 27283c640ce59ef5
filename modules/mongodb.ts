/**
 * MongoDB, one `mongod` per instance, its databases in `dataDir`, with a first
 * user created once. Options, defaults and process names follow services-flake's
 * `mongodb` service, so its users' configurations work unchanged.
 * Configuration file: https://www.mongodb.com/docs/manual/reference/configuration-options/
 */
import { defineService, exe, type Expr, file, helper, ifSet, nix, process, runtimePath, s, script, sh, t, toJSON } from "../dsl";

/** The address to reach a server bound to `bind` (a comma-separated list, or null for every interface): its first entry, or loopback. */
const probeHost = helper("mongodbProbeHost", "bind", (b: Expr<string | null>) =>
  nix<string>("string")`if ${b} == null then "127.0.0.1" else let first = lib.head (lib.splitString "," ${b}); in if first == "0.0.0.0" || first == "::" then "127.0.0.1" else first`,
);

export default defineService({
  name: "mongodb",
  description: "[MongoDB](https://www.mongodb.com/) document database, one `mongod` per instance, its data in `dataDir`, with a first user created once.",
  homepage: "https://www.mongodb.com/docs/manual/reference/configuration-options/",
  example: `services.mongodb."docs" = {
  enable = true;
  port = 27018;
  user = "app";
  password = "app-password";
};`,
  options: {
    package: t.package("mongodb-ce"),
    bind: t.nullOr(t.str(), {
      default: "127.0.0.1",
      example: "127.0.0.1,::1",
      description:
        "The addresses to listen on, comma-separated (`net.bindIp`). `null` means every interface " +
        "(`net.bindIpAll`; services-flake's module fails to evaluate with `null`).",
    }),
    port: t.port({ default: 27017, description: "The TCP port to accept connections on." }),
    user: t.str({
      default: "default",
      example: "my_user",
      description: "Name of the user created in the `admin` database on first start, with admin and read-write roles on every database.",
    }),
    password: t.str({
      default: "password",
      description:
        "That user's password. It is stored in the Nix store. MongoDB does not require it unless " +
        "`security.authorization` is enabled (in `extraConfig`).",
    }),
    extraConfig: t.lines({
      default: "",
      example: "net.maxIncomingConnections: 100\nsecurity.authorization: enabled",
      description: "YAML appended to `mongodb.conf` as it is (after `net.port`, `net.bindIp` and `storage.dbPath`).",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, pkgs }) => {
    const mongosh = exe(pkgs.get("mongosh"), "mongosh");
    const host = probeHost(cfg.bind);
    // Values are written as JSON strings, which YAML reads (services-flake writes them bare).
    const conf = file(
      "mongodb.conf",
      s`
        net.port: ${cfg.port}
        ${ifSet(cfg.bind, (b) => s`net.bindIp: ${toJSON(b)}`, "net.bindIpAll: true")}
        storage.dbPath: ${toJSON(cfg.dataDir)}
        ${cfg.extraConfig}
      `,
    );
    // createUser with the name and password as JS string literals (services-flake puts them
    // between double quotes as they are); a user that exists already is left alone.
    const createUser = file(
      "create-user.js",
      s`
        const admin = db.getSiblingDB("admin");
        if (admin.getUser(${toJSON(cfg.user)}) === null) {
          admin.createUser({
            user: ${toJSON(cfg.user)},
            pwd: ${toJSON(cfg.password)},
            roles: [
              { role: "userAdminAnyDatabase", db: "admin" },
              { role: "dbAdminAnyDatabase", db: "admin" },
              { role: "readWriteAnyDatabase", db: "admin" },
            ],
          });
        }
      `,
    );
    const server = process(name, {
      command: script({
        name: "start-mongodb",
        runtimeInputs: [pkgs.coreutils, cfg.package],
        // storage.dbPath is relative to where the stack runs, as the server's working directory.
        text: sh`
          mkdir -p -- ${runtimePath(cfg.dataDir)}
          exec mongod --config ${conf}
        `,
      }),
      // Ready when the server answers a ping on its own address and port (services-flake's check
      // connects to the default port, 27017, whatever port is configured).
      readiness: { exec: sh`${mongosh} --quiet --host ${host} --port ${cfg.port} --eval 'db.runCommand({ ping: 1 }).ok' >/dev/null` },
      restart: { policy: "on-failure", maxRestarts: 5 },
    });
    return [
      server,
      process(s`${name}-configure`, {
        command: script({
          name: "configure-mongo",
          runtimeInputs: [pkgs.coreutils],
          text: sh`
            marker=${runtimePath(s`${cfg.dataDir}/.auth_configured`)}
            if [[ -e "$marker" ]]; then
              echo "the first user was created already; to create it again, remove $marker and restart this process"
              exit 0
            fi
            ${mongosh} --quiet --host ${host} --port ${cfg.port} --file ${createUser}
            touch -- "$marker"
          `,
        }),
        oneshot: true,
        dependsOn: [{ process: server, condition: "ready" }],
      }),
    ];
  },
});
