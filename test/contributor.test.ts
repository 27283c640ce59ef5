/**
 * The contributor's inner loop, as CONTRIBUTING.md tells it: `pnpm new-service`
 * writes a service that builds, never overwrites, and `pnpm test:service` runs one
 * service's tests. Each command of the loop is run here for real.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = join(__dirname, "..");
const tsx = join(root, "node_modules", ".bin", "tsx");

describe("contributor loop", () => {
  const scratch = mkdtempSync(join(tmpdir(), "services-ts-contrib-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** A project with the real nix/, dsl/, compiler/, the real redis module and test/packages.json. */
  function project(): string {
    const dir = join(scratch, `p${Math.random().toString(36).slice(2, 8)}`);
    mkdirSync(join(dir, "modules"), { recursive: true });
    mkdirSync(join(dir, "test"));
    for (const d of ["nix", "dsl", "compiler", "node_modules"]) symlinkSync(join(root, d), join(dir, d));
    for (const f of ["tsconfig.json", "test/packages.json", "modules/redis.ts"]) cpSync(join(root, f), join(dir, f));
    return dir;
  }

  it("pnpm new-service writes a module, its test and its package entry that build; a rerun overwrites nothing", () => {
    const dir = project();
    const run = () =>
      spawnSync(tsx, [join(root, "compiler", "new-service.ts"), "kvstore", "--package", "kv-server", "--debian", "kv-debian", "--port", "7711", "--root", dir], {
        encoding: "utf8",
      });
    const first = run();
    expect(first.status, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain("created  modules/kvstore.ts");
    expect(first.stdout).toContain("created  modules/kvstore.test.ts");
    expect(first.stdout).toContain("pkgs.kv-server → Debian kv-debian");
    expect(first.stdout + first.stderr).toMatch(/wrote \d+ files to generated\//);
    expect(existsSync(join(dir, "generated", "kvstore.nix"))).toBe(true);
    expect(readFileSync(join(dir, "generated", "kvstore.nix"), "utf8")).toContain('lib.mkPackageOption pkgs "kv-server" { }');
    expect(readFileSync(join(dir, "generated", "tests", "kvstore.nix"), "utf8")).toContain('services.kvstore.kvstore1 = { enable = true; port = 27711; };');
    const packages = JSON.parse(readFileSync(join(dir, "test", "packages.json"), "utf8")) as { packages: Record<string, unknown> };
    expect(packages.packages["kv-server"]).toEqual({ debian: ["kv-debian"] });

    writeFileSync(join(dir, "modules", "kvstore.ts"), readFileSync(join(dir, "modules", "kvstore.ts"), "utf8") + "// edited\n");
    const again = run();
    expect(again.status, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain("kept     modules/kvstore.ts (exists; not overwritten)");
    expect(again.stdout).toContain("kept     test/packages.json (pkgs.kv-server)");
    expect(readFileSync(join(dir, "modules", "kvstore.ts"), "utf8")).toMatch(/\/\/ edited\n$/);
  }, 60_000);

  it("pnpm new-service refuses a name that is not a service name", () => {
    const r = spawnSync(tsx, [join(root, "compiler", "new-service.ts"), "Bad_Name", "--root", project(), "--no-build"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('service name "Bad_Name" must be lowercase letters, digits and dashes');
  });

  it("pnpm test:service runs one service's tests, whole-word (redis, not redis-cluster)", () => {
    const r = spawnSync(tsx, [join(root, "test", "tools", "test-service.ts"), "redis", "test/compiler.test.ts"], {
      encoding: "utf8",
      cwd: root,
      env: { ...process.env, CI: "true" },
    });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("redis.nix: header");
    expect(r.stdout).not.toMatch(/✓ .*redis-cluster\.nix: header/);
    expect(r.stdout).toMatch(/tests: [1-9]\d* passed, 0 failed, 0 skipped/);
  }, 120_000);
});
