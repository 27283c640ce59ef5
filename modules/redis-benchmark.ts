/**
 * redis-benchmark as a load test pointed at a redis instance of the same stack
 * by name (`target`), or at a redis-cluster instance (`cluster`, redis-benchmark's
 * `--cluster`): it reads the instance's address and port(s), waits until it is
 * ready (a cluster: until `<target>-cluster-create` has succeeded), runs the
 * chosen commands and writes `<dataDir>/report.json` from `--csv`.
 * Option names follow redis-benchmark's flags:
 * https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/benchmarks/
 */
import { cond, connectHost, defineService, ifSet, join, mapAttrsToList, nonEmpty, not, optionRoot, or, orElse, process, type ProcessSettings, runtimePath, s, script, sh, t } from "../dsl";
import { loadReport, reportCommand } from "./parts/load-report";
import redis from "./redis";
import redisCluster from "./redis-cluster";

export default defineService({
  name: "redis-benchmark",
  description:
    "[redis-benchmark](https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/benchmarks/) load test against a redis " +
    "or redis-cluster instance named by `target`: runs the chosen commands, writes `<dataDir>/report.json` and fails when a threshold is missed.",
  homepage: "https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/benchmarks/",
  example: `services.redis-benchmark."cache-load" = {
  enable = true;
  target = "cache";     # services.redis."cache"
  tests = [ "set" "get" ];
  requests = 20000;
  minTps = 5000.0;
  exitOnEnd = true;
};`,
  parts: [loadReport],
  options: {
    package: t.package("redis", { description: "The Redis package whose `redis-benchmark` is used." }),
    target: t.str({
      description: "The name of the instance to load: `services.redis.<target>`, or with `cluster`, `services.redis-cluster.<target>`.",
      example: "cache",
      namesInstanceOf: "redis",
    }),
    cluster: t.bool({
      default: false,
      description: "`target` is a redis-cluster instance: run with `--cluster` against its first node, after `<target>-cluster-create` has succeeded.",
    }),
    tests: t.listOf(t.str(), {
      default: [],
      example: ["set", "get", "incr"],
      description: "The commands to benchmark (`-t`), by redis-benchmark's test names. Empty: redis-benchmark's whole default set.",
    }),
    clients: t.int({ default: 50, description: "Parallel connections (`-c`)." }),
    requests: t.int({ default: 100000, description: "Requests per command (`-n`)." }),
    pipeline: t.int({ default: 1, description: "Requests sent per round trip (`-P`); 1: no pipelining." }),
    dataSize: t.int({ default: 3, description: "Size of SET/GET values, in bytes (`-d`)." }),
    keyspace: t.nullOr(t.int(), {
      default: null,
      example: 100000,
      description: "Use random keys from a keyspace this large (`-r`). `null`: every request uses the same key.",
    }),
    threads: t.nullOr(t.int(), { default: null, example: 2, description: "Worker threads of redis-benchmark (`--threads`). `null`: one." }),
    extraArgs: t.listOf(t.str(), { default: [], example: ["--precision", "3"], description: "More arguments for `redis-benchmark`." }),
  },

  assertions: ({ cfg, hasInstance }) => [
    {
      assertion: or(cfg.cluster, hasInstance(redis, cfg.target)),
      message: s`target is "${cfg.target}", but the stack has no enabled redis instance of that name (${optionRoot}.redis."${cfg.target}"); for a redis-cluster instance, set cluster = true.`,
    },
    {
      assertion: or(not(cfg.cluster), hasInstance(redisCluster, cfg.target)),
      message: s`target is "${cfg.target}" and cluster is set, but the stack has no enabled redis-cluster instance of that name (${optionRoot}.redis-cluster."${cfg.target}").`,
    },
  ],

  processes: ({ name, cfg, pkgs, instanceOf }) => {
    const single = instanceOf(redis, cfg.target);
    const many = instanceOf(redisCluster, cfg.target);
    // The address a client uses (127.0.0.1 for a wildcard or unset bind), and the port(s).
    const host = cond(cfg.cluster, connectHost(orElse(many.bind, "")), connectHost(orElse(single.bind, "")));
    const ports = cond(
      cfg.cluster,
      sh`ports=(${mapAttrsToList(many.nodes, (_, n) => s`${n.port}`, "node")})`,
      sh`ports=(${single.port})`,
    );
    const run = script({
      name: "redis-benchmark-load-test",
      runtimeInputs: [cfg.package, pkgs.coreutils],
      text: sh`
        data=${runtimePath(cfg.dataDir)}
        mkdir -p -- "$data"
        rm -f -- "$data/report.json"
        ${ports}
        status=0
        redis-benchmark -h ${host} -p "\${ports[0]}" ${cond(cfg.cluster, sh`--cluster`, sh``)} -c ${cfg.clients} -n ${cfg.requests} -P ${cfg.pipeline} -d ${cfg.dataSize} ${ifSet(cfg.keyspace, (r) => sh`-r ${r}`, sh``)} ${ifSet(cfg.threads, (n) => sh`--threads ${n}`, sh``)} ${cond(nonEmpty(cfg.tests), sh`-t ${join(",", cfg.tests)}`, sh``)} --csv ${cfg.extraArgs} >"$data/benchmark.csv" 2>"$data/stderr.txt" || status=$?
        cat -- "$data/stderr.txt" >&2
        ${reportCommand(pkgs, cfg, "redis-benchmark", name, cfg.target, sh`--status "$status" --csv "$data/benchmark.csv" --stdout "$data/stderr.txt"`)}
      `,
    });
    const settings = (dependsOn: ProcessSettings["dependsOn"]): ProcessSettings => ({
      command: run,
      oneshot: true,
      dependsOn,
      processCompose: { exit_on_end: cfg.exitOnEnd },
    });
    return [
      process(name, settings([{ process: cfg.target, condition: "ready" }])).when(not(cfg.cluster)),
      process(name, settings([{ process: s`${cfg.target}-cluster-create`, condition: "succeeded" }])).when(cfg.cluster),
    ];
  },
});
