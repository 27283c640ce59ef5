/**
 * `[corpus]`: users' real services-flake configurations (test/corpus/<name>.nix, each quoted from a
 * public repository named in its header) evaluated twice — with services-flake's own modules (the
 * pinned source, as test/upstream.test.ts uses it) and with this project's (`generated/default.nix`) —
 * over the test package set (test/nix/eval-corpus.nix). Both must give the same verdict (both
 * evaluate, or both fail), the same process names, the same `depends_on` (names and conditions), the
 * same processes with a readiness probe, and the same process-compose command line (process-compose-
 * flake's `cli.options`, the arguments it makes of them and its environment prefix). A difference is
 * printed per configuration as a readable diff; only an entry of {@link ALLOWED} (a documented,
 * deliberate divergence of ours, with why) lets one pass.
 *
 * `[corpus] run`: configurations whose packages are all installed here run with this project's
 * modules under real process-compose, in a network namespace of their own (they use default ports;
 * `unshare -n`, as root), with a `test` process added that waits until every process with a readiness
 * probe is healthy; with services-flake's modules too where they build here, and ours must be healthy
 * wherever theirs is. A configuration whose package is missing is skipped by name.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nixAvailable, nixEvalJsonRW, nixString, repoRoot, upstreamSeeded, upstreamSkipReason, type ProcessComposeEval } from "./support/nix";
import { missingPackages } from "./support/packages";
import { findProcessCompose, runProcessCompose } from "./support/run";

const corpusDir = join(repoRoot, "test", "corpus");
const evaluator = join(repoRoot, "test", "nix", "eval-corpus.nix");
const CONFIGS = readdirSync(corpusDir)
  .filter((f) => f.endsWith(".nix"))
  .map((f) => f.slice(0, -".nix".length))
  .sort();

type Modules = "services-flake" | "ours";

/** What test/nix/eval-corpus.nix returns besides pc-result.nix's fields. */
interface CorpusEval extends ProcessComposeEval {
  name: string;
  cli: { options: Record<string, unknown>; commandLine: string; environment: string };
  /** The services with an enabled instance (their packages decide whether the run tier can run them). */
  enabledServices: string[];
}

type Verdict = { ok: true; ev: CorpusEval } | { ok: false; error: string };

/** Evaluates one configuration with one side's modules; a Nix error is a verdict, not a throw. */
function evalCorpus(config: string, modules: Modules, extraModules = "[ ]", overlays = "[ ]"): Verdict {
  const expr = `import ${nixString(evaluator)} { file = ${join(corpusDir, `${config}.nix`)}; modules = ${nixString(modules)}; extraModules = ${extraModules}; overlays = ${overlays}; }`;
  try {
    return { ok: true, ev: nixEvalJsonRW(expr) as CorpusEval };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/** The facts compared between the two sides, as plain sorted data. */
interface Facts {
  processes: string[];
  dependsOn: Record<string, Record<string, string>>;
  probes: string[];
  cli: { commandLine: string; environment: string };
  /** Not required equal, printed when they differ: each process's availability and shutdown settings. */
  informational: Record<string, { availability: string; shutdown: string }>;
}

function facts(ev: CorpusEval): Facts {
  const procs = ev.settings.processes ?? {};
  const names = Object.keys(procs).sort();
  const dependsOn: Record<string, Record<string, string>> = {};
  for (const n of names) {
    const d = procs[n]!.depends_on ?? {};
    dependsOn[n] = Object.fromEntries(Object.keys(d).sort().map((k) => [k, d[k]!.condition]));
  }
  return {
    processes: names,
    dependsOn,
    probes: names.filter((n) => procs[n]!.readiness_probe !== undefined),
    cli: { commandLine: ev.cli.commandLine, environment: ev.cli.environment.trim().replace(/\s+/g, " ") },
    informational: Object.fromEntries(
      names.map((n) => [n, { availability: JSON.stringify(procs[n]!.availability ?? null), shutdown: shutdownText(procs[n]!.shutdown) }]),
    ),
  };
}

/** A process's shutdown settings, without process-compose's default (a 10 s timeout) and store paths. */
function shutdownText(shutdown: unknown): string {
  const rest = { ...((shutdown ?? {}) as Record<string, unknown>) };
  if (rest.timeout_seconds === 10) delete rest.timeout_seconds;
  return Object.keys(rest).length === 0 ? "(process-compose's default)" : JSON.stringify(rest).replace(/\/nix\/store\/[^/]+/g, "…");
}

/** Differences in {@link Facts.informational}: reported, never failing. */
function informationalDifferences(theirs: Facts, ours: Facts): string[] {
  const out: string[] = [];
  for (const p of theirs.processes.filter((x) => ours.processes.includes(x))) {
    for (const key of ["availability", "shutdown"] as const) {
      const a = theirs.informational[p]![key];
      const b = ours.informational[p]![key];
      if (a !== b) out.push(`process ${p}: ${key}: services-flake ${a}, ours ${b}`);
    }
  }
  return out;
}

/**
 * The differences between services-flake's facts and ours, one line each, phrased so an allow-list
 * entry can name one exactly.
 */
function differences(theirs: Facts, ours: Facts): string[] {
  const out: string[] = [];
  const theirSet = new Set(theirs.processes);
  const ourSet = new Set(ours.processes);
  for (const p of theirs.processes) if (!ourSet.has(p)) out.push(`process ${p}: only in services-flake's`);
  for (const p of ours.processes) if (!theirSet.has(p)) out.push(`process ${p}: only in ours`);
  for (const p of theirs.processes.filter((x) => ourSet.has(x))) {
    const a = theirs.dependsOn[p]!;
    const b = ours.dependsOn[p]!;
    for (const dep of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      if (a[dep] !== b[dep]) out.push(`process ${p}: depends_on ${dep}: services-flake ${a[dep] ?? "(none)"}, ours ${b[dep] ?? "(none)"}`);
    }
    const pa = theirs.probes.includes(p);
    const pb = ours.probes.includes(p);
    if (pa !== pb) out.push(`process ${p}: readiness probe: services-flake ${pa ? "has one" : "none"}, ours ${pb ? "has one" : "none"}`);
  }
  if (theirs.cli.commandLine !== ours.cli.commandLine) {
    out.push(`cli: process-compose command line: services-flake ${JSON.stringify(theirs.cli.commandLine)}, ours ${JSON.stringify(ours.cli.commandLine)}`);
  }
  if (theirs.cli.environment !== ours.cli.environment) {
    out.push(`cli: environment: services-flake ${JSON.stringify(theirs.cli.environment)}, ours ${JSON.stringify(ours.cli.environment)}`);
  }
  return out;
}

/**
 * Deliberate, documented divergences of ours that a configuration may show, by configuration; each
 * entry is one exact line of {@link differences} and says where the divergence is documented.
 * Empty: every difference found so far is a finding (see the report), not a divergence.
 */
const ALLOWED: Record<string, { difference: string; why: string }[]> = {};

const seeded = nixAvailable() && upstreamSeeded();
const skipReason = !nixAvailable() ? "nix (Debian package nix-bin)" : !seeded ? upstreamSkipReason : undefined;
if (skipReason) console.warn(`[corpus] skipped: missing ${skipReason}`);

describe.skipIf(!seeded)("[corpus] users' services-flake configurations: services-flake's modules and ours agree", () => {
  it("the corpus has at least 10 configurations, each naming its source", () => {
    expect(CONFIGS.length).toBeGreaterThanOrEqual(10);
    for (const c of CONFIGS) {
      const head = readFileSync(join(corpusDir, `${c}.nix`), "utf8").split("\n").slice(0, 3).join("\n");
      expect(head, `${c}.nix: header`).toMatch(/^# Source: github\.com\/[^,\s]+\/[^,\s]+, [^,]+, commit [0-9a-f]{40}/);
    }
  });

  for (const config of CONFIGS) {
    it(`${config}: same verdict, processes, depends_on, readiness probes and command line`, () => {
      const theirs = evalCorpus(config, "services-flake");
      const ours = evalCorpus(config, "ours");
      if (theirs.ok !== ours.ok) {
        const failed = theirs.ok ? ours : theirs;
        console.error(
          `---- [corpus] ${config}: services-flake's modules ${theirs.ok ? "evaluate" : "fail"}, ours ${ours.ok ? "evaluate" : "fail"}:\n${(failed as { error: string }).error}`,
        );
      }
      expect({ config, evaluates: { servicesFlake: theirs.ok, ours: ours.ok } }).toEqual({
        config,
        evaluates: { servicesFlake: theirs.ok, ours: theirs.ok },
      });
      if (!theirs.ok && !ours.ok) {
        const last = (e: string) => e.split("\n").filter((l) => l.startsWith("error:") || l.startsWith("       - ")).join(" ");
        console.warn(`[corpus] ${config}: evaluates with neither (the same verdict): services-flake's: ${last(theirs.error)}; ours: ${last(ours.error)}`);
      }
      if (!theirs.ok || !ours.ok) return;
      const theirFacts = facts(theirs.ev);
      const ourFacts = facts(ours.ev);
      const diff = differences(theirFacts, ourFacts);
      const info = informationalDifferences(theirFacts, ourFacts);
      if (info.length > 0) console.log(`[corpus] ${config}: also differs (informational, not required equal):\n${info.map((d) => `  note  ${d}`).join("\n")}`);
      const allowed = ALLOWED[config] ?? [];
      const found = diff.filter((d) => !allowed.some((a) => a.difference === d));
      const stale = allowed.filter((a) => !diff.includes(a.difference)).map((a) => a.difference);
      if (diff.length > 0) {
        console.error(
          `---- [corpus] ${config} (process-compose configuration "${ours.ev.name}"): services-flake's modules → ours\n` +
            diff.map((d) => `  ${allowed.some((a) => a.difference === d) ? "allowed" : "DIFFERS"}  ${d}`).join("\n"),
        );
      }
      expect({ config, differences: found, staleAllowListEntries: stale }).toEqual({ config, differences: [], staleAllowListEntries: [] });
    });
  }
});

// ---------------------------------------------------------------------------
// Run tier
// ---------------------------------------------------------------------------

const pc = findProcessCompose();
const root = process.getuid?.() === 0;
const netTools = ["unshare", "ip"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
const runMissing = [
  ...(skipReason ? [skipReason] : []),
  ...(pc ? [] : ["process-compose (bash test/tools/install-process-compose.sh)"]),
  ...(root ? [] : ["root (for a network namespace of its own: the configurations use default ports)"]),
  ...netTools.map((t) => `${t} (Debian packages util-linux, iproute2)`),
];
if (runMissing.length > 0) console.warn(`[corpus] run skipped: missing ${runMissing.join("; ")}`);

/**
 * Configurations that evaluate but cannot run on this machine, each with why (skipped by name, never
 * counted as passed).
 */
const NOT_RUNNABLE: Record<string, string> = {
  // Its redis.conf has `locale-collate "C"`, a directive of Redis 7.2 and later: Debian 12's Redis
  // 7.0.15 refuses the file ("Bad directive"), with services-flake's modules as with ours.
  evap: "redis extraConfig `locale-collate` needs Redis >= 7.2; Debian 12 has Redis 7.0",
};

/**
 * Package choices of the run for a configuration (both sides alike), each with why: Nix source of an overlay
 * list. The Kafka configurations run their brokers in ZooKeeper mode, which Kafka 4 (nixpkgs' apacheKafka
 * today) no longer has: with it, services-flake's modules and ours both fail (ours saying why), as they would
 * for these users on today's nixpkgs; they were written against a nixpkgs whose apacheKafka was 3.x.
 */
const kafka3 = "[ (final: prev: { apacheKafka = final.apacheKafka_3_9 // { passthru = { inherit (final.apacheKafka_3_9) jre; }; }; }) ]";
const RUN_OVERLAYS: Record<string, { overlays: string; why: string }> = {
  nammayatri: { overlays: kafka3, why: "Kafka in ZooKeeper mode needs Kafka 3 (apacheKafka_3_9)" },
};

/**
 * Services a configuration's run leaves out although they are installed here, each with why: they cannot
 * start as the user wrote them, with services-flake's modules or ours.
 */
const RUN_WITHOUT: Record<string, Record<string, string>> = Object.fromEntries(
  ["location-tracking", "notification-service"].map((c) => [
    c,
    { "apache-kafka": "its broker sets neither zookeeper.connect nor KRaft's settings, which every Kafka requires (services-flake's module sets no default either)" },
  ]),
);

/** How a configuration runs here: what it waits for, and which services it runs without. */
interface RunPlan {
  skip?: string;
  /** Enabled services whose packages are missing here: their processes are left out of the run. */
  without: { service: string; processes: string[]; missing: string[] }[];
  /** Processes with a readiness probe the run waits for. */
  probed: string[];
}

function runPlan(config: string): RunPlan {
  const plan: RunPlan = { without: [], probed: [] };
  const ours = evalCorpus(config, "ours");
  if (!ours.ok) {
    const theirs = evalCorpus(config, "services-flake");
    // Both failing is the [corpus] evaluation test's verdict; ours alone failing fails the run too.
    if (!theirs.ok) return { ...plan, skip: "it evaluates with neither services-flake's modules nor ours (see its evaluation test)" };
    return plan;
  }
  if (NOT_RUNNABLE[config]) return { ...plan, skip: NOT_RUNNABLE[config] };
  const own = missingPackages(join(corpusDir, `${config}.nix`));
  if (own.length > 0) return { ...plan, skip: `missing ${own.join("; ")}` };
  const procs = ours.ev.settings.processes ?? {};
  for (const service of ours.ev.enabledServices) {
    const why = RUN_WITHOUT[config]?.[service];
    const missing = why !== undefined ? [why] : missingPackages(join(repoRoot, "generated", `${service}.nix`));
    if (missing.length === 0) continue;
    const processes = Object.keys(procs).filter((p) => (procs[p]!.namespace ?? "").startsWith(`${service}.`));
    plan.without.push({ service, processes, missing });
  }
  // Left out: the processes of those services, and every process that (transitively) depends on one.
  const out = new Set(plan.without.flatMap((w) => w.processes));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [p, settings] of Object.entries(procs)) {
      if (!out.has(p) && Object.keys(settings.depends_on ?? {}).some((d) => out.has(d))) {
        out.add(p);
        grew = true;
      }
    }
  }
  plan.probed = facts(ours.ev).probes.filter((p) => !out.has(p));
  if (plan.probed.length === 0) return { ...plan, skip: `nothing left to run: missing ${plan.without.flatMap((w) => w.missing).join("; ")}` };
  return plan;
}

/**
 * A module adding a `test` process that ends the run once every process of `probed` is healthy; the
 * processes of `without` are replaced by disabled no-ops (their packages are not built).
 */
function runModules(plan: RunPlan): string {
  const deps = plan.probed.map((p) => `${nixString(p)}.condition = "process_healthy";`).join(" ");
  const off = plan.without
    .flatMap((w) => w.processes)
    .map((p) => `${nixString(p)} = lib.mkForce { command = "true"; disabled = true; };`)
    .join(" ");
  return `[ ({ pkgs, lib, ... }: { settings.processes = { ${off} test = { command = pkgs.writeShellApplication { name = "corpus-ready"; text = ${nixString(`echo "ready: ${plan.probed.join(" ")}"`)}; }; depends_on = { ${deps} }; }; }; }) ]`;
}

describe.skipIf(runMissing.length > 0)("[corpus] run: every readiness probe of a configuration passes under process-compose", () => {
  for (const config of CONFIGS) {
    const plan = runMissing.length > 0 ? { without: [], probed: [], skip: runMissing.join("; ") } : runPlan(config);
    if (plan.skip) console.warn(`[corpus] run ${config} skipped: ${plan.skip}`);
    const without = plan.without.map((w) => `${w.service} (${w.processes.join(", ")}): missing ${w.missing.join("; ")}`);
    if (!plan.skip && without.length > 0) console.warn(`[corpus] run ${config}: runs without ${without.join("; without ")}`);
    const label =
      `${config}${plan.without.length > 0 ? ` without ${plan.without.map((w) => w.service).join(", ")} (${RUN_WITHOUT[config] ? "it cannot start as written" : "not installable here"})` : ""}` +
      (RUN_OVERLAYS[config] ? ` (${RUN_OVERLAYS[config]!.why})` : "");
    it.skipIf(plan.skip !== undefined)(`${label}: ours healthy (and wherever services-flake's modules are)`, async () => {
      expect(plan.probed.length, `${config}: no process with a readiness probe to wait for (does it evaluate with ours?)`).toBeGreaterThan(0);
      const result: Record<Modules, { healthy: boolean; seconds: number; note?: string }> = {
        ours: { healthy: false, seconds: 0 },
        "services-flake": { healthy: false, seconds: 0 },
      };
      // Both sides at once: each runs in a network namespace and a directory of its own.
      await Promise.all(
        (["ours", "services-flake"] as const).map(async (side) => {
          const ev = evalCorpus(config, side, runModules(plan), RUN_OVERLAYS[config]?.overlays);
          if (!ev.ok) {
            if (side === "ours") throw new Error(`${config} with ours and the test process: ${ev.error}`);
            result[side].note = `does not evaluate: ${ev.error.split("\n").slice(-3).join(" ")}`;
            return;
          }
          let r;
          try {
            r = await runProcessCompose(pc!, ev.ev, { timeoutSeconds: 90, isolatedNetwork: true });
          } catch (e) {
            // services-flake's scripts may need packages the test package set lacks: not run, and said so.
            if (side === "ours") throw e;
            result[side].note = `not run: ${(e as Error).message.split("\n").slice(0, 4).join(" ")}`;
            return;
          }
          result[side] = { healthy: r.code === 0, seconds: r.seconds };
          if (r.code !== 0) {
            result[side].note = r.timedOut ? "timed out" : `exit ${r.code}`;
            const log = spawnSync("sh", ["-c", 'grep -v \'"level":"debug"\' "$1" | tail -40', "sh", join(r.workDir, "process-compose.log")], { encoding: "utf8" }).stdout;
            console.error(`---- [corpus] run ${config} with ${side === "ours" ? "ours" : "services-flake's modules"}: ${result[side].note} after ${r.seconds.toFixed(1)} s in ${r.workDir}; process-compose's log:\n${log}`);
          } else {
            rmSync(r.workDir, { recursive: true, force: true });
          }
        }),
      );
      console.log(
        `[corpus] run ${config}: ours ${result.ours.healthy ? "healthy" : "NOT healthy"} in ${result.ours.seconds.toFixed(1)} s; ` +
          `services-flake's ${result["services-flake"].healthy ? "healthy" : "not healthy"} in ${result["services-flake"].seconds.toFixed(1)} s` +
          (result["services-flake"].note ? ` (${result["services-flake"].note})` : "") +
          ` (waited for ${plan.probed.join(", ")})`,
      );
      expect({ config, oursHealthy: result.ours.healthy }).toEqual({ config, oursHealthy: true });
    }, 240_000);
  }
});
