/**
 * The systemd backend (compiler/backends/systemd/): how the process model lowers to
 * NixOS `systemd.services` units, pinned on small services written here. The
 * `[systemd]` tier (test/systemd.test.ts) boots what it emits for the real services.
 */
import { describe, expect, it } from "vitest";
import { lowerService, lowerTest } from "../compiler/lower";
import { systemd } from "../compiler/backends/systemd";
import { defineService, defineTest, eq, type Expr, optionRoot, process, projectPath, runtimePath, s, script, sh, type ShellCode, t } from "../dsl";
import { printNix } from "../nix/print";

const cmd = (text: Expr<ShellCode>) => script({ name: "x", text });
const compile = (svc: Parameters<typeof lowerService>[0]) => printNix(lowerService(svc, { backend: systemd }).module);

const server = defineService({
  name: "demo",
  description: "a demo server",
  options: { port: t.port({ default: 7000, description: "TCP port." }) },
  processes: ({ name, cfg }) => {
    const init = process(s`${name}-init`, { command: cmd(sh`mkdir -p ${runtimePath(cfg.dataDir)}`), oneshot: true });
    const main = process(name, {
      command: cmd(sh`exec demo --port ${cfg.port}`),
      dependsOn: [{ process: init, condition: "succeeded" }],
      readiness: { exec: sh`demo-ping ${cfg.port}`, withinSeconds: 2, failureThreshold: 5 },
      restart: { policy: "on-failure", maxRestarts: 3, backoffSeconds: 2 },
      stop: { signal: "SIGINT", timeoutSeconds: 20 },
      environment: { DEMO_MODE: "dev" },
    });
    const report = process(s`${name}-report`, {
      command: cmd(sh`echo finished`),
      oneshot: true,
      dependsOn: [{ process: main, condition: "ready" }, { process: init, condition: "completed" }],
      processCompose: { disabled: true },
    });
    return [init, main, report];
  },
});

describe("systemd backend: the process model as units", () => {
  const out = compile(server);

  it("puts instances under services-ts.<service> (NixOS's services.* is its own) and turns units with servicesTs.systemdUnit", () => {
    expect(out).toContain("options.services-ts.demo = lib.mkOption {");
    expect(out).toMatch(/systemd\.services =\s*lib\.mkMerge[\s\S]*lib\.mapAttrs' config\.servicesTs\.systemdUnit instance\.outputs\.units/);
    expect(out).toContain('"services-ts.demo.\\"${name}\\"');
    expect(out).not.toContain("settings.processes");
  });

  it("a one-shot step is Type=oneshot with RemainAfterExit and no start timeout; a server is Type=exec", () => {
    expect(out).toMatch(/"\$\{name\}-init" = \{[\s\S]*?Type = "oneshot";\s*RemainAfterExit = true;\s*TimeoutStartSec = "infinity";/);
    expect(out).toMatch(/\$\{name\} = \{[\s\S]*?Type = "exec";/);
  });

  it("succeeded and ready become Requires + After; completed becomes Wants + After", () => {
    expect(out).toMatch(/\$\{name\} = \{[\s\S]*?requires = \[ "services-ts-\$\{name\}-init\.service" \];\s*wants = \[ \];\s*after = \[ "services-ts-\$\{name\}-init\.service" \];/);
    expect(out).toMatch(
      /requires = \[ "services-ts-\$\{name\}\.service" \];\s*wants = \[ "services-ts-\$\{name\}-init\.service" \];\s*after = \[\s*"services-ts-\$\{name\}\.service"\s*"services-ts-\$\{name\}-init\.service"\s*\];/,
    );
  });

  it("readiness is an ExecStartPost polling the same check, bounded by what process-compose allows (5 × (2 + 1) s)", () => {
    expect(out).toMatch(/pkgs\.writeShellScript "services-ts-ready"/);
    expect(out).toMatch(/\+%s\) \+ 15 \)\)/);
    expect(out).toMatch(/until \{ (demo-ping \$\{toString config\.port\}|\$\{readinessCheck\}); \} >\/dev\/null 2>&1; do/);
    expect(out).toContain("TimeoutStartSec = 25;");
  });

  it("restart, stop and environment map to Restart/RestartSec/StartLimitBurst, KillSignal/TimeoutStopSec and environment", () => {
    expect(out).toContain('Restart = "on-failure";');
    expect(out).toContain("RestartSec = 2;");
    expect(out).toMatch(/unitConfig = \{ StartLimitIntervalSec = "infinity"; StartLimitBurst = 4; \};/);
    expect(out).toContain('KillSignal = "SIGINT";');
    expect(out).toContain("TimeoutStopSec = 20;");
    expect(out).toMatch(/environment = \{ DEMO_MODE = "dev"; \};/);
  });

  it("a process process-compose starts disabled is left out of services-ts.target", () => {
    expect(out).toMatch(/"\$\{name\}-report" = \{\s*wantedBy = lib\.optional false "services-ts\.target";/);
  });

  it("an absolute dataDir is made writable under ProtectSystem=strict", () => {
    expect(out).toMatch(/writableDataDir = lib\.optional \(lib\.hasPrefix "\/" config\.dataDir\) "-\$\{config\.dataDir\}";/);
  });

  it("a service test becomes NixOS configuration: instances under services-ts, its test a oneshot unit", () => {
    const test = defineTest({
      name: "demo",
      services: { demo: server },
      instances: { demo: { d1: { port: 7100 } } },
      test: ({ cfg }) => ({ text: sh`demo-ping ${cfg.demo.d1.port}`, dependsOn: [{ process: "d1", condition: "ready" }] }),
    });
    const nix = printNix(lowerTest(test, { backend: systemd }));
    expect(nix).toMatch(/services-ts\.demo\.d1 = \{[\s\S]*?port = 7100;/);
    expect(nix).toMatch(/servicesTs\.testUnits\.test = \{[\s\S]*?Type = "oneshot";/);
    expect(nix).toContain('requires = [ "services-ts-d1.service" ];');
    expect(nix).toContain("demo-ping ${toString config.services-ts.demo.d1.port}");
  });
});

describe("systemd backend: names", () => {
  it("refuses a service named like the backend's own options (services-ts.user)", () => {
    const svc = defineService({ name: "user", description: "x", options: {}, processes: ({ name }) => [process(name, { command: cmd(sh`true`) })] });
    expect(() => lowerService(svc, { backend: systemd })).toThrow(/systemd-backend\.test\.ts:\d+:\d+: service name "user" is taken: services-ts\.user is an option of the systemd backend/);
    expect(() => lowerService(svc)).not.toThrow();
  });
});

describe("projectPath: a project file named relative to each emitted file", () => {
  const test = defineTest({
    name: "demo",
    services: { demo: server },
    instances: { demo: { d1: { port: 7100 } } },
    test: () => ({ text: sh`test -s ${projectPath("test/fixtures/schema.sql")}`, dependsOn: [{ process: "d1", condition: "ready" }] }),
  });

  it("is ../.. from generated/tests/ and ../../.. from generated/nixos/tests/", () => {
    expect(printNix(lowerTest(test))).toMatch(/projectRoot = \.\.\/\.\.;[\s\S]*projectRoot \+ "\/test\/fixtures\/schema\.sql"/);
    expect(printNix(lowerTest(test, { backend: systemd }))).toMatch(/projectRoot = \.\.\/\.\.\/\.\.;[\s\S]*projectRoot \+ "\/test\/fixtures\/schema\.sql"/);
  });

  it("refuses a path that is absolute or climbs out of the project", () => {
    for (const bad of ["/etc/passwd", "../secret", "test/../../x", "", "test//x"]) expect(() => projectPath(bad), bad).toThrow(/give a path from the project root/);
  });
});

describe("optionRoot: messages name the instance where the user configures it", () => {
  const svc = defineService({
    name: "demo2",
    description: "x",
    options: { port: t.port({ default: 7000, description: "TCP port." }) },
    assertions: ({ cfg, name }) => [{ assertion: eq(cfg.port, 7000), message: s`see ${optionRoot}.demo2."${name}".port` }],
    processes: ({ name }) => [process(name, { command: cmd(sh`true`) })],
  });

  it("is services under process-compose and services-ts on NixOS", () => {
    expect(printNix(lowerService(svc).module)).toContain('optionRoot = "services";');
    expect(printNix(lowerService(svc, { backend: systemd }).module)).toContain('optionRoot = "services-ts";');
    expect(printNix(lowerService(svc, { backend: systemd }).module)).toContain('see ${optionRoot}.demo2.\\"${name}\\".port');
  });
});
