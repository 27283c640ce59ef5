/**
 * PHP-FPM, one FastCGI process manager with one pool per instance. Options,
 * defaults and the process name follow services-flake's `phpfpm` service.
 * Directives: https://www.php.net/manual/en/install.fpm.configuration.php
 */
import { concatStrings, cond, defineService, exe, type Expr, field, file, hasPrefix, helper, mapAttrsToList, matches, or, process, runtimePath, s, script, sh, switchType, t, toStr, update } from "../dsl";

/** A php-fpm.conf value: booleans as yes/no, numbers as digits, strings as they are. */
const fpmValue = helper("phpfpmValue", "value", (v: Expr<unknown>) =>
  switchType<string>(v, {
    bool: (b) => cond(b, "yes", "no"),
    string: (str) => str,
    other: (x) => toStr(x as Expr<number>),
  }),
);

const directives = t.attrsOf(t.oneOf([t.str(), t.int(), t.bool()]));

export default defineService({
  name: "phpfpm",
  description: "[PHP-FPM](https://www.php.net/manual/en/install.fpm.php), PHP's FastCGI process manager, one pool per instance.",
  homepage: "https://www.php.net/manual/en/install.fpm.configuration.php",
  example: `services.phpfpm."php" = {
  enable = true;
  listen = 9000;
  extraConfig = { pm = "ondemand"; "pm.max_children" = 4; };
};`,
  options: {
    package: t.package("php"),
    listen: t.oneOf([t.port(), t.str()], {
      default: "phpfpm.sock",
      example: 9000,
      description:
        "Where the pool accepts FastCGI requests: a Unix socket path (relative to `dataDir`) or a TCP port. A port listens on " +
        "127.0.0.1 (services-flake passes the bare port, which php-fpm binds on every interface); for another address give " +
        '`"<address>:<port>"`, or set `extraConfig.listen`.',
    }),
    phpOptions: t.lines({
      default: "",
      example: 'date.timezone = "CET"\n',
      description: "Lines appended to the package's `php.ini` for this pool.",
    }),
    phpEnv: t.attrsOf(t.str(), {
      default: {},
      example: { TMPDIR: "/tmp" },
      description: "Environment variables of the pool's workers (`env[NAME] = value`).",
    }),
    extraConfig: directives.with({
      default: {},
      example: { pm: "dynamic", "pm.max_children": 75, "pm.start_servers": 10 },
      description:
        "Pool directives by name (quote dotted names: `\"pm.max_children\"`); `listen` here overrides the option of that name. " +
        "Booleans are written yes/no.",
    }),
    globalSettings: directives.with({
      default: {},
      example: { log_level: "debug" },
      description: "Global `php-fpm.conf` directives. `daemonize` and `error_log` are set already (no, standard error).",
    }),
  },
  ports: ({ cfg }) => [{ port: switchType<number>(cfg.listen, { int: (p) => p, other: () => 0 }), option: "listen" }],
  processes: ({ name, cfg, pkgs, let: bind }) => {
    // A bare port listens on loopback; a string is a socket path or an address, as php-fpm reads it.
    const listen = bind("listenAddress", switchType<string>(cfg.listen, { int: (p) => s`127.0.0.1:${p}`, other: (x) => x as Expr<string> }));
    const directiveLines = (attrs: Expr<Record<string, unknown>>, key: (k: Expr<string>) => Expr<string>) =>
      concatStrings(mapAttrsToList(attrs, (k, v) => s`${key(k)} = ${fpmValue(v)}\n`, "value"));
    const pool = bind("pool", update({ listen }, cfg.extraConfig));
    const effective = bind("effectiveListen", switchType<string>(field(pool, "listen"), { int: (p) => toStr(p), other: (x) => x as Expr<string> }));
    const conf = file(
      s`phpfpm-${name}.conf`,
      s`[global]
${directiveLines(update({ daemonize: false, error_log: "/proc/self/fd/2" }, cfg.globalSettings), (k) => k)}
[${name}]
${directiveLines(pool, (k) => k)}${directiveLines(cfg.phpEnv, (k) => s`env[${k}]`)}`,
    );
    // Where the readiness check connects: an address as it is (a bare port on 127.0.0.1), a relative socket path below dataDir.
    const target = cond(
      matches("[0-9]+", effective),
      s`127.0.0.1:${effective}`,
      cond(or(matches(".*:[0-9]+", effective), hasPrefix("/", effective)), effective, s`${cfg.dataDir}/${effective}`),
    );
    return [
      process(name, {
        command: script({
          name: "start-phpfpm",
          runtimeInputs: [cfg.package, pkgs.coreutils],
          text: sh`
            data=${runtimePath(cfg.dataDir)}
            mkdir -p -- "$data"
            # php.ini: the package's own, then phpOptions.
            cat -- ${cfg.package}/etc/php.ini ${file("php-options.ini", cfg.phpOptions)} > "$data/php.ini"
            exec php-fpm --nodaemonize -p "$data" -y ${conf} -c "$data/php.ini"
          `,
        }),
        // php-fpm drops requests whose environment is too large (php-src issue 16042): the check runs with none.
        readiness: { exec: sh`${exe(pkgs.coreutils, "env")} -i ${exe(pkgs.get("fcgi"), "cgi-fcgi")} -bind -connect ${target}` },
        restart: { policy: "on-failure", maxRestarts: 5 },
      }),
    ];
  },
});
