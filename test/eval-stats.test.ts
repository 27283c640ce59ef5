/**
 * `[nix eval] stats`: what one more instance costs Nix's evaluator, in function calls and
 * thunks (NIX_SHOW_STATS), for services-ts's modules and services-flake's own on the same
 * configuration (test/nix/eval-stats.nix: redis and postgres instances, down to the settings
 * JSON). The per-instance cost is the difference between 1 and 11 instances of each service,
 * divided by 20, so the fixed cost of the module system and the package set drops out.
 *
 * Counts are exact and repeatable for one Nix version and one nixpkgs lib: ours is pinned in
 * test/eval-stats.json and may not grow by more than 10 %. The pin holds for the Nix version
 * recorded there; under another, the figures are printed and the pin is skipped by name.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nixAvailable, nixEnv, repoRoot, upstreamSeeded } from "./support/nix";

interface Stats {
  functionCalls: number;
  thunks: number;
}

const pinFile = join(repoRoot, "test", "eval-stats.json");
const pin = JSON.parse(readFileSync(pinFile, "utf8")) as {
  nixVersion: string;
  perInstance: Stats;
  servicesFlakePerInstance: Stats;
  floorPerInstance: Pick<Stats, "functionCalls">;
};
const seeded = nixAvailable() && upstreamSeeded();
const nixVersion = seeded ? spawnSync("nix-instantiate", ["--version"], { env: nixEnv, encoding: "utf8" }).stdout.trim() : "";

type Modules = "ours" | "services-flake" | "floor";

/** The arguments of test/nix/eval-stats.nix, as a Nix expression. */
const expr = (modules: Modules, n: number, extra = "") =>
  `import ${join(repoRoot, "test", "nix", "eval-stats.nix")} { modules = "${modules}"; n = ${n}; ${extra} }`;

/** NIX_SHOW_STATS of one evaluation of test/nix/eval-stats.nix. */
function stats(modules: Modules, n: number, processes?: string): Stats {
  const dir = mkdtempSync(join(tmpdir(), "services-ts-stats-"));
  try {
    const file = join(dir, "stats.json");
    const r = spawnSync("nix-instantiate", ["--eval", "--read-write-mode", "--expr", expr(modules, n, processes ? `processes = ${processes};` : "")], {
      env: { ...nixEnv, NIX_SHOW_STATS: "1", NIX_SHOW_STATS_PATH: file },
      encoding: "utf8",
      cwd: repoRoot,
    });
    if (r.status !== 0) throw new Error(`nix-instantiate failed:\n${r.stderr}`);
    const s = JSON.parse(readFileSync(file, "utf8")) as { nrFunctionCalls: number; nrThunks: number };
    return { functionCalls: s.nrFunctionCalls, thunks: s.nrThunks };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `settings.processes` of one evaluation, as JSON values (commands are store path strings). */
function processesOf(modules: Modules, n: number, processes?: string): unknown {
  const r = spawnSync(
    "nix-instantiate",
    ["--eval", "--strict", "--json", "--read-write-mode", "--expr", expr(modules, n, `output = "processes"; ${processes ? `processes = ${processes};` : ""}`)],
    { env: nixEnv, encoding: "utf8", cwd: repoRoot, maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) throw new Error(`nix-instantiate failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** `value` without null attributes, recursively (process-compose-flake's options default to null). */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).flatMap(([k, v]) => (v === null ? [] : [[k, withoutNulls(v)]])));
}

/** Calls and thunks per instance: (11 of each − 1 of each) / 20. */
const difference = (one: Stats, eleven: Stats): Stats => ({
  functionCalls: (eleven.functionCalls - one.functionCalls) / 20,
  thunks: (eleven.thunks - one.thunks) / 20,
});

/** {@link difference} of two evaluations with `modules`. */
const perInstance = (modules: "ours" | "services-flake"): Stats => difference(stats(modules, 1), stats(modules, 11));

/**
 * The floor: process-compose-flake alone, given as plain values the settings our modules
 * produce for 1 and 11 instances of each service. What any module set that yields these
 * processes through `settings.processes` pays at least; also checks that the floor's
 * evaluation yields the very same settings.
 */
function floorPerInstance(): { perInstance: Stats; sameOutput: boolean } {
  const dir = mkdtempSync(join(tmpdir(), "services-ts-floor-"));
  try {
    const measured: Stats[] = [];
    let sameOutput = true;
    for (const n of [1, 11]) {
      const ours = withoutNulls(processesOf("ours", n));
      const file = join(dir, `processes-${n}.json`);
      writeFileSync(file, JSON.stringify(ours));
      sameOutput &&= isDeepStrictEqual(withoutNulls(processesOf("floor", n, file)), ours);
      measured.push(stats("floor", n, file));
    }
    const [one, eleven] = measured as [Stats, Stats];
    return { perInstance: difference(one, eleven), sameOutput };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!seeded)("[nix eval] stats: evaluation work per instance, services-ts vs services-flake", () => {
  const ours = perInstance("ours");
  const theirs = perInstance("services-flake");
  const floor = floorPerInstance();
  const ratio = { functionCalls: ours.functionCalls / theirs.functionCalls, thunks: ours.thunks / theirs.thunks };
  console.log(
    `[nix eval] stats per instance (redis + postgres): services-ts ${ours.functionCalls} calls, ${ours.thunks} thunks; ` +
      `services-flake ${theirs.functionCalls} calls, ${theirs.thunks} thunks; ratio ${ratio.functionCalls.toFixed(2)}× calls, ${ratio.thunks.toFixed(2)}× thunks; ` +
      `floor (process-compose-flake alone on the same settings) ${floor.perInstance.functionCalls} calls = ` +
      `${(floor.perInstance.functionCalls / theirs.functionCalls).toFixed(2)}× services-flake's (${nixVersion})`,
  );

  it("the floor evaluation yields the same process settings as services-ts's modules", () => {
    expect(floor.sameOutput).toBe(true);
  });

  it("services-ts's modules cost more than the floor (a measurement below it would be broken)", () => {
    expect(ours.functionCalls).toBeGreaterThan(floor.perInstance.functionCalls);
    expect(floor.perInstance.functionCalls).toBeGreaterThan(1000);
  });

  it("the measurement sees instances (each costs thousands of calls in both module sets)", () => {
    expect(ours.functionCalls).toBeGreaterThan(1000);
    expect(theirs.functionCalls).toBeGreaterThan(1000);
  });

  it.skipIf(nixVersion !== pin.nixVersion)(`per-instance cost stays within 10 % of test/eval-stats.json (pinned under ${pin.nixVersion})`, () => {
    expect(ours.functionCalls).toBeLessThanOrEqual(pin.perInstance.functionCalls * 1.1);
    expect(ours.thunks).toBeLessThanOrEqual(pin.perInstance.thunks * 1.1);
    // services-flake's side is pinned too: a change there means the measurement itself changed.
    expect(theirs.functionCalls).toBeCloseTo(pin.servicesFlakePerInstance.functionCalls, 0);
    // And the floor: process-compose-flake's own cost for these settings.
    expect(floor.perInstance.functionCalls).toBeCloseTo(pin.floorPerInstance.functionCalls, 0);
  });
});
