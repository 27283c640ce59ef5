/**
 * Compiler tier: snapshots of every emitted file, the committed generated/ is
 * current, and invalid definitions fail with their source location and write nothing.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compileAll, diffGenerated, typecheck } from "../compiler/build";
import { DefinitionError } from "../dsl";

const root = join(__dirname, "..");

describe("compiler output", async () => {
  const files = await compileAll(root);

  it("emits a module and docs page per service, the aggregate files, and the service tests", () => {
    const services = readdirSync(join(root, "modules"))
      .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
      .map((f) => f.replace(/\.ts$/, ""));
    const tests = readdirSync(join(root, "modules"))
      .filter((f) => f.endsWith(".test.ts"))
      .map((f) => f.replace(/\.test\.ts$/, ""));
    expect(services).toEqual(expect.arrayContaining(["postgres", "redis"]));
    expect(files.map((f) => f.path).sort()).toEqual(
      [
        "default.nix",
        "flake-module.nix",
        "modules.nix",
        ...services.flatMap((n) => [`${n}.nix`, `docs/${n}.md`]),
        ...tests.map((n) => `tests/${n}.nix`),
      ].sort(),
    );
  });

  for (const f of files) {
    it(`snapshot: ${f.path}`, () => {
      expect(f.content).toMatchSnapshot();
    });
  }

  it("is deterministic", async () => {
    const again = await compileAll(root);
    expect(again).toEqual(files);
  });

  it("matches the committed generated/ (pnpm build-modules --check)", async () => {
    expect(await diffGenerated(root, files)).toEqual([]);
  });

  it("keeps services-flake's process names", () => {
    const pg = files.find((f) => f.path === "postgres.nix")!.content;
    expect(pg).toMatch(/^ *"\$\{name\}-init" = \{$/m);
    expect(pg).toMatch(/^ *\$\{name\} = \{$/m);
    expect(pg).toMatch(/depends_on\s*=\s*\{\s*"\$\{name\}-init"\.condition = "process_completed_successfully";/);
  });
});

describe("invalid definitions", () => {
  const scratch = mkdtempSync(join(tmpdir(), "services-ts-bad-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** A project root with the real dsl/ and compiler/ and one module file. */
  function project(name: string, file: string, source: string): string {
    const dir = join(scratch, name);
    mkdirSync(join(dir, "modules"), { recursive: true });
    for (const d of ["nix", "dsl", "compiler", "node_modules"]) symlinkSync(join(root, d), join(dir, d));
    writeFileSync(join(dir, "tsconfig.json"), readFileSync(join(root, "tsconfig.json")));
    writeFileSync(join(dir, "modules", file), source);
    return dir;
  }

  const header = `import { defineService, process, s, script, sh, t } from "../dsl";\n`;

  it("reports a default of the wrong type at the option's line", async () => {
    const dir = project(
      "bad-default",
      "svc.ts",
      header +
        `export default defineService({
  name: "svc",
  description: "x",
  options: {
    port: t.port({ default: 70000 }),
  },
});
`,
    );
    const err = await compileAll(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DefinitionError);
    expect((err as Error).message).toMatch(/modules\/svc\.ts:6:\d+: option port: default: expected a port number \(0-65535\), got 70000/);
  });

  it("rejects an option that shadows a built-in one", async () => {
    const dir = project(
      "reserved",
      "svc.ts",
      header + `export default defineService({\n  name: "svc",\n  description: "x",\n  options: { enable: t.bool({ default: true }) },\n});\n`,
    );
    await expect(compileAll(dir)).rejects.toThrow(/modules\/svc\.ts:5:\d+: option name "enable" is reserved/);
  });

  it("rejects a service whose name does not match its file", async () => {
    const dir = project("name", "svc.ts", header + `export default defineService({ name: "other", description: "x", options: {} });\n`);
    await expect(compileAll(dir)).rejects.toThrow(/modules\/svc\.ts:2:\d+: service name "other" must match its file name/);
  });

  it("rejects a process declared twice", async () => {
    const dir = project(
      "dup",
      "svc.ts",
      header +
        `export default defineService({
  name: "svc",
  description: "x",
  options: {},
  processes: ({ name }) => [
    process(name, { command: "true" }),
    process(name, { command: "false" }),
  ],
});
`,
    );
    await expect(compileAll(dir)).rejects.toThrow(/modules\/svc\.ts:8:\d+: process "\$\{name\}" is declared twice/);
  });

  it("reports type errors in a module with file and line", async () => {
    const dir = project(
      "types",
      "svc.ts",
      header +
        `export default defineService({
  name: "svc",
  description: "x",
  options: { port: t.port({ default: 1 }) },
  processes: ({ name, cfg }) => [process(name, { command: script({ name: "x", text: sh\`echo \${cfg.nope}\` }) })],
});
`,
    );
    await expect(typecheck(dir, [join(dir, "modules", "svc.ts")])).rejects.toThrow(/svc\.ts:6:\d+[\s\S]*Property 'nope' does not exist/);
  });

  it("the README's example service and its test type-check and compile", async () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    const [example, exampleTest] = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(example).toContain("defineService");
    expect(exampleTest).toContain("defineTest");
    const dir = project("readme", "memcached.ts", example!);
    writeFileSync(join(dir, "modules", "memcached.test.ts"), exampleTest!);
    await typecheck(dir, [join(dir, "modules", "memcached.ts"), join(dir, "modules", "memcached.test.ts")]);
    const files = await compileAll(dir);
    expect(files.find((f) => f.path === "tests/memcached.nix")!.content).toContain("services.memcached.m1 = { enable = true; port = 11311; };");
    const nix = files.find((f) => f.path === "memcached.nix")!.content;
    expect(nix).toContain('lib.mkPackageOption pkgs "memcached" { }');
    expect(nix).toMatch(/exec memcached --port \$\{toString config\.port\} \$\{lib\.escapeShellArgs\s+config\.extraArgs\}/);
  });

  it("reports an error thrown by module code at the module's line", async () => {
    const dir = project(
      "throws",
      "svc.ts",
      header +
        `export default defineService({
  name: "svc",
  description: "x",
  options: {},
  processes: ({ name }) => [process(name, { command: script({ name: "x", text: sh\`echo \${{} as never}\` }) })],
});
`,
    );
    await expect(compileAll(dir)).rejects.toThrow(/modules\/svc\.ts:6:\d+: processes: sh``: cannot interpolate object/);
  });

  it("rejects a helper whose body uses instance values", async () => {
    const dir = project(
      "helper",
      "svc.ts",
      `import { defineService, helper, process, s, t } from "../dsl";
export default defineService({
  name: "svc",
  description: "x",
  options: { port: t.port({ default: 1 }) },
  processes: ({ name, cfg }) => {
    const withPort = helper("withPort", "x", (x) => s\`\${x as never}:\${cfg.port}\`);
    return [process(name, { command: withPort("echo") })];
  },
});
`,
    );
    await expect(compileAll(dir)).rejects.toThrow(/modules\/svc\.ts:7:\d+: helper "withPort" uses "config": a helper may use only its argument/);
  });

  it("build-modules fails with the location and leaves generated/ untouched", () => {
    const dir = project(
      "cli",
      "svc.ts",
      header + `export default defineService({\n  name: "svc",\n  description: "x",\n  options: { n: t.int({ default: "seven" as never }) },\n});\n`,
    );
    mkdirSync(join(dir, "generated"));
    writeFileSync(join(dir, "generated", "keep.nix"), "{ }\n");
    const r = spawnSync(join(root, "node_modules/.bin/tsx"), [join(root, "compiler/cli.ts"), "--root", dir, "--no-typecheck"], {
      encoding: "utf8",
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: \S*modules\/svc\.ts:5:\d+: option n: default: expected an integer, got string/);
    expect(r.stderr).toContain("generated/ was not changed");
    expect(readFileSync(join(dir, "generated", "keep.nix"), "utf8")).toBe("{ }\n");
  });
});
