/**
 * `[systemd]`: the NixOS modules the systemd backend generates (generated/nixos/), proven
 * under real systemd.
 *
 * - `[nix eval] NixOS modules`: `nixosModules.default` from flake.nix evaluated against the
 *   test-only declaration of the NixOS options it sets (test/nix/nixos-options.nix): the
 *   units of postgres-with-replica and redis-cluster instances, their order, the user and the
 *   target; a user's unit setting overrides the module's; two instances making one process
 *   are refused.
 * - `[systemd]`: the same service tests the run tier runs under process-compose
 *   (generated/nixos/tests/<service>.nix) rendered to unit files (test/nix/render-units.nix),
 *   checked by `systemd-analyze verify`, and booted in a systemd-nspawn container
 *   (test/support/systemd.ts) until the unit `services-ts-test` has run: it must succeed —
 *   then the container is rebooted on the same /var/lib/services-ts and the test runs again
 *   (SERVICES_TS_RUN=2, as the run tier's restart), so what the first boot wrote must be there.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { buildDrv, buildDrvsAsync, nixAvailable, nixEvalJsonRW, nixEvalJsonRWAsync, nixPath, repoRoot, upstreamSeeded, upstreamSkipReason } from "./support/nix";
import { missingPackages } from "./support/packages";
import { boot, systemdSkipReason, verifyUnits, waitForUnit } from "./support/systemd";

const seeded = nixAvailable() && upstreamSeeded();
const evalNixos = join(repoRoot, "test", "nix", "eval-nixos.nix");
const flake = `((import ${nixPath(join(repoRoot, "flake.nix"))}).outputs { })`;

interface Unit {
  description: string;
  requires: string[];
  wants: string[];
  after: string[];
  wantedBy: string[];
  partOf: string[];
  serviceConfig: Record<string, unknown>;
  unitConfig: Record<string, unknown>;
}
interface NixosEval {
  services: Record<string, Unit>;
  targets: Record<string, { description: string; wantedBy: string[] }>;
  users: Record<string, { isSystemUser: boolean; group: string; home: string }>;
  groups: string[];
  tmpfiles: string[];
  unitsDrv: string;
}

const evalModules = (modules: string): NixosEval => nixEvalJsonRW(`import ${nixPath(evalNixos)} { modules = ${modules}; }`) as NixosEval;

describe.skipIf(!seeded)("[nix eval] NixOS modules (nixosModules.default, services-ts.<service>.<name>)", () => {
  const ev = seeded
    ? evalModules(`[ ${flake}.nixosModules.default {
        services-ts.postgres-with-replica."db".enable = true;
        services-ts.redis-cluster."cache".enable = true;
        systemd.services.services-ts-db.serviceConfig.PrivateTmp = false;
        systemd.services.services-ts-db.after = [ "network-online.target" ];
      } ]`)
    : undefined;

  it("each process of the enabled instances is a unit services-ts-<process>, ordered as under process-compose", () => {
    const s = ev!.services;
    expect(Object.keys(s).sort()).toEqual(
      [
        "db",
        "db-init",
        "db-replica",
        "db-replica-init",
        "pg-basebackup-db",
        "cache-n1",
        "cache-n2",
        "cache-n3",
        "cache-n4",
        "cache-n5",
        "cache-n6",
        "cache-cluster-create",
      ]
        .map((p) => `services-ts-${p}`)
        .sort(),
    );
    expect(s["services-ts-db-init"]!.serviceConfig).toMatchObject({ Type: "oneshot", RemainAfterExit: true });
    expect(s["services-ts-db"]!.serviceConfig.Type).toBe("exec");
    expect(s["services-ts-db"]!.requires).toEqual(["services-ts-db-init.service"]);
    expect(s["services-ts-pg-basebackup-db"]!.requires).toEqual(["services-ts-db.service"]);
    expect(s["services-ts-db-replica-init"]!.requires).toEqual(["services-ts-pg-basebackup-db.service"]);
    expect(s["services-ts-db-replica"]!.requires).toEqual(["services-ts-db-replica-init.service"]);
    expect(s["services-ts-cache-cluster-create"]!.after.sort()).toEqual([1, 2, 3, 4, 5, 6].map((n) => `services-ts-cache-n${n}.service`));
    // Readiness: a server's unit is active only once the same check as process-compose's probe passes.
    expect(String((s["services-ts-cache-n1"]!.serviceConfig.ExecStartPost as string[])[0])).toMatch(/-services-ts-ready$/);
    for (const [name, u] of Object.entries(s)) {
      expect(u.wantedBy, name).toEqual(["services-ts.target"]);
      // Once each, also for a unit a composite adds to (db-replica-init): list settings concatenate.
      expect(u.partOf, name).toEqual(["services-ts.target"]);
      expect(u.serviceConfig.RestrictAddressFamilies, name).toEqual(["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"]);
      expect(u.serviceConfig, name).toMatchObject({ User: "services-ts", Group: "services-ts", StateDirectory: "services-ts", WorkingDirectory: "/var/lib/services-ts", ProtectSystem: "strict" });
    }
  });

  it("a target, a system user and its group come with the first enabled instance", () => {
    expect(ev!.targets["services-ts"]).toEqual({ description: "services-ts services", wantedBy: ["multi-user.target"] });
    expect(ev!.users["services-ts"]).toEqual({ isSystemUser: true, group: "services-ts", home: "/var/lib/services-ts" });
    expect(ev!.groups).toEqual(["services-ts"]);
    const none = evalModules(`[ ${flake}.nixosModules.default { services-ts.redis."off".enable = false; } ]`);
    expect({ services: none.services, targets: none.targets, users: none.users }).toEqual({ services: {}, targets: {}, users: {} });
  });

  it("a user's unit settings override the module's (serviceConfig) and merge with them (lists)", () => {
    expect(ev!.services["services-ts-db"]!.serviceConfig.PrivateTmp).toBe(false);
    expect(ev!.services["services-ts-db"]!.after.sort()).toEqual(["network-online.target", "services-ts-db-init.service"]);
  });

  it("NixOS's own checks hold here too: a unit name without its suffix, a user neither system nor normal", () => {
    expect(() => evalModules(`[ ${flake}.nixosModules.default { services-ts.redis."r".enable = true; systemd.services.services-ts-r.after = [ "network-online" ]; } ]`)).toThrow(
      /not of type .*string matching the pattern/s,
    );
    expect(() =>
      evalModules(`[ ${flake}.nixosModules.default { services-ts.redis."r".enable = true; users.users.services-ts.isNormalUser = true; } ]`),
    ).toThrow(/Failed assertions:\s+- Exactly one of users\.users\.services-ts\.isSystemUser and users\.users\.services-ts\.isNormalUser must be set/);
  });

  it("an absolute dataDir that does not exist yet is made by tmpfiles for the units' user (escaped); a relative one needs none", () => {
    const abs = evalModules(`[ ${flake}.nixosModules.default {
      services-ts.redis."r1" = { enable = true; dataDir = "/srv/cache \\"one\\" 100%"; };
      services-ts.redis."r2" = { enable = true; port = 6380; };
      services-ts.user = "cache";
      users.users.cache = { isSystemUser = true; group = "services-ts"; };
    } ]`);
    expect(abs.tmpfiles).toEqual(['d "/srv/cache \\"one\\" 100%%" 0750 "cache" "services-ts" - -']);
    expect(abs.services["services-ts-r1"]!.serviceConfig.ReadWritePaths).toEqual(['-/srv/cache "one" 100%']);
  });

  it("renders units as NixOS does: the global environment (TZDIR, LOCALE_ARCHIVE) before the unit's own, [Install] and .wants/ both", () => {
    const out = buildDrv(ev!.unitsDrv);
    const text = readFileSync(join(out, "system", "services-ts-db.service"), "utf8");
    expect(text).toMatch(/^Environment="LOCALE_ARCHIVE=\/nix\/store\/[a-z0-9]{32}-glibc-locales\/lib\/locale\/locale-archive"$/m);
    expect(text).toMatch(/^Environment="TZDIR=\/nix\/store\/[a-z0-9]{32}-tzdata\/share\/zoneinfo"$/m);
    expect(text).toMatch(/\n\[Install\]\nWantedBy=services-ts\.target\n$/);
    expect(readlinkSync(join(out, "system", "services-ts.target.wants", "services-ts-db.service"))).toBe("../services-ts-db.service");
  });

  it("NixOS's checks of [Service] hold here too: Type= and Restart= take only systemd's values; lists and single values do not mix", () => {
    const withUnit = (setting: string) =>
      evalModules(`[ ${flake}.nixosModules.default ({ lib, ... }: { services-ts.redis."r".enable = true; systemd.services.services-ts-r.serviceConfig = ${setting}; }) ]`);
    expect(() => withUnit(`{ Type = lib.mkForce "simpel"; }`)).toThrow(/serviceConfig' is not of type/);
    expect(() => withUnit(`{ Restart = lib.mkForce "sometimes"; }`)).toThrow(/serviceConfig' is not of type/);
    // At the module's own priority (its settings are defaults), a single value beside its list.
    expect(() => withUnit(`{ RestrictAddressFamilies = lib.mkDefault "AF_UNIX"; }`)).toThrow(/a mix of list and non-list|conflicting definition values/);
    expect(withUnit(`{ Restart = lib.mkForce "always"; }`).services["services-ts-r"]!.serviceConfig.Restart).toBe("always");
  });

  it("refuses two instances that would make one unit, and a process name systemd cannot take, naming them", () => {
    expect(() =>
      evalModules(`[ ${flake}.nixosModules.default { services-ts.redis."x".enable = true; services-ts.memcached."x".enable = true; } ]`),
    ).toThrow(/process "x" would be made by both services-ts\.memcached\."x" and services-ts\.redis\."x"/);
    expect(() => evalModules(`[ ${flake}.nixosModules.default { services-ts.redis."my cache".enable = true; } ]`)).toThrow(
      /the process "my cache" cannot name a systemd unit/,
    );
  });
});

const skip = !nixAvailable() ? "Nix (nix-instantiate) is not installed" : !seeded ? upstreamSkipReason : systemdSkipReason();
if (skip) console.warn(`[systemd] skipped: ${skip}`);

/**
 * The service tests booted under systemd: the issue's four (each composite or stateful), and quick
 * others that pass here. `SERVICES_TS_SYSTEMD_ALL=1` boots every service test instead (a survey: some
 * fail for reasons of this test machine — servers outside /usr, /etc configuration — listed in README).
 */
const SERVICE_TESTS: readonly string[] = process.env.SERVICES_TS_SYSTEMD_ALL
  ? readdirSync(join(repoRoot, "generated", "nixos", "tests")).map((f) => f.replace(/\.nix$/, "")).sort()
  : ["redis", "postgres", "redis-cluster", "postgres-with-replica", "nginx", "nats-server", "prometheus", "etcd"];

describe.skipIf(skip !== undefined)("[systemd] the generated NixOS modules under real systemd (systemd-nspawn)", () => {
  const tests = SERVICE_TESTS.map((t) => ({ name: t, file: join(repoRoot, "generated", "nixos", "tests", `${t}.nix`), missing: missingPackages(join(repoRoot, "generated", "tests", `${t}.nix`)) }));
  // The redis test with r1's readiness check made to fail (as a server that never answers):
  // the tier must fail it, quickly, with the journal (the tier's own can-it-fail check).
  const BROKEN = "redis, r1 never ready";
  const redisTest = join(repoRoot, "generated", "nixos", "tests", "redis.nix");
  const brokenModules = `[ ${nixPath(redisTest)} ({ lib, ... }: { systemd.services.services-ts-r1.serviceConfig.ExecStartPost = lib.mkForce [ "/bin/false" ]; }) ]`;
  const brokenRunnable = SERVICE_TESTS.includes("redis") && missingPackages(join(repoRoot, "generated", "tests", "redis.nix")).length === 0;
  // The redis test with r1's dataDir absolute, in a directory that does not exist yet, under a host folder
  // bound into the container (so the reboot keeps it).
  const ABSOLUTE = "redis, r1's dataDir absolute and missing";
  const absoluteDir = "/srv/services-ts-abs";
  const absoluteModules = `[ ${nixPath(redisTest)} { services-ts.redis.r1.dataDir = "${absoluteDir}/nested/r1"; } ]`;
  // One evaluation for all of them; one build for all their units. In beforeAll, not here:
  // vitest runs a skipped suite's body too (to list its tests), and where Nix, the seeded
  // sources, root or systemd-nspawn are missing the tier must be skipped, not fail evaluating.
  let drvs: Record<string, string> = {};
  const built = new Map<string, string>();
  const runnable = tests.filter((t) => t.missing.length === 0);
  beforeAll(async () => {
    drvs = (await nixEvalJsonRWAsync(
      `{ ${tests.map((t) => `${JSON.stringify(t.name)} = (import ${nixPath(evalNixos)} { modules = [ ${nixPath(t.file)} ]; }).unitsDrv;`).join(" ")}` +
        (brokenRunnable ? ` ${JSON.stringify(BROKEN)} = (import ${nixPath(evalNixos)} { modules = ${brokenModules}; }).unitsDrv;` : "") +
        (brokenRunnable ? ` ${JSON.stringify(ABSOLUTE)} = (import ${nixPath(evalNixos)} { modules = ${absoluteModules}; }).unitsDrv;` : "") +
        " }",
    )) as Record<string, string>;
    await buildDrvsAsync([...runnable.map((t) => drvs[t.name]!), ...(brokenRunnable ? [drvs[BROKEN]!, drvs[ABSOLUTE]!] : [])]);
    for (const t of runnable) built.set(t.name, buildDrv(drvs[t.name]!)); // built already: only its output path
  }, 600_000);

  it("systemd-analyze verify accepts every rendered unit", () => {
    expect(built.size).toBeGreaterThan(0);
    for (const [name, out] of built) {
      const dir = join(out, "system");
      const files = readdirSync(dir).filter((f) => f.endsWith(".service") || f.endsWith(".target"));
      expect(files.length, name).toBeGreaterThan(1);
      const r = verifyUnits(dir, files);
      expect(r.output.trim(), `${name}: systemd-analyze verify`).toBe("");
      expect(r.status, name).toBe(0);
    }
  });

  it.skipIf(!brokenRunnable)("a server whose readiness check never passes fails its test within seconds (not at the timeout), with the journal", async () => {
    const state = mkdtempSync(join(tmpdir(), "services-ts-systemd-broken-"));
    try {
      const c = await boot({ units: buildDrv(drvs[BROKEN]!), state });
      try {
        const r = await waitForUnit(c, "services-ts-test.service", 120);
        expect(r.state).not.toBe("active");
        expect(r.seconds).toBeLessThan(60);
        // Reported with what failed: the server's unit, its readiness step.
        expect(r.journal).toMatch(/services-ts-r1\.service/);
        expect(r.journal).toMatch(/failed/);
      } finally {
        await c.stop();
      }
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 300_000);

  it.skipIf(!brokenRunnable)("a server that exits while its readiness step polls fails its unit within seconds: the step sees $MAINPID gone", async () => {
    const state = mkdtempSync(join(tmpdir(), "services-ts-systemd-exits-"));
    try {
      // The redis test's units, with r1's server replaced by one that exits after a second, while its
      // readiness step polls (restarted up to 5 times). Without the $MAINPID check each start would poll 120 s.
      const c = await boot({ units: built.get("redis")!, state, dropIns: { "services-ts-r1.service": ["ExecStart=", 'ExecStart=/bin/sh -c "sleep 1; exit 1"'] } });
      try {
        const r = await waitForUnit(c, "services-ts-test.service", 120);
        expect(r.state).not.toBe("active");
        expect(r.seconds).toBeLessThan(30);
        expect(r.journal).toMatch(/services-ts: the server exited before it was ready/);
      } finally {
        await c.stop();
      }
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 300_000);

  it.skipIf(!brokenRunnable)("an absolute dataDir that does not exist yet: made at boot (tmpfiles), written by the server, kept across a reboot", async () => {
    // Before: systemd dropped `ReadWritePaths=-<dataDir>` (missing at namespace setup) and ProtectSystem=strict
    // made the start script's mkdir fail, so r1 never started.
    const state = mkdtempSync(join(tmpdir(), "services-ts-systemd-abs-"));
    const host = mkdtempSync(join(tmpdir(), "services-ts-systemd-abs-data-"));
    chmodSync(host, 0o755); // a folder others may pass through, as /srv is
    try {
      for (const run of [1, 2]) {
        const c = await boot({
          units: buildDrv(drvs[ABSOLUTE]!),
          state,
          binds: [{ host, container: absoluteDir }],
          dropIns: { "services-ts-test.service": [`Environment=SERVICES_TS_RUN=${run}`] },
        });
        try {
          const r = await waitForUnit(c, "services-ts-test.service", 240);
          expect({ state: r.state, result: r.result }, `boot ${run}: services-ts-test did not succeed\n${r.journal}`).toEqual({ state: "active", result: "success" });
        } finally {
          await c.stop();
        }
      }
      // The server's data is where dataDir says, not under the state directory.
      expect(readdirSync(join(host, "nested", "r1")).length).toBeGreaterThan(0);
      expect(existsSync(join(state, "data", "r1"))).toBe(false);
    } finally {
      rmSync(state, { recursive: true, force: true });
      rmSync(host, { recursive: true, force: true });
    }
  }, 600_000);

  // One container at a time: with several booting at once on this cgroup-v1 host, a unit once failed
  // to start with 219/CGROUP on a reboot (systemd could not set up its cgroup), in a CI run.
  for (const t of tests) {
    (t.missing.length > 0 ? it.skip : it)(`service test ${t.name}: passes under systemd, and again after a reboot on the same data`, async () => {
      const state = mkdtempSync(join(tmpdir(), `services-ts-systemd-${t.name}-`));
      try {
        for (const run of [1, 2]) {
          const c = await boot({
            units: built.get(t.name)!,
            state,
            dropIns: { "services-ts-test.service": [`Environment=SERVICES_TS_RUN=${run}`] },
          });
          try {
            const r = await waitForUnit(c, "services-ts-test.service", 240);
            console.log(`[systemd] ${t.name}, boot ${run}: services-ts-test ${r.state}/${r.result} after ${r.seconds.toFixed(1)} s`);
            expect({ state: r.state, result: r.result }, `boot ${run}: services-ts-test did not succeed\n${r.journal}`).toEqual({ state: "active", result: "success" });
          } finally {
            await c.stop();
          }
        }
      } finally {
        rmSync(state, { recursive: true, force: true });
      }
    }, 600_000);
  }
});
