/**
 * memcached, one server per instance. Options, defaults and the process name follow
 * services-flake's `memcached` service, so its users' configurations work unchanged.
 * Command-line options: https://github.com/memcached/memcached/wiki/ConfiguringServer
 */
import { exe, defineService, ifSet, neq, process, runtimePath, script, sh, t } from "../dsl";

export default defineService({
  name: "memcached",
  description: "[memcached](https://memcached.org/), an in-memory key-value cache, one server per instance.",
  homepage: "https://github.com/memcached/memcached/wiki/ConfiguringServer",
  example: `services.memcached."cache" = {
  enable = true;
  port = 11212;
  startArgs = [ "--memory-limit=64" ];
};`,
  options: {
    package: t.package("memcached"),
    bind: t.nullOr(t.str(), {
      default: "127.0.0.1",
      example: "127.0.0.1",
      description:
        "The IP interface to listen on (`--listen`). `null` means all interfaces " +
        "(services-flake passes an empty `--listen=` then, which memcached rejects; here the flag is left out).",
    }),
    port: t.port({
      default: 11211,
      description: "The TCP port to accept connections on. With `0`, memcached does not listen on TCP.",
    }),
    startArgs: t.listOf(t.lines(), {
      default: [],
      example: ["--memory-limit=100M"],
      description:
        "Additional arguments passed to `memcached`, one argument per element, each quoted for the shell " +
        "(services-flake joins them with spaces unquoted, so an element could split into several arguments).",
    }),
  },
  ports: ({ cfg }) => [{ port: cfg.port, option: "port" }],
  assertions: ({ cfg }) => [
    { assertion: neq(cfg.port, 0), message: "port is 0: memcached would not listen on TCP, and this module has no Unix socket option. Set a port." },
  ],
  processes: ({ name, cfg, pkgs }) => [
    process(name, {
      command: script({
        name: "start-memcached",
        runtimeInputs: [cfg.package, pkgs.coreutils],
        // memcached keeps no data on disk; it runs from dataDir all the same, like every service.
        text: sh`
          data=${runtimePath(cfg.dataDir)}
          mkdir -p -- "$data"
          cd -- "$data"
          exec memcached --port=${cfg.port} ${ifSet(cfg.bind, (b) => sh`--listen=${b}`, sh``)} ${cfg.startArgs}
        `,
      }),
      // Ready when the server answers a `version` command (the check is retried every 50 ms).
      readiness: {
        exec: sh`printf 'version\r\nquit\r\n' | ${exe(pkgs.netcat, "nc")} -N ${ifSet(cfg.bind, (b) => sh`${b}`, sh`127.0.0.1`)} ${cfg.port} | ${exe(pkgs.gnugrep, "grep")} -q '^VERSION '`,
      },
      restart: { policy: "on-failure", maxRestarts: 5 },
    }),
  ],
});
