/**
 * `[nix eval] rendered`: what every service test's instances render to, checked
 * also where the server cannot run here. All test stacks (generated/tests/*.nix)
 * are evaluated in ONE Nix evaluation over the test package set, with an empty
 * stand-in for every package this machine lacks (test/packages.json: unavailable,
 * or a Debian package not installed); the processes named by the tests'
 * `rendered` checks have their start scripts built (no server is needed for
 * that), and each check's strings must appear in the script or in a text file
 * of the Nix store it or its environment names (a configuration file, a script it
 * runs), followed two levels deep; each check's `environment` entries must be in
 * the process's environment.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { isServiceTest, type RenderedCheck, type ServiceTest } from "../dsl";
import { buildDrvsAsync, nixAvailable, nixEvalJsonRWAsync, nixPath, nixString, type ProcessComposeEval, repoRoot, upstreamSeeded, upstreamSkipReason } from "./support/nix";
import { installed, loadPackages } from "./support/packages";

const seeded = nixAvailable() && upstreamSeeded();
if (nixAvailable() && !seeded) console.warn(`[nix eval] rendered skipped: ${upstreamSkipReason}`);

const tests: ServiceTest[] = [];
for (const f of readdirSync(join(repoRoot, "modules")).filter((x) => x.endsWith(".test.ts")).sort()) {
  const t = ((await import(join(repoRoot, "modules", f))) as { default: unknown }).default;
  if (isServiceTest(t) && (t.rendered?.length ?? 0) > 0) tests.push(t);
}

/** Overlay (Nix source) replacing every package this machine lacks with an empty one of the same name (keeping its other attributes). */
export function standInOverlay(): string {
  const lacking = Object.entries(loadPackages()).filter(([, e]) => !installed(e));
  // The package's own attributes stay (passthru such as `withExtraComponents`, `jre`); what it builds to is the stand-in.
  const defs = lacking.map(
    ([attr, e]) =>
      `${nixString(attr)} = let si = prev.runCommand ${nixString(`${attr}-stand-in`)} { meta.mainProgram = ${nixString(e.mainProgram ?? attr)}; } "mkdir -p $out/bin"; r = (prev.${nixString(attr)} or { }) // { inherit (si) drvPath outPath meta; out = si; all = [ si ]; outputs = [ "out" ]; override = _: r; }; in r;`,
  );
  return `[ (final: prev: { ${defs.join(" ")} }) ]`;
}

const storePath = /\/nix\/store\/[0-9a-z]{32}-[^\s'"`;:)(<>{}\\$]+/g;

/**
 * The text of `file` and of the Nix store text files it names, `depth` levels
 * deep (binaries, directories and files over 1 MiB are left out).
 */
export function renderedTexts(file: string, depth = 2): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (f: string, level: number): void => {
    if (out.has(f) || !existsSync(f)) return;
    const st = statSync(f);
    if (!st.isFile() || st.size > 1 << 20) return;
    const text = readFileSync(f, "utf8");
    if (text.includes("\u0000")) return;
    out.set(f, text);
    if (level >= depth) return;
    for (const m of text.matchAll(storePath)) visit(m[0], level + 1);
  };
  visit(file, 0);
  return out;
}

/** The strings of `check` that none of `texts` contains. */
export function missingStrings(check: RenderedCheck, texts: Iterable<string>): string[] {
  const all = [...texts];
  return check.contains.filter((s) => !all.some((t) => t.includes(s)));
}

/** The `NAME=value` entries of `check.environment` that the process's environment (process-compose's list form) lacks. */
export function missingEnvironment(check: RenderedCheck, environment: unknown): string[] {
  const have = new Set(Array.isArray(environment) ? environment.map(String) : []);
  return Object.entries(check.environment ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .filter((e) => !have.has(e));
}

describe("rendered checks' own matching", () => {
  it("reports a string that no rendered text contains (the check can fail)", () => {
    const check = { process: "p", contains: ["port = 1", "port = 2"] };
    expect(missingStrings(check, ["a\nport = 1\n", "b"])).toEqual(["port = 2"]);
    expect(missingStrings(check, ["port = 1", "xport = 2"])).toEqual([]);
  });
  it("reports an environment variable the process lacks or holds with another value", () => {
    const check = { process: "p", contains: [], environment: { A: "1", B: "2" } };
    expect(missingEnvironment(check, ["A=1", "B=3"])).toEqual(["B=2"]);
    expect(missingEnvironment(check, null)).toEqual(["A=1", "B=2"]);
    expect(missingEnvironment(check, ["B=2", "A=1", "C=x"])).toEqual([]);
  });
});

describe.skipIf(!seeded || tests.length === 0)("[nix eval] rendered: every service test's processes render its non-default options (one evaluation, stand-ins for servers not installed)", () => {
  let evs: Record<string, ProcessComposeEval>;
  beforeAll(async () => {
    const overlay = standInOverlay();
    const evalNix = nixPath(join(repoRoot, "test", "nix", "eval.nix"));
    const entries = tests.map((t) => `${nixString(t.name)} = import ${evalNix} { modules = [ ${nixPath(join(repoRoot, "generated", "tests", `${t.name}.nix`))} ]; pkgsOverlays = overlay; };`);
    evs = (await nixEvalJsonRWAsync(`let overlay = ${overlay}; in { ${entries.join(" ")} }`)) as Record<string, ProcessComposeEval>;
    // One build for every process a check names.
    const drvs = [
      ...new Set(
        tests.flatMap((t) =>
          t.rendered!.flatMap((c) => [evs[t.name]?.commandDrvs[c.process], ...(evs[t.name]?.environmentDrvs[c.process] ?? [])]).filter((d): d is string => !!d),
        ),
      ),
    ];
    await buildDrvsAsync(drvs);
  }, 600_000);

  for (const t of tests) {
    it(t.name, () => {
      const ev = evs[t.name]!;
      for (const check of t.rendered!) {
        const proc = ev.settings.processes?.[check.process];
        expect(proc, `${t.name}: no process "${check.process}"; the stack has: ${Object.keys(ev.settings.processes ?? {}).join(", ")}`).toBeDefined();
        const script = String(proc!.command).split(/\s+/)[0]!;
        const texts = renderedTexts(script);
        // And the store files its environment names (a configuration file passed by its path).
        for (const e of Array.isArray(proc!.environment) ? proc!.environment.map(String) : []) {
          for (const m of e.matchAll(storePath)) for (const [f, text] of renderedTexts(m[0])) texts.set(f, text);
        }
        expect(texts.size, `${t.name}: ${check.process}'s command ${script} was not built`).toBeGreaterThan(0);
        expect(missingStrings(check, texts.values()), `${t.name}: ${check.process} renders none of these (read: ${[...texts.keys()].join(", ")})`).toEqual([]);
        expect(missingEnvironment(check, proc!.environment), `${t.name}: ${check.process}'s environment lacks these`).toEqual([]);
      }
    });
  }
});
