/**
 * pgAdmin 4 in server mode, one per instance, its database and sessions in
 * `dataDir`. Options, defaults and process names (`<name>-init`, `<name>`) follow
 * services-flake's `pgadmin` service.
 * Configuration: https://www.pgadmin.org/docs/pgadmin4/latest/config_py.html
 */
import { defineService, exe, file, nix, type Pkg, process, recursiveUpdate, runtimePath, s, script, sh, t, toJSON } from "../dsl";

// The values a setting may have: what services-flake's pgadmin accepts, and what its
// Python rendering handles (scalars; lists and attribute sets of them; one level more).
const scalar = () => [t.int(), t.bool(), t.str()] as const;
const base = () => t.oneOf([t.listOf(t.oneOf(scalar())), t.attrsOf(t.oneOf(scalar())), ...scalar()]);
const pyType = (meta: Parameters<typeof t.attrsOf>[1]) =>
  t.attrsOf(t.oneOf([t.attrsOf(base()), t.listOf(base()), base()]), meta);

// config_local.py, which pgAdmin's config.py imports: it reads the settings from the JSON
// file named by PGADMIN_SETTINGS_FILE (the start scripts set it), so that no Nix value is
// ever printed as Python source. An attribute set with an `_expr` key stands for the
// Python expression it holds, as in services-flake (`{ _expr = "os.getenv('X')"; }`).
const configLocal = `import json as _json
import os


def _value(v):
    if isinstance(v, dict):
        if "_expr" in v:
            return eval(v["_expr"])
        return {k: _value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_value(x) for x in v]
    return v


with open(os.environ["PGADMIN_SETTINGS_FILE"], encoding="utf-8") as _f:
    for _k, _v in _json.load(_f).items():
        globals()[_k] = _value(_v)
`;

export default defineService({
  name: "pgadmin",
  description:
    "[pgAdmin 4](https://www.pgadmin.org/), the PostgreSQL administration web interface, in server mode, one per instance.",
  homepage: "https://www.pgadmin.org/docs/pgadmin4/latest/config_py.html",
  example: `services.pgadmin."pgad" = {
  enable = true;
  initialEmail = "admin@example.com";
  initialPassword = "change-me";
  extraConfig.MAX_LOGIN_ATTEMPTS = 5;
};`,
  options: {
    package: t.package("pgadmin4"),
    host: t.str({ default: "localhost", description: "The address the web interface listens on (`DEFAULT_SERVER`)." }),
    port: t.port({ default: 5050, description: "The TCP port of the web interface (`DEFAULT_SERVER_PORT`)." }),
    initialEmail: t.str({
      example: "admin@example.com",
      description: "The email address (login) of the administrator account made when the database is created.",
    }),
    initialPassword: t.str({
      description:
        "The password of that first account (at least `minimumPasswordLength` characters). " +
        "It is written into a start script, so it ends up in the world-readable Nix store: change it after the first login.",
    }),
    minimumPasswordLength: t.int({
      default: 6,
      description: "The shortest password pgAdmin accepts, in characters (`PASSWORD_LENGTH_MIN`).",
    }),
    extraDefaultConfig: pyType({
      default: ({ cfg }) => ({
        DATA_DIR: { _expr: "os.getenv('PGADMIN_DATADIR')" },
        DEFAULT_SERVER: cfg.host,
        DEFAULT_SERVER_PORT: cfg.port,
        PASSWORD_LENGTH_MIN: cfg.minimumPasswordLength,
        SERVER_MODE: true,
        UPGRADE_CHECK_ENABLED: false,
      }),
      defaultText: {
        md: "`DATA_DIR` (`dataDir`), `DEFAULT_SERVER` and `DEFAULT_SERVER_PORT` (`host`, `port`), `PASSWORD_LENGTH_MIN`, `SERVER_MODE = true`, `UPGRADE_CHECK_ENABLED = false`",
      },
      readOnly: true,
      internal: true,
      description: "The settings `extraConfig` is merged over.",
    }),
    extraConfig: pyType({
      default: {},
      example: { nix: '{ MAX_LOGIN_ATTEMPTS = 5; ALLOWED_HOSTS = [ "127.0.0.1" ]; }' },
      description:
        "More [settings](https://www.pgadmin.org/docs/pgadmin4/latest/config_py.html), merged (recursively) over the defaults. " +
        'A value `{ _expr = "…"; }` is the Python expression it holds (`os` is imported).',
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  processes: ({ name, cfg, let: bind }) => {
    const settings = file(
      "pgadmin-settings.json",
      toJSON(recursiveUpdate(cfg.extraDefaultConfig, cfg.extraConfig)),
    );
    const configDir = bind("configDir", nix<Pkg>("package")`pkgs.writeTextDir "config_local.py" ${configLocal}`);
    // What both processes run with: the configuration, the data directory, the first account.
    const environment = bind(
      "environment",
      sh`
      PYTHONPATH=${configDir}
      PGADMIN_SETTINGS_FILE=${settings}
      PGADMIN_DATADIR=${runtimePath(cfg.dataDir)}
      PGADMIN_SETUP_EMAIL=${cfg.initialEmail}
      PGADMIN_SETUP_PASSWORD=${cfg.initialPassword}
      export PYTHONPATH PGADMIN_SETTINGS_FILE PGADMIN_DATADIR PGADMIN_SETUP_EMAIL PGADMIN_SETUP_PASSWORD
    `,
    );
    const init = process(s`${name}-init`, {
      oneshot: true,
      command: script({
        name: "setup-pgadmin",
        runtimeInputs: [cfg.package],
        // Creates the database (or upgrades it) and, when it has no user yet, the first account.
        // pgAdmin 7 names its setup program .pgadmin4-setup-wrapped, pgAdmin 8 .pgadmin4-cli-wrapped.
        text: sh`
            ${environment}
            mkdir -p -- "$PGADMIN_DATADIR"
            if [ -f ${exe(cfg.package, ".pgadmin4-setup-wrapped")} ]; then
              ${exe(cfg.package, ".pgadmin4-setup-wrapped")} setup
            else
              ${exe(cfg.package, ".pgadmin4-cli-wrapped")} setup-db
            fi
          `,
      }),
    });
    return [
      init,
      process(name, {
        command: script({
          name: "start-pgadmin",
          runtimeInputs: [cfg.package],
          text: sh`
            ${environment}
            exec ${exe(cfg.package, ".pgadmin4-wrapped")}
          `,
        }),
        dependsOn: [{ process: init, condition: "succeeded" }],
        readiness: { http: { host: cfg.host, port: cfg.port, path: "/misc/ping" } },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
