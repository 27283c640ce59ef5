/**
 * Run tier: every service test (generated/tests/*.nix, compiled from
 * modules/<service>.test.ts) and every stack in test/stacks/ is built by real
 * Nix and run by real process-compose until its `test` process exits; the exit
 * code is the verdict, and the logs of a failing run are printed.
 *
 * Each configuration runs twice in the same directory, as a developer stops and
 * starts a stack: the second start must reuse the data (no re-initialisation).
 * The test process sees which start it is in SERVICES_TS_RUN (1, then 2).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evalProcessComposeFull, nixAvailable, nixPath, repoRoot, upstreamSeeded, upstreamSkipReason } from "./support/nix";
import { missingPackages } from "./support/packages";
import { findProcessCompose, runTwice } from "./support/run";

const pc = findProcessCompose();
const missing = [
  ...(nixAvailable() ? [] : ["nix (Debian package nix-bin)"]),
  ...(nixAvailable() && !upstreamSeeded() ? [upstreamSkipReason] : []),
  ...(pc ? [] : ["process-compose (bash test/tools/install-process-compose.sh)"]),
];
if (missing.length > 0) console.warn(`[run] skipped: missing ${missing.join("; ")}`);

const configs = [
  ...readdirSync(join(repoRoot, "generated", "tests"))
    .filter((f) => f.endsWith(".nix"))
    .map((f) => ({ name: `service test ${f.replace(/\.nix$/, "")}`, file: join(repoRoot, "generated", "tests", f) })),
  ...readdirSync(join(repoRoot, "test", "stacks"))
    .filter((f) => f.endsWith(".nix"))
    .map((f) => ({ name: `stack ${f.replace(/\.nix$/, "")}`, file: join(repoRoot, "test", "stacks", f) })),
];

/** Adds what to do to an evaluation error about a package the test package set lacks. */
function explainMissingAttribute(e: unknown): never {
  const m = /attribute '([^']+)' missing/.exec(String(e));
  if (m) {
    throw new Error(
      `${String(e)}\n\nIf pkgs.${m[1]} is a package a service uses, the test-only package set does not have it: ` +
        `add it to test/packages.json (nixpkgs attribute → Debian package; pnpm new-service does this for a new service).`,
    );
  }
  throw e;
}

describe.skipIf(missing.length > 0)("[run] process-compose up, until the test process exits", () => {
  for (const { name, file } of configs) {
    const lacking = missingPackages(file);
    if (lacking.length > 0) console.warn(`[run] ${name} skipped: missing ${lacking.join("; ")}`);
    it.skipIf(lacking.length > 0)(name, async () => {
      let ev;
      try {
        ev = evalProcessComposeFull(`[ ${nixPath(file)} ]`);
      } catch (e) {
        explainMissingAttribute(e);
      }
      const results = await runTwice(pc!, ev, name);
      expect(results.map((r) => ({ timedOut: r.timedOut, code: r.code }))).toEqual([
        { timedOut: false, code: 0 },
        { timedOut: false, code: 0 },
      ]);
      // runTwice gives each start up to 180 s: the test waits for both (JVM stacks on a loaded 2-core machine need more than 120 s).
    }, 2 * 180_000 + 30_000);
  }
});
