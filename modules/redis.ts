/**
 * Redis, one server per instance. Options, defaults and the process name follow
 * services-flake's `redis` service, so its users' configurations work unchanged.
 * Configuration directives: https://redis.io/docs/latest/operate/oss_and_stack/management/config-file/
 */
import {
  concatStrings,
  cond,
  defineService,
  file,
  hasPrefix,
  helper,
  ifSet,
  notNull,
  runtimePath,
  process,
  replaceStrings,
  s,
  script,
  sh,
  t,
  toStr,
  type Expr,
  type Pkg,
  type Pkgs,
  and,
  eq,
  neq,
  or,
  exe,
} from "../dsl";

/**
 * Quotes a redis.conf argument: double quotes, with `\` and `"` escaped and
 * newlines as `\n`, which redis's argument splitter (sdssplitargs) reverses.
 */
const confArg = helper("redisConfArg", "arg", (v: Expr<string>) =>
  s`"${replaceStrings(["\\", '"', "\n", "\r", "\t"], ["\\\\", '\\"', "\\n", "\\r", "\\t"], v)}"`,
);

/**
 * A script that runs `redis-server <conf>` with its working directory (`--dir`,
 * where RDB/AOF files go) at `dataDir`, made absolute, created if missing and
 * private to the user running it (0700, files 0600).
 * Shared with redis-cluster's nodes.
 */
export const redisServerScript = (
  scriptName: string,
  packages: Pkgs,
  redisPackage: Expr<Pkg>,
  conf: Expr<Pkg>,
  dataDir: Expr<string>,
): Expr<Pkg> =>
  script({
    name: scriptName,
    runtimeInputs: [packages.coreutils, redisPackage],
    text: sh`
      # Private like PostgreSQL's: the directory 0700, the RDB/AOF files 0600.
      umask 077
      data=${runtimePath(dataDir)}
      mkdir -p -- "$data"
      chmod 0700 -- "$data"
      exec redis-server ${conf} --dir "$data"
    `,
  });

export default defineService({
  name: "redis",
  description: "[Redis](https://redis.io/) in-memory data store, one server per instance.",
  homepage: "https://redis.io/docs/latest/operate/oss_and_stack/management/config-file/",
  example: `services.redis."cache" = {
  enable = true;
  port = 6380;
};`,
  options: {
    package: t.package("redis"),
    bind: t.nullOr(t.str(), {
      default: "127.0.0.1",
      example: "127.0.0.1",
      description: "The IP interface to bind to. `null` means all interfaces.",
    }),
    port: t.port({
      default: 6379,
      description: "The TCP port to accept connections on. With `0`, Redis does not listen on TCP (use `unixSocket`).",
    }),
    unixSocket: t.nullOr(t.str(), {
      default: null,
      example: "redis.sock",
      description: "The path of the Unix socket to listen on; a relative path is relative to `dataDir`.",
    }),
    unixSocketPerm: t.int({
      default: 660,
      example: 600,
      description: "Permissions of the Unix socket, as the octal digits redis.conf's `unixsocketperm` takes.",
    }),
    extraConfig: t.lines({
      default: "",
      description: "Additional lines appended to `redis.conf`, written as they are.",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  assertions: ({ cfg }) => [
    {
      assertion: or(neq(cfg.port, 0), notNull(cfg.unixSocket)),
      message: "port is 0 and unixSocket is null: Redis would listen nowhere. Set a port, or a unixSocket.",
    },
  ],
  processes: ({ name, cfg, pkgs, let: bind }) => {
    const conf = bind(
      "redisConfig",
      file(
        "redis.conf",
        concatStrings([
          s`port ${cfg.port}\n`,
          ifSet(cfg.bind, (b) => s`bind ${b}\n`, ""),
          ifSet(cfg.unixSocket, (sock) => s`unixsocket ${confArg(sock)}\nunixsocketperm ${toStr(cfg.unixSocketPerm)}\n`, ""),
          // Stopping the stack always ends the server: it saves as configured, but an error saving (a full
          // disk, a replica's first sync) or a lagging replica no longer makes it refuse to exit (Redis ≥ 7).
          "shutdown-on-sigterm now force\nshutdown-on-sigint now force\n",
          cfg.extraConfig,
          "\n",
        ]),
      ),
    );
    const start = redisServerScript("start-redis", pkgs, cfg.package, conf, cfg.dataDir);
    // Reach the server the way it listens: TCP unless port is 0, else its socket.
    const socketPath = ifSet(
      cfg.unixSocket,
      (sock) => cond(hasPrefix("/", sock), sock, s`${cfg.dataDir}/${sock}`),
      "",
    );
    const viaSocket = and(notNull(cfg.unixSocket), eq(cfg.port, 0));
    const cli = exe(cfg.package, "redis-cli");
    const pong = sh`| ${exe(pkgs.gnugrep, "grep")} -qx PONG`;
    // Over TCP, ready when the server on the port is this instance's: its working directory is dataDir
    // (another stack's Redis on the same port answers PING too, while this one failed to bind).
    const ping = cond(
      viaSocket,
      sh`${cli} -s ${socketPath} ping ${pong}`,
      sh`[ "$(${cli} -p ${cfg.port} config get dir | ${exe(pkgs.gnused, "sed")} -n 2p)" = ${runtimePath(cfg.dataDir)} ]`,
    );
    return [
      process(name, {
        command: start,
        readiness: { exec: ping },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
