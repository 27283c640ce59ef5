/**
 * `pnpm demo [stack|load-test] [--dir DIR] [--tui|--no-tui]`
 *
 * Builds an example of examples/ (the whole stack, or the stack with its load
 * test) with real Nix and the test-only package set (this machine's Debian
 * servers; no binary cache is needed), then runs it under process-compose: its
 * TUI on a terminal, plain logs otherwise. As root, the servers run as the
 * unprivileged user `nobody` (PostgreSQL refuses root), as the run tier does.
 * The data stays in DIR (default: <tmp>/services-ts-demo/<example>) between runs.
 * The exit code is process-compose's: for `load-test`, the load test's verdict.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildDrv, evalProcessComposeFull, nixAvailable, nixPath, repoRoot, upstreamSeeded } from "../support/nix";
import { missingPackages } from "../support/packages";
import { findProcessCompose, unprivileged } from "../support/run";

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { dir: { type: "string" }, tui: { type: "boolean" }, "no-tui": { type: "boolean" } },
});
const which = positionals[0] ?? "stack";
const examples = ["stack", "load-test"];
if (!examples.includes(which) || positionals.length > 1) {
  console.error(`usage: pnpm demo [${examples.join("|")}] [--dir DIR] [--tui|--no-tui]`);
  process.exit(2);
}
const file = join(repoRoot, "examples", `${which}.nix`);
const dir = resolve(args.dir ?? join(tmpdir(), "services-ts-demo", which));

// What this machine lacks, said by name with what to do (as the run tier does).
const problems: string[] = [];
if (!nixAvailable()) problems.push("nix: not found (Debian package nix-bin; bash .ci/run installs everything)");
else if (!upstreamSeeded()) problems.push("the pinned upstream sources are not in the Nix store: run pnpm seed-upstream");
const pc = findProcessCompose();
if (!pc) problems.push("process-compose: not found (bash test/tools/install-process-compose.sh)");
const lacking = missingPackages(file);
if (lacking.length > 0) problems.push(`servers missing: ${lacking.join("; ")} (bash .ci/run installs them)`);
if (problems.length > 0) {
  console.error(`pnpm demo ${which}: cannot run here:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}

console.log(`building examples/${which}.nix with Nix (the test-only package set)…`);
const t0 = performance.now();
const ev = evalProcessComposeFull(`[ ${nixPath(file)} ]`, { name: which });
const settingsFile = buildDrv(ev.settingsDrv);
console.log(`built in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${settingsFile}`);

mkdirSync(dir, { recursive: true });
if (process.getuid?.() === 0) chmodSync(dir, 0o777); // the servers run as nobody
const tui = args["no-tui"] ? false : (args.tui ?? (process.stdout.isTTY === true && process.stdin.isTTY === true));

// The ports are examples/stack.nix's; the postgres superuser is the user the servers run as.
const dbUser = process.getuid?.() === 0 ? "nobody" : userInfo().username;
const connect = [
  `data:          ${dir}/data/<instance> (kept between runs; remove the directory to start afresh)`,
  `postgres:      psql -h 127.0.0.1 -p 5432 -U ${dbUser} -d postgres   (replica: -p 5433, read-only)`,
  "notes-app:     curl http://127.0.0.1:8090/notes           (its database: psql -h 127.0.0.1 -p 5434 -U notes -d notes, password notes)",
  "redis:         redis-cli -p 6379",
  "redis-cluster: redis-cli -c -p 7001                       (nodes 7001–7006)",
  ...(which === "load-test" ? [`reports:       ${dir}/data/<generator>/report.json`] : []),
  tui ? "stop:          F10 in the TUI" : "stop:          Ctrl-C",
];
console.log(`\nstarting examples/${which}.nix in ${dir}${process.getuid?.() === 0 ? " as the user nobody" : ""}:\n  ${connect.join("\n  ")}\n`);

const argv = unprivileged([pc!, "up", "-f", settingsFile, `--tui=${tui}`, "--no-server", "--ordered-shutdown", "-L", join(dir, "process-compose.log")]);
const child = spawn(argv[0]!, argv.slice(1), {
  cwd: dir,
  stdio: "inherit",
  env: { ...process.env, HOME: existsSync(dir) ? dir : process.env.HOME, TMPDIR: dir },
});
// Ctrl-C reaches process-compose (same process group), which stops the stack; we wait for it.
process.on("SIGINT", () => {});
process.on("SIGTERM", () => child.kill("SIGTERM"));
child.on("close", (code) => {
  console.log(`\nprocess-compose exited ${code ?? "(killed)"}; data in ${dir}/data, its log in ${dir}/process-compose.log`);
  if (which === "load-test") console.log(`reports: ${dir}/data/*/report.json`);
  process.exit(code ?? 1);
});
