/**
 * The one-shot `pnpm build-modules` fast path (compiler/launch.mjs, compiler/stamp.mjs): a build
 * with nothing changed ends at once, and every shortcut stays exact — an edited module is
 * rebuilt, a type error in a module or in dsl/ still fails the build, and a skipped type
 * check runs again when anything it read (or anything that steers it) changes.
 * Each build here is the real launcher in a fresh Node, on a scratch project.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { memcachedProject } from "./support/scratch";
import { typecheckBuildInfoFile, typecheckStampFile, upToDateStampFile } from "../compiler/stamp.mjs";

const root = join(__dirname, "..");

describe("pnpm build-modules, one-shot fast path", () => {
  const scratch = mkdtempSync(join(tmpdir(), "services-ts-fast-"));
  const projects: string[] = [];
  afterAll(() => {
    // The records live in the shared node_modules/.cache (one file per checkout): remove these checkouts'.
    for (const p of projects) for (const f of [typecheckBuildInfoFile(p), typecheckStampFile(p), upToDateStampFile(p)]) rmSync(f, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  /** A project with memcached and its test; dsl/ copied (so a test may break it), the rest linked. */
  function project(name: string): string {
    const dir = memcachedProject(join(scratch, name));
    projects.push(dir);
    return dir;
  }
  const build = (dir: string, ...args: string[]) => {
    const r = spawnSync(process.execPath, [join(root, "compiler", "launch.mjs"), "--root", dir, ...args], { encoding: "utf8" });
    return { status: r.status, out: r.stdout + r.stderr };
  };
  const edit = (file: string, from: string | RegExp, to: string) => {
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(from);
    writeFileSync(file, text.replace(from, to));
  };
  const UP_TO_DATE = /generated\/ is up to date: nothing it is built from changed since the last build/;

  it("ends at once when nothing changed; rebuilds an edited module, a touched generated/ file, a changed project file", () => {
    const dir = project("rebuild");
    const mod = join(dir, "modules", "memcached.ts");
    const nix = join(dir, "generated", "memcached.nix");
    let r = build(dir, "--no-typecheck");
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/wrote \d+ files to generated\//);
    r = build(dir, "--no-typecheck");
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(UP_TO_DATE);
    // A build with the type check is not one without it.
    edit(mod, "default: 11211", "default: 11311");
    r = build(dir, "--no-typecheck");
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/wrote [1-9]\d* files to generated\//);
    expect(readFileSync(nix, "utf8")).toContain("default = 11311;");
    // Back to the first text: the build cache answers, and generated/ follows.
    edit(mod, "default: 11311", "default: 11211");
    r = build(dir, "--no-typecheck");
    expect(r.out).not.toMatch(UP_TO_DATE);
    expect(readFileSync(nix, "utf8")).toContain("default = 11211;");
    // generated/ edited by hand: rewritten.
    writeFileSync(nix, "{ }\n");
    r = build(dir, "--no-typecheck");
    expect(r.out).toMatch(/wrote 1 files to generated\//);
    expect(readFileSync(nix, "utf8")).toContain("default = 11211;");
    // A project file the build reads (the package names "did you mean" knows).
    mkdirSync(join(dir, "test"), { recursive: true });
    writeFileSync(join(dir, "test", "packages.json"), JSON.stringify({ packages: { memcached: { debian: ["memcached"] } } }));
    r = build(dir, "--no-typecheck");
    expect(r.status, r.out).toBe(0);
    expect(r.out).not.toMatch(UP_TO_DATE);
    expect(build(dir, "--no-typecheck").out).toMatch(UP_TO_DATE);
  }, 120_000);

  it("a type error in a module, then in dsl/, fails a build after a successful one; the skipped check re-runs when tsconfig.json or the folders change", () => {
    const dir = project("typecheck");
    const mod = join(dir, "modules", "memcached.ts");
    const nix = join(dir, "generated", "memcached.nix");
    // An unused local: no error under the project's tsconfig.json (see the end).
    edit(mod, /^export default/m, "const unused = 1;\nexport default");
    let r = build(dir);
    expect(r.status, r.out).toBe(0);
    expect(build(dir).out).toMatch(UP_TO_DATE);
    const good = readFileSync(nix, "utf8");

    // A module: a type error (no lowering error: the value is fine at run time).
    edit(mod, "default: 11211", "default: 11211 as unknown as string");
    r = build(dir);
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/modules\/memcached\.ts:\d+:\d+ - error TS2322/);
    expect(r.out).toContain("generated/ was not changed.");
    edit(mod, "default: 11211 as unknown as string", "default: 11211");
    r = build(dir);
    expect(r.status, r.out).toBe(0);
    expect(readFileSync(nix, "utf8")).toBe(good);

    // dsl/: a type error in a file every module imports.
    const types = join(dir, "dsl", "types.ts");
    const dslText = readFileSync(types, "utf8");
    writeFileSync(types, `${dslText}\nexport const broken: number = "not a number";\n`);
    r = build(dir);
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/dsl\/types\.ts:\d+:\d+ - error TS2322/);
    writeFileSync(types, dslText);
    expect(build(dir).status).toBe(0);

    // Unchanged sources, a stricter tsconfig.json: the check runs again and finds the unused local.
    expect(build(dir).out).toMatch(UP_TO_DATE);
    const tsconfig = join(dir, "tsconfig.json");
    edit(tsconfig, '"strict": true,', '"strict": true,\n    "noUnusedLocals": true,');
    r = build(dir);
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/modules\/memcached\.ts:\d+:\d+ - error TS6133: 'unused'/);
    edit(tsconfig, '"strict": true,\n    "noUnusedLocals": true,', '"strict": true,');
    expect(build(dir).status).toBe(0);

    // A new file where an import would now resolve (../dsl finds dsl.ts before dsl/index.ts).
    writeFileSync(join(dir, "dsl.ts"), "export {};\n");
    r = build(dir);
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/error TS2305: Module '"\.\.\/dsl"' has no exported member/);
  }, 240_000);
});
