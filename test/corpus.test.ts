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
import { readdirSync, readFileSync } from "node:fs";
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
function evalCorpus(config: string, modules: Modules, extraModules = "[ ]"): Verdict {
  const expr = `import ${nixString(evaluator)} { file = ${join(corpusDir, `${config}.nix`)}; modules = ${nixString(modules)}; extraModules = ${extraModules}; }`;
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
  };
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
      if (!theirs.ok || !ours.ok) return;
      const diff = differences(facts(theirs.ev), facts(ours.ev));
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

/** A module adding a `test` process that ends the run once every listed process is healthy. */
function readyTest(probed: string[]): string {
  const deps = probed.map((p) => `${nixString(p)}.condition = "process_healthy";`).join(" ");
  return `[ ({ pkgs, ... }: { settings.processes.test = { command = pkgs.writeShellApplication { name = "corpus-ready"; text = ${nixString(`echo "ready: ${probed.join(" ")}"`)}; }; depends_on = { ${deps} }; }; }) ]`;
}

/** Packages of the test package set a configuration needs and this machine lacks. */
function lacking(config: string, ev: CorpusEval): string[] {
  const files = [join(corpusDir, `${config}.nix`), ...ev.enabledServices.map((s) => join(repoRoot, "generated", `${s}.nix`))];
  return [...new Set(files.flatMap((f) => missingPackages(f)))].sort();
}

describe.skipIf(runMissing.length > 0)("[corpus] run: every readiness probe of a configuration passes under process-compose", () => {
  for (const config of CONFIGS) {
    const base = runMissing.length > 0 ? undefined : evalCorpus(config, "ours");
    const missing = base?.ok ? lacking(config, base.ev) : [];
    if (missing.length > 0) console.warn(`[corpus] run ${config} skipped: missing ${missing.join("; ")}`);
    it.skipIf(missing.length > 0)(`${config}: ours healthy (and wherever services-flake's modules are)`, async () => {
      expect(base?.ok, `${config} does not evaluate with ours`).toBe(true);
      const probed = facts((base as { ev: CorpusEval }).ev).probes;
      expect(probed.length, `${config}: no process has a readiness probe`).toBeGreaterThan(0);
      const result: Record<Modules, { healthy: boolean; seconds: number; note?: string }> = {
        ours: { healthy: false, seconds: 0 },
        "services-flake": { healthy: false, seconds: 0 },
      };
      for (const side of ["ours", "services-flake"] as const) {
        const ev = evalCorpus(config, side, readyTest(probed));
        if (!ev.ok) {
          result[side].note = `does not evaluate: ${ev.error.split("\n").slice(-3).join(" ")}`;
          continue;
        }
        let r;
        try {
          r = await runProcessCompose(pc!, ev.ev, { timeoutSeconds: 90, isolatedNetwork: true });
        } catch (e) {
          // services-flake's scripts may need packages the test package set lacks: not run, and said so.
          result[side].note = `not run: ${(e as Error).message.split("\n").slice(0, 4).join(" ")}`;
          if (side === "ours") throw e;
          continue;
        }
        result[side] = { healthy: r.code === 0, seconds: r.seconds };
        if (r.code !== 0) {
          result[side].note = r.timedOut ? "timed out" : `exit ${r.code}`;
          console.error(`---- [corpus] run ${config} with ${side === "ours" ? "ours" : "services-flake's modules"}: ${result[side].note} after ${r.seconds.toFixed(1)} s in ${r.workDir}:\n${r.output.slice(-6000)}`);
        }
      }
      console.log(
        `[corpus] run ${config}: ours ${result.ours.healthy ? "healthy" : "NOT healthy"} in ${result.ours.seconds.toFixed(1)} s; ` +
          `services-flake's ${result["services-flake"].healthy ? "healthy" : "not healthy"} in ${result["services-flake"].seconds.toFixed(1)} s` +
          (result["services-flake"].note ? ` (${result["services-flake"].note})` : ""),
      );
      expect({ config, oursHealthy: result.ours.healthy }).toEqual({ config, oursHealthy: true });
    }, 240_000);
  }
});
