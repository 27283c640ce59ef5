/**
 * A vitest reporter that ends the run with one plain line, `tests: N passed, N
 * failed, N skipped`, and names every skipped test tier — so CI logs say which
 * tiers did not run, never counting them as passed.
 */
import type { Reporter, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    let unselected = 0;
    const skippedSuites = new Set<string>();
    // `pnpm test:service` runs a name filter: tests outside it are not selected, not skipped tiers.
    const filter = process.env.SERVICES_TS_TEST_FILTER ? new RegExp(process.env.SERVICES_TS_TEST_FILTER) : null;
    for (const mod of modules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (filter && state === "skipped" && !filter.test(test.fullName)) {
          unselected++;
          continue;
        }
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else {
          skipped++;
          const suite = test.parent.type === "suite" ? test.parent.name : test.module.moduleId;
          skippedSuites.add(suite);
        }
      }
    }
    // A file that failed outside its tests (a beforeAll hook, an import) counts as a failure,
    // even though vitest reports its tests as skipped.
    const brokenFiles: string[] = [];
    for (const mod of modules) {
      const anyTestFailed = [...mod.children.allTests()].some((t) => t.result().state === "failed");
      if (!anyTestFailed && (mod.state() === "failed" || [...mod.children.allSuites()].some((su) => su.state() === "failed"))) {
        brokenFiles.push(mod.moduleId);
        failed++;
      }
    }
    // Printed at exit, after vitest's own summary, so that it is the run's last line.
    process.once("exit", () => {
      for (const f of brokenFiles) process.stdout.write(`failed outside its tests (a hook or an import): ${f}\n`);
      for (const s of skippedSuites) process.stdout.write(`skipped tier: ${s}\n`);
      if (filter) process.stdout.write(`(${unselected} tests outside the filter ${filter.source} not run)\n`);
      process.stdout.write(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    });
  }
}
