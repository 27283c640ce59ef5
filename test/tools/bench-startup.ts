/**
 * `pnpm bench:startup [--runs N] [--only NAME] [--versus] [--empty-cache]`
 *
 * For every run-tier stack (generated/tests/*.nix and test/stacks/*.nix): the
 * time from `process-compose up` until every server the test process waits for
 * is healthy (the test process starts then and writes a timestamp), median of
 * N runs. "cold" starts in an empty directory (initdb, cluster creation, …);
 * "warm" starts again on the data of the cold run. The "services-flake probes"
 * column is the cold start with services-flake's probe timing (first probe
 * after 2 s, then every 10 s) forced on every readiness probe, for comparison.
 *
 * `--versus`: instead, one stack — two PostgreSQL instances (one with a schema),
 * a Redis and a six-node redis-cluster — run with services-flake's own modules
 * (its pinned source) and with this project's, in alternation, on the same test
 * package set; prints cold and warm medians of each and the ratio. The same stack
 * without the redis-cluster is timed the same way, and so are the floors on this
 * machine: `initdb` plus a start of PostgreSQL until it accepts connections, and a
 * one-node Redis cluster from its start to `cluster_state:ok` with every slot assigned
 * at once (Redis's own `CLUSTER_WRITABLE_DELAY`), which no module set can beat.
 */
import { spawn, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { evalProcessComposeFull, nixEvalJsonRW, nixPath, nixString, type ProcessComposeEval, repoRoot } from "../support/nix";
import { missingPackages } from "../support/packages";
import { findProcessCompose, runCacheDir, runProcessCompose, unprivileged } from "../support/run";

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    only: { type: "string" },
    baseline: { type: "boolean", default: true },
    versus: { type: "boolean", default: false },
    "empty-cache": { type: "boolean", default: false },
  },
});
const runs = Number(args.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs takes a whole number ≥ 1");

const pc = findProcessCompose();
if (!pc) {
  console.error("process-compose not found: run bash test/tools/install-process-compose.sh");
  process.exit(1);
}

const stacks = [
  ...readdirSync(join(repoRoot, "generated", "tests")).map((f) => join(repoRoot, "generated", "tests", f)),
  ...readdirSync(join(repoRoot, "test", "stacks")).map((f) => join(repoRoot, "test", "stacks", f)),
]
  .filter((f) => f.endsWith(".nix"))
  .filter((f) => !args.only || f.includes(args.only))
  .filter((f) => {
    // A stack whose server is not installable here cannot be timed: said by name, as the run tier does.
    const lacking = missingPackages(f);
    if (lacking.length > 0) console.error(`skipped ${f.replace(/^.*\//, "")}: missing ${lacking.join("; ")}`);
    return lacking.length === 0;
  });

const timestampModule = `({ lib, ... }: { settings.processes.test.command = lib.mkForce "date +%s%N > startup-ready"; })`;

function baselineModule(ev: ProcessComposeEval): string {
  const probed = Object.entries(ev.settings.processes ?? {})
    .filter(([, p]) => p.readiness_probe)
    .map(([name]) => name);
  const defs = probed
    .map((n) => `${JSON.stringify(n)}.readiness_probe = { initial_delay_seconds = lib.mkForce 2; period_seconds = lib.mkForce 10; };`)
    .join(" ");
  return `({ lib, ... }: { settings.processes = { ${defs} }; })`;
}

/**
 * PostgreSQL's initdbTemplate cache (`$XDG_CACHE_HOME/services-ts/postgres-templates`): one for the whole bench, as a
 * machine keeps it between stacks, so a cold start copies a template made by an earlier run (the first cold run of a
 * configuration makes it). `--empty-cache`: every cold start in an empty cache (its HOME is its own directory), as
 * the very first start on a machine.
 */
const benchEnv: Record<string, string> = args["empty-cache"] ? { XDG_CACHE_HOME: "" } : { XDG_CACHE_HOME: runCacheDir() };

async function timeToReady(ev: ProcessComposeEval, workDir?: string): Promise<{ seconds: number; workDir: string }> {
  const startNs = BigInt(Date.now()) * 1_000_000n;
  const r = await runProcessCompose(pc!, ev, { timeoutSeconds: 300, workDir, env: benchEnv });
  if (r.code !== 0) throw new Error(`process-compose exited ${r.code}:\n${r.output}`);
  const readyNs = BigInt(readFileSync(join(r.workDir, "startup-ready"), "utf8").trim());
  return { seconds: Number(readyNs - startNs) / 1e9, workDir: r.workDir };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The stacks of `--versus`, in option names both module sets share (services-flake's). */
const versusStack = (withCluster: boolean) => `({ pkgs, ... }: {
  services.postgres.pg1 = { enable = true; port = 25901; };
  services.postgres.pg2 = {
    enable = true;
    port = 25902;
    initialDatabases = [ { name = "app"; schemas = [ (builtins.toFile "schema.sql" "CREATE TABLE notes (id serial PRIMARY KEY, body text);") ]; } ];
  };
  services.redis.r1 = { enable = true; port = 25903; };
  ${
    withCluster
      ? `services.redis-cluster.c1 = {
    enable = true;
    nodes = { n1.port = 21911; n2.port = 21912; n3.port = 21913; n4.port = 21914; n5.port = 21915; n6.port = 21916; };
  };`
      : ""
  }
  settings.processes.test = {
    command = "date +%s%N > startup-ready";
    depends_on = {
      pg1.condition = "process_healthy";
      pg2.condition = "process_healthy";
      r1.condition = "process_healthy";
      ${withCluster ? `c1-cluster-create.condition = "process_completed_successfully";` : ""}
    };
    availability.exit_on_end = true;
  };
})`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 10 ms until it holds; seconds since `t0` (performance.now() ms). */
async function until(t0: number, check: () => boolean, what: string): Promise<number> {
  for (;;) {
    if (check()) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > 60_000) throw new Error(`floor: ${what} not reached in 60 s`);
    await sleep(10);
  }
}

/** A temporary directory the unprivileged user of the run tier can write. */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "services-ts-floor-"));
  if (process.getuid?.() === 0) chownSync(dir, 65534, 65534);
  return dir;
}

/**
 * The floors of the `--versus` stacks on this machine, in seconds, with the binaries the
 * test package set maps `postgresql` and `redis` to (Debian's): PostgreSQL's `initdb`
 * (the modules' default arguments, `--locale=C --encoding=UTF8`, synced as the modules run
 * it) then its start until `pg_isready` answers; a one-node Redis cluster from
 * `redis-server`'s start until `cluster_state:ok`, its 16384 slots assigned the moment it
 * answers.
 */
async function floors(): Promise<{ postgres: number; redisCluster: number }> {
  const pgBin = readdirSync("/usr/lib/postgresql")
    .map((major) => join("/usr/lib/postgresql", major, "bin"))
    .filter((bin) => existsSync(join(bin, "initdb")))
    .sort()
    .at(-1);
  if (!pgBin) throw new Error("floor: no PostgreSQL server under /usr/lib/postgresql");
  const run = (argv: string[]) => {
    const [cmd, ...rest] = unprivileged(argv);
    return spawnSync(cmd!, rest, { encoding: "utf8" });
  };

  const pgDir = scratch();
  let postgres: number;
  try {
    const data = join(pgDir, "data");
    const t0 = performance.now();
    const init = run([join(pgBin, "initdb"), "--locale=C", "--encoding=UTF8", "-D", data]);
    if (init.status !== 0) throw new Error(`floor: initdb failed:\n${init.stderr}`);
    const argv = unprivileged([join(pgBin, "postgres"), "-D", data, "-k", pgDir, "-c", "listen_addresses=", "-p", "25999"]);
    const server = spawn(argv[0]!, argv.slice(1), { stdio: "ignore" });
    try {
      postgres = await until(t0, () => run([join(pgBin, "pg_isready"), "-q", "-h", pgDir, "-p", "25999"]).status === 0, "pg_isready");
    } finally {
      server.kill("SIGINT");
      await new Promise((r) => server.once("exit", r));
    }
  } finally {
    rmSync(pgDir, { recursive: true, force: true });
  }

  const redisDir = scratch();
  let redisCluster: number;
  try {
    const cli = (...a: string[]) => run(["redis-cli", "-p", "21999", ...a]).stdout;
    const t0 = performance.now();
    const argv = unprivileged(["redis-server", "--port", "21999", "--bind", "127.0.0.1", "--dir", redisDir, "--cluster-enabled", "yes", "--save", "", "--appendonly", "no"]);
    const server = spawn(argv[0]!, argv.slice(1), { stdio: "ignore" });
    try {
      await until(t0, () => cli("ping").trim() === "PONG", "redis ping");
      if (cli("cluster", "addslotsrange", "0", "16383").trim() !== "OK") throw new Error("floor: CLUSTER ADDSLOTSRANGE failed");
      redisCluster = await until(t0, () => /cluster_state:ok/.test(cli("cluster", "info")), "cluster_state:ok");
    } finally {
      server.kill("SIGTERM");
      await new Promise((r) => server.once("exit", r));
    }
  } finally {
    rmSync(redisDir, { recursive: true, force: true });
  }
  return { postgres, redisCluster };
}

if (args.versus) {
  const servicesFlake = nixEvalJsonRW(`(import ${nixString(join(repoRoot, "test", "nix", "sources.nix"))}).services-flake`) as string;
  const moduleSets = [
    { name: "services-flake's modules", modules: `${servicesFlake}/nix/services` },
    { name: "services-ts's modules", modules: nixPath(join(repoRoot, "generated", "default.nix")) },
  ];
  const stacksVs = [
    { title: "Two PostgreSQL (one with a schema), a Redis and a 6-node redis-cluster", withCluster: true },
    { title: "The same without the redis-cluster", withCluster: false },
  ];
  const floorRuns: { postgres: number; redisCluster: number }[] = [];
  for (const stack of stacksVs) {
    const sets = moduleSets.map((m) => ({
      ...m,
      ev: evalProcessComposeFull(`[ ${m.modules} ${versusStack(stack.withCluster)} ]`),
      cold: [] as number[],
      warm: [] as number[],
    }));
    for (let i = 0; i < runs; i++) {
      for (const m of sets) {
        process.stderr.write(`${m.name}${stack.withCluster ? "" : ", without the cluster"}: run ${i + 1}/${runs}          \r`);
        const c = await timeToReady(m.ev, mkdtempSync(join(tmpdir(), "services-ts-bench-")));
        m.cold.push(c.seconds);
        m.warm.push((await timeToReady(m.ev, c.workDir)).seconds);
        rmSync(c.workDir, { recursive: true, force: true });
      }
      // The floors in alternation with the stacks too, so that all see the same machine.
      if (stack.withCluster) floorRuns.push(await floors());
    }
    process.stderr.write("\n");
    const [sf, ours] = sets as [(typeof sets)[0], (typeof sets)[0]];
    const pgFloor = median(floorRuns.map((f) => f.postgres));
    const clusterFloor = median(floorRuns.map((f) => f.redisCluster));
    console.log(`${stack.title}; median of ${runs} alternating runs, on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}:`);
    console.log("| modules | cold start (s) | warm start (s) |");
    console.log("| --- | --- | --- |");
    for (const m of sets) console.log(`| ${m.name} | ${median(m.cold).toFixed(2)} | ${median(m.warm).toFixed(2)} |`);
    console.log(`| ratio (services-flake / services-ts) | ${(median(sf.cold) / median(ours.cold)).toFixed(2)}× | ${(median(sf.warm) / median(ours.warm)).toFixed(2)}× |`);
    console.log(`| initdb + start of one PostgreSQL cluster, by hand (a cluster copied from a template starts below it) | ${pgFloor.toFixed(2)} | |`);
    if (stack.withCluster) {
      // A hard floor: no cluster answers cluster_state:ok sooner, whoever forms it.
      console.log(`| a Redis cluster's first cluster_state:ok (Redis's CLUSTER_WRITABLE_DELAY) | ${clusterFloor.toFixed(2)} | |`);
      console.log(`| best ratio any module set could reach (services-flake / that floor) | ${(median(sf.cold) / clusterFloor).toFixed(2)}× | |`);
    }
    console.log("");
  }
  const f = { postgres: median(floorRuns.map((r) => r.postgres)), redisCluster: median(floorRuns.map((r) => r.redisCluster)) };
  console.log(`Floors (median of ${floorRuns.length}): initdb + start of PostgreSQL ${f.postgres.toFixed(2)} s; a one-node Redis cluster to cluster_state:ok ${f.redisCluster.toFixed(2)} s.`);
  process.exit(0);
}

const rows: string[][] = [];
for (const file of stacks) {
  const name = file.replace(/^.*\/(tests|stacks)\//, (_, d: string) => (d === "tests" ? "" : "stack ")).replace(/\.nix$/, "");
  const ev = evalProcessComposeFull(`[ ${nixPath(file)} ${timestampModule} ]`);
  const servers = Object.entries(ev.settings.processes ?? {}).filter(([, p]) => p.readiness_probe).length;
  const cold: number[] = [];
  const warm: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < runs; i++) {
    process.stderr.write(`${name}: run ${i + 1}/${runs}\r`);
    const c = await timeToReady(ev);
    cold.push(c.seconds);
    warm.push((await timeToReady(ev, c.workDir)).seconds);
    rmSync(c.workDir, { recursive: true, force: true });
  }
  if (args.baseline) {
    const evBase = evalProcessComposeFull(`[ ${nixPath(file)} ${timestampModule} ${baselineModule(ev)} ]`);
    for (let i = 0; i < Math.min(runs, 3); i++) {
      const b = await timeToReady(evBase, mkdtempSync(join(tmpdir(), "services-ts-bench-")));
      base.push(b.seconds);
      rmSync(b.workDir, { recursive: true, force: true });
    }
  }
  process.stderr.write("\n");
  rows.push([name, String(servers), median(cold).toFixed(2), median(warm).toFixed(2), base.length ? median(base).toFixed(2) : "-"]);
}

const header = ["stack", "servers", "cold start (s)", "warm start (s)", "cold, services-flake probes (s)"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
console.log(`Median of ${runs} runs (services-flake probes: ${Math.min(runs, 3)}), on ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}:`);
console.log(line(header));
console.log(line(widths.map((w) => "-".repeat(w))));
for (const r of rows) console.log(line(r));
