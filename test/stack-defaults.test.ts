/**
 * What a stack gets from services-flake besides its services, and where a user's own process settings win
 * (issue 23: real configurations from services-flake users broke where our tests passed).
 *
 * - process-compose's HTTP API: services-flake's process-compose module sets
 *   `cli.options.no-server = lib.mkDefault true` (nix/process-compose/defaults.nix at the pinned revision),
 *   so its stacks serve no API on port 8080. Ours must too, whichever of our modules a stack imports; the
 *   run test starts two stacks at once through process-compose-flake's own wrapper, the harness adding no
 *   `--no-server` of its own (with the API on, the second process-compose cannot bind 8080 and fails).
 * - The environment: services-flake's ollama, open-webui, searxng and weaviate put their variables in the
 *   process's `environment`, where a user's `settings.processes.<name>.environment` entry can replace one.
 *   Each test builds the real start script with a stand-in server that prints what it was given, and runs it
 *   with the environment process-compose would give it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildDrv, evalProcessComposeFull, nixAvailable, nixPath, nixString, readProcessScript, repoRoot, upstreamSeeded, upstreamSkipReason } from "./support/nix";
import { findProcessCompose, runProcessCompose } from "./support/run";

const generated = join(repoRoot, "generated");
const seeded = nixAvailable() && upstreamSeeded();
if (nixAvailable() && !seeded) console.warn(`[nix eval] stack defaults skipped: ${upstreamSkipReason}`);

describe.skipIf(!seeded)("[nix eval] services-flake's stack defaults: process-compose's API off", () => {
  // searxng listens on 8080 by default, the port process-compose's API would take.
  const stack = (extra = "") => `[ ${nixPath(join(generated, "default.nix"))} { services.searxng."search".enable = true; ${extra} } ]`;

  it("a stack with a server on 8080 runs process-compose with --no-server", () => {
    expect(evalProcessComposeFull(stack()).cliOptions.split(" ")).toContain("--no-server");
  });

  it("importing a single service's module is enough", () => {
    const ev = evalProcessComposeFull(`[ ${nixPath(join(generated, "memcached.nix"))} { services.memcached."cache".enable = true; } ]`);
    expect(ev.cliOptions.split(" ")).toContain("--no-server");
  });

  it("it is a default: cli.options.no-server = false turns the API back on", () => {
    expect(evalProcessComposeFull(stack("cli.options.no-server = false;")).cliOptions.split(" ")).not.toContain("--no-server");
  });
});

/**
 * One service whose variables services-flake sets in the process's `environment`: the variable the user
 * replaces, the program the start script runs (a stand-in that prints the variable and exits), and a check
 * of the value the server saw.
 */
interface EnvCase {
  readonly service: string;
  readonly attr: string;
  readonly program: string;
  readonly variable: string;
}

const envCases: readonly EnvCase[] = [
  { service: "ollama", attr: "ollama", program: "ollama", variable: "OLLAMA_HOST" },
  { service: "open-webui", attr: "open-webui", program: "open-webui", variable: "DATA_DIR" },
  { service: "searxng", attr: "searxng", program: "searxng-run", variable: "SEARXNG_SETTINGS_PATH" },
  { service: "weaviate", attr: "weaviate", program: "weaviate", variable: "PERSISTENCE_DATA_PATH" },
];

describe.skipIf(!seeded)("[nix eval] a user's settings.processes.<name>.environment wins over the module's variables", () => {
  for (const c of envCases) {
    it(`${c.service}: ${c.variable}`, () => {
      const dir = mkdtempSync(join(tmpdir(), "services-ts-env-"));
      try {
        const value = join(dir, "from the user");
        // The server: a stand-in with the package's main program, printing the variable it was started with.
        const overlay = `(final: prev: { ${nixString(c.attr)} = (final.writeShellScriptBin ${nixString(c.program)} ''
          printf '%s' "''$${c.variable}"
        '') // { meta.mainProgram = ${nixString(c.program)}; }; })`;
        const ev = evalProcessComposeFull(
          `[ ${nixPath(join(generated, "default.nix"))} {
            services.${nixString(c.service)}."svc".enable = true;
            settings.processes."svc".environment.${c.variable} = ${nixString(value)};
          } ]`,
          { pkgsOverlays: `[ ${overlay} ]` },
        );
        const proc = ev.settings.processes!["svc"]!;
        const env = (proc.environment ?? []) as string[];
        expect(env).toContain(`${c.variable}=${value}`);
        // The start script, with the environment process-compose gives it, from the stack's directory.
        buildDrv(ev.settingsDrv);
        const r = spawnSync(String(proc.command), [], {
          cwd: dir,
          encoding: "utf8",
          env: { PATH: "/usr/bin:/bin", HOME: dir, ...Object.fromEntries(env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])) },
        });
        expect(r.stderr).toBe("");
        expect(r.stdout).toBe(value);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

const pc = findProcessCompose();
const runMissing = [...(seeded ? [] : ["nix with the pinned upstream sources"]), ...(pc ? [] : ["process-compose (bash test/tools/install-process-compose.sh)"])];
if (runMissing.length > 0) console.warn(`[run] two stacks side by side skipped: missing ${runMissing.join("; ")}`);

describe.skipIf(runMissing.length > 0)("[run] two stacks side by side, each through process-compose-flake's own wrapper", () => {
  /** A stack of one Redis on `port` whose test process waits long enough for both stacks to be up at once. */
  const stack = (port: number) =>
    evalProcessComposeFull(
      `[ ${nixPath(join(generated, "redis.nix"))} ({ pkgs, ... }: {
        services.redis."cache" = { enable = true; port = ${port}; };
        settings.processes.test = {
          command = "sleep 3; \${pkgs.redis}/bin/redis-cli -p ${port} ping | grep -qx PONG";
          depends_on."cache".condition = "process_healthy";
          availability.exit_on_end = true;
        };
      }) ]`,
      { wrapper: true, name: `side-by-side-${port}` },
    );

  it("both come up and pass, neither opening process-compose's API on 8080", async () => {
    const results = await Promise.all([runProcessCompose(pc!, stack(16391), { wrapper: true, timeoutSeconds: 120 }), runProcessCompose(pc!, stack(16392), { wrapper: true, timeoutSeconds: 120 })]);
    for (const r of results) {
      if (r.code !== 0) console.error(`---- stack in ${r.workDir} exited ${r.timedOut ? "(timed out)" : r.code}:\n${r.output}`);
    }
    expect(results.map((r) => ({ timedOut: r.timedOut, code: r.code }))).toEqual([
      { timedOut: false, code: 0 },
      { timedOut: false, code: 0 },
    ]);
    for (const r of results) rmSync(r.workDir, { recursive: true, force: true });
  });
});

describe.skipIf(!seeded)("[nix eval] a services-flake configuration of ZooKeeper-mode Kafka on Kafka 4 fails saying why", () => {
  // nixpkgs' apacheKafka is Kafka 4 (pkgs/top-level/all-packages.nix: apacheKafka_4_3), which has no ZooKeeper
  // mode; a configuration written for it (as users wrote against Kafka 3) fails with a message naming the way out.
  const start = (pkg: string) => {
    const ev = evalProcessComposeFull(`[ ${nixPath(join(generated, "default.nix"))} ({ pkgs, ... }: {
      services.apache-kafka."k" = { enable = true; package = ${pkg}; settings."zookeeper.connect" = [ "localhost:2181" ]; };
    }) ]`);
    return readProcessScript(ev, "k");
  };
  it("Kafka 4: the start script stops before the broker with the reason", () => {
    const script = start("pkgs.apacheKafka");
    expect(script).toContain("has no ZooKeeper mode (removed in Kafka 4)");
    expect(script).toContain("exit 1");
    expect(script).not.toContain("kafka.Kafka");
  });
  it("Kafka 3.9: ZooKeeper mode as before", () => {
    const script = start("pkgs.apacheKafka_3_9");
    expect(script).not.toContain("has no ZooKeeper mode");
    expect(script).toContain("kafka.Kafka");
  });
});
