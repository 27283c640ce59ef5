/**
 * The build server of `pnpm build-modules` (compiler/server.ts, started and asked by
 * compiler/launch.mjs): after one build in a fresh process, builds after a change to
 * modules/ run in a process that keeps the compiler and the type checker loaded — and give
 * exactly what a fresh build gives: an edit reaches generated/ (and `--check` agrees), a
 * type error fails the build and writes nothing, a change to dsl/ sends the build back to
 * a fresh process (the server ends, and a new one starts), `--stop-server` ends it.
 * Each build here is the real launcher in a fresh Node, on a scratch project, with
 * SERVICES_TS_BUILD_SERVER=1 (by default a server starts only from a terminal).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { memcachedProject } from "./support/scratch";
import { serverAlive } from "../compiler/server";
import { buildServerSocket, typecheckBuildInfoFile, typecheckStampFile, upToDateStampFile } from "../compiler/stamp.mjs";

const root = join(__dirname, "..");
const SERVED = /\(built by the build server in (\d+) ms\)/;

describe("pnpm build-modules, build server", () => {
  const scratch = mkdtempSync(join(tmpdir(), "services-ts-server-"));
  const dir = memcachedProject(join(scratch, "p"));
  const socket = buildServerSocket(dir)!;

  const build = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(root, "compiler", "launch.mjs"), "--root", dir, ...args], {
      encoding: "utf8",
      env: { ...process.env, SERVICES_TS_BUILD_SERVER: "1" },
    });
    return { status: r.status, out: r.stdout + r.stderr };
  };
  const check = () => spawnSync(process.execPath, ["--import", "tsx", join(root, "compiler", "cli.ts"), "--root", dir, "--check"], { encoding: "utf8" });
  const edit = (file: string, from: string, to: string) => {
    const text = readFileSync(file, "utf8");
    expect(text).toContain(from);
    writeFileSync(file, text.replace(from, to));
  };
  /** Waits until a server answers on the socket (it warms up first: loads the modules, parses the checker's files). */
  const serverUp = async () => {
    for (let i = 0; i < 600; i++) {
      if (await serverAlive(socket)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };

  afterAll(() => {
    build("--stop-server");
    for (const f of [typecheckBuildInfoFile(dir), typecheckStampFile(dir), upToDateStampFile(dir), socket]) rmSync(f, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it("serves builds after a change to modules/, exactly; a type error fails; dsl/ sends the build to a fresh process; --stop-server ends it", async () => {
    expect(socket, "the socket path fits a Unix socket address").toBeDefined();
    const mod = join(dir, "modules", "memcached.ts");
    const nix = join(dir, "generated", "memcached.nix");

    let r = build();
    expect(r.status, r.out).toBe(0);
    expect(r.out).not.toMatch(SERVED);
    expect(r.out).toMatch(/started a build server/);
    expect(await serverUp()).toBe(true);

    // A one-file change: built by the server, and what it wrote is what a fresh --check computes.
    edit(mod, "default: 11211", "default: 11311");
    r = build();
    expect(r.status, r.out).toBe(0);
    const served = SERVED.exec(r.out);
    expect(served, r.out).not.toBeNull();
    console.log(`[build server] one-module change built in ${served![1]} ms (inside the server; the launcher's own start comes on top)`);
    expect(readFileSync(nix, "utf8")).toContain("default = 11311;");
    const c = check();
    expect(c.status, c.stdout + c.stderr).toBe(0);

    // A type error in the module: the served build fails with TypeScript's diagnostic and writes nothing.
    const good = readFileSync(nix, "utf8");
    edit(mod, "default: 11311", "default: 11411 as unknown as string");
    r = build();
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(SERVED);
    expect(r.out).toMatch(/modules\/memcached\.ts:\d+:\d+ - error TS2322/);
    expect(readFileSync(nix, "utf8")).toBe(good);
    edit(mod, "default: 11411 as unknown as string", "default: 11511");
    r = build();
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(SERVED);
    expect(readFileSync(nix, "utf8")).toContain("default = 11511;");

    // A helper in modules/ that the module imports: the server loads afresh what changed and what
    // imports it (each file is imported under a hash of its text and its imports), nothing stale.
    const helper = join(dir, "modules", "_port.ts");
    writeFileSync(helper, "export const PORT = 11611;\n");
    edit(mod, "default: 11511", "default: PORT");
    writeFileSync(mod, `import { PORT } from "./_port";\n${readFileSync(mod, "utf8")}`);
    r = build();
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(SERVED);
    expect(readFileSync(nix, "utf8")).toContain("default = 11611;");
    writeFileSync(helper, "export const PORT = 11711;\n");
    r = build();
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(SERVED);
    expect(readFileSync(nix, "utf8")).toContain("default = 11711;");
    writeFileSync(helper, "export const PORT = 11511;\n");
    expect(build().status).toBe(0);

    // dsl/ changed: the server holds the old DSL, so it ends and the build runs in a fresh process,
    // which sees the change (here a type error) — then a new server starts after a good build.
    const types = join(dir, "dsl", "types.ts");
    const dslText = readFileSync(types, "utf8");
    writeFileSync(types, `${dslText}\nexport const broken: number = "not a number";\n`);
    r = build();
    expect(r.status, r.out).toBe(1);
    expect(r.out).toMatch(/build server: dsl\/, compiler\/, nix\/ or a project file changed/);
    expect(r.out).not.toMatch(SERVED);
    expect(r.out).toMatch(/dsl\/types\.ts:\d+:\d+ - error TS2322/);
    writeFileSync(types, dslText);
    r = build();
    expect(r.status, r.out).toBe(0);
    expect(await serverUp()).toBe(true);

    // SERVICES_TS_BUILD_SERVER=0: neither used nor started.
    writeFileSync(helper, "export const PORT = 11211;\n");
    const off = spawnSync(process.execPath, [join(root, "compiler", "launch.mjs"), "--root", dir], {
      encoding: "utf8",
      env: { ...process.env, SERVICES_TS_BUILD_SERVER: "0" },
    });
    expect(off.status, off.stderr).toBe(0);
    expect(off.stderr).not.toMatch(SERVED);
    expect(off.stderr).not.toMatch(/started a build server/);

    r = build("--stop-server");
    expect(r.out).toMatch(/the build server has ended/);
    expect(existsSync(socket)).toBe(false);
    expect(await serverAlive(socket)).toBe(false);
  }, 300_000);

  it("a stuck server is ended and the build runs in a fresh process", async () => {
    // Something to build (a build with nothing to do ends before starting a server).
    writeFileSync(join(dir, "modules", "_port.ts"), "export const PORT = 11211;\n// changed\n");
    let r = build();
    expect(r.status, r.out).toBe(0);
    expect(await serverUp()).toBe(true);
    const pid = Number(readFileSync(`${socket}.pid`, "utf8"));
    process.kill(pid, "SIGSTOP"); // listening, never answering
    try {
      edit(join(dir, "modules", "_port.ts"), "11211", "11811");
      const stuck = spawnSync(process.execPath, [join(root, "compiler", "launch.mjs"), "--root", dir], {
        encoding: "utf8",
        env: { ...process.env, SERVICES_TS_BUILD_SERVER: "0", SERVICES_TS_BUILD_SERVER_SILENCE: "3" },
      });
      // =0 does not even ask it; with the server allowed, the silence ends it.
      expect(stuck.stderr).not.toMatch(/no answer/);
      edit(join(dir, "modules", "_port.ts"), "11811", "11911");
      const t0 = Date.now();
      const asked = spawnSync(process.execPath, [join(root, "compiler", "launch.mjs"), "--root", dir], {
        encoding: "utf8",
        env: { ...process.env, SERVICES_TS_BUILD_SERVER: "1", SERVICES_TS_BUILD_SERVER_SILENCE: "3" },
      });
      expect(asked.status, asked.stderr).toBe(0);
      expect(asked.stderr).toMatch(/build server: no answer for 3 s: ending it, building in a fresh process/);
      expect(asked.stderr).not.toMatch(SERVED);
      expect(readFileSync(join(dir, "generated", "memcached.nix"), "utf8")).toContain("default = 11911;");
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(() => process.kill(pid, 0)).toThrow(); // killed
    } finally {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already ended.
      }
    }
    // The fresh build started a new server, on the socket the stuck one left.
    expect(await serverUp()).toBe(true);
    r = build("--stop-server");
    expect(r.out).toMatch(/the build server has ended/);
  }, 300_000);
});
