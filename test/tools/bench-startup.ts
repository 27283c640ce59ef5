/**
 * `pnpm bench:startup [--runs N] [--only NAME]`
 *
 * For every run-tier stack (generated/tests/*.nix and test/stacks/*.nix): the
 * time from `process-compose up` until every server the test process waits for
 * is healthy (the test process starts then and writes a timestamp), median of
 * N runs. "cold" starts in an empty directory (initdb, cluster creation, …);
 * "warm" starts again on the data of the cold run. The "services-flake probes"
 * column is the cold start with services-flake's probe timing (first probe
 * after 2 s, then every 10 s) forced on every readiness probe, for comparison.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { evalProcessComposeFull, nixPath, type ProcessComposeEval, repoRoot } from "../support/nix";
import { missingPackages } from "../support/packages";
import { findProcessCompose, runProcessCompose } from "../support/run";

const { values: args } = parseArgs({
  options: { runs: { type: "string", default: "5" }, only: { type: "string" }, baseline: { type: "boolean", default: true } },
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

async function timeToReady(ev: ProcessComposeEval, workDir?: string): Promise<{ seconds: number; workDir: string }> {
  const startNs = BigInt(Date.now()) * 1_000_000n;
  const r = await runProcessCompose(pc!, ev, { timeoutSeconds: 300, workDir });
  if (r.code !== 0) throw new Error(`process-compose exited ${r.code}:\n${r.output}`);
  const readyNs = BigInt(readFileSync(join(r.workDir, "startup-ready"), "utf8").trim());
  return { seconds: Number(readyNs - startNs) / 1e9, workDir: r.workDir };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

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
