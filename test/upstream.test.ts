/**
 * `[run] services-flake's own tests`: the proof that a services-flake
 * configuration works unchanged with this project's modules. Each listed
 * service's `<service>_test.nix` from services-flake, at the revision pinned in
 * test/nix/upstream.lock.json (read from the seeded source, never copied here),
 * is evaluated with `generated/default.nix` in place of services-flake's modules
 * and run by process-compose until its `test` process exits. Those tests use
 * the services' default ports (5432, 6379, 11211, …), so each runs in a network
 * namespace of its own with only loopback up (`unshare -n`, as root).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evalProcessComposeFull, nixAvailable, nixEvalJsonRW, nixPath, nixString, repoRoot, upstreamSeeded, upstreamSkipReason } from "./support/nix";
import { missingPackages } from "./support/packages";
import { findProcessCompose, runProcessCompose } from "./support/run";
import { spawnSync } from "node:child_process";

/**
 * The services whose upstream test runs here, with why the others do not:
 * - mysql: its test's third instance uses pkgs.mysql84, which no registry here gives;
 * - nats-server: its test uses pkgs.natscli, not packaged for Debian 12;
 * - apache-kafka: its test runs a broker in ZooKeeper mode on pkgs.apacheKafka, which is Kafka 4 (no ZooKeeper
 *   mode) in nixpkgs as in the test package set; apache-kafka-kraft's is not wired in yet (its file name is not a
 *   module's, and its broker runs with the JVM's default heap);
 * - elasticmq: its test uses pkgs.awscli2, which the test package set does not have;
 * - every service whose server is `unavailable` in test/packages.json.
 */
const SERVICES = ["memcached", "redis", "redis-cluster", "postgres", "prometheus", "phpfpm", "nginx", "zookeeper", "azurite", "tika", "plantuml", "pgadmin", "chromadb"] as const;

const pc = findProcessCompose();
const root = process.getuid?.() === 0;
const tools = ["unshare", "ip"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
const missing = [
  ...(nixAvailable() ? [] : ["nix (Debian package nix-bin)"]),
  ...(nixAvailable() && !upstreamSeeded() ? [upstreamSkipReason] : []),
  ...(pc ? [] : ["process-compose (bash test/tools/install-process-compose.sh)"]),
  ...(root ? [] : ["root (for a network namespace of its own: the tests use default ports)"]),
  ...tools.map((t) => `${t} (Debian packages util-linux, iproute2)`),
];
if (missing.length > 0) console.warn(`[run] services-flake's own tests skipped: missing ${missing.join("; ")}`);

/** The services-flake source tree (seeded), or undefined. */
function servicesFlake(): string | undefined {
  if (missing.length > 0) return undefined;
  return nixEvalJsonRW(`(import ${nixString(join(repoRoot, "test", "nix", "sources.nix"))}).services-flake`) as string;
}

describe.skipIf(missing.length > 0)("[run] services-flake's own tests, with this project's modules in place of services-flake's", () => {
  const src = servicesFlake();
  for (const svc of SERVICES) {
    const file = src && [join(src, "nix", "services", `${svc}_test.nix`), join(src, "nix", "services", svc, `${svc}_test.nix`)].find((f) => existsSync(f));
    const lacking = file ? missingPackages(join(repoRoot, "generated", `${svc}.nix`)) : [];
    if (lacking.length > 0) console.warn(`[run] services-flake's ${svc}_test.nix skipped: missing ${lacking.join("; ")}`);
    it.skipIf(lacking.length > 0)(`${svc}_test.nix`, async () => {
      expect(file, `services-flake has no test for ${svc}`).toBeDefined();
      const ev = evalProcessComposeFull(`[ ${nixPath(join(repoRoot, "generated", "default.nix"))} ${nixPath(file!)} ]`);
      const r = await runProcessCompose(pc!, ev, {
        timeoutSeconds: 180,
        isolatedNetwork: true,
        // Some tests read process logs from process-compose's API at pc-<configuration name>.sock, as process-compose-flake serves it.
        apiSocket: "pc-process-compose.sock",
      });
      if (r.code !== 0) console.error(`---- services-flake's ${svc}_test.nix: process-compose exited ${r.timedOut ? "(timed out)" : r.code} in ${r.workDir}:\n${r.output}`);
      expect({ timedOut: r.timedOut, code: r.code }).toEqual({ timedOut: false, code: 0 });
    });
  }
});
