/**
 * `pnpm build-modules --watch`: after the first build, a change to a module rebuilds
 * generated/ (in a fresh process, so the change is seen), a failing rebuild is
 * reported with its file:line and watching goes on, and Ctrl-C (SIGINT) exits cleanly.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = join(__dirname, "..");
const TIMEOUT_MS = 30_000;

/** Polls `cond` every 100 ms until it holds; fails with `what` (and the watcher's output) after the timeout. */
async function waitFor(what: string, cond: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!cond()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${TIMEOUT_MS / 1000} s waiting for ${what}; watcher output:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const moduleSource = (port: number) => `import { defineService, t } from "../dsl";

export default defineService({
  name: "svc",
  description: "A service for the watch test.",
  options: {
    port: t.port({ default: ${port}, description: "The port." }),
  },
});
`;

describe("build-modules --watch", () => {
  const scratch = mkdtempSync(join(tmpdir(), "services-ts-watch-"));
  let child: ChildProcess | undefined;
  afterAll(() => {
    // Never leave a watcher behind, whatever failed.
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    rmSync(scratch, { recursive: true, force: true });
  });

  it("rebuilds generated/ when a module changes, survives a failing build, and stops on Ctrl-C", async () => {
    // A project with the real nix/, dsl/ and compiler/ and one module (as test/compiler.test.ts builds them).
    mkdirSync(join(scratch, "modules"), { recursive: true });
    for (const d of ["nix", "dsl", "compiler", "node_modules"]) symlinkSync(join(root, d), join(scratch, d));
    writeFileSync(join(scratch, "tsconfig.json"), readFileSync(join(root, "tsconfig.json")));
    const moduleFile = join(scratch, "modules", "svc.ts");
    const generated = join(scratch, "generated", "svc.nix");
    writeFileSync(moduleFile, moduleSource(1111));

    let output = "";
    const out = () => output;
    // Its own process group, so that afterAll can end the watcher and its builds together.
    child = spawn(
      join(root, "node_modules/.bin/tsx"),
      [join(root, "compiler/cli.ts"), "--watch", "--no-typecheck", "--root", scratch],
      {
        cwd: scratch,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      },
    );
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => child!.on("exit", (code) => r(code)));
    const portIs = (n: number) => () =>
      existsSync(generated) && readFileSync(generated, "utf8").includes(`default = ${n};`);

    await waitFor("the first build and the watch", () => output.includes("watching modules/, dsl/, nix/"), out);
    expect(portIs(1111)()).toBe(true);

    writeFileSync(moduleFile, moduleSource(2222));
    await waitFor("generated/svc.nix to have the new default", portIs(2222), out);
    await waitFor(
      "the rebuild's line",
      () => /^\[\d\d:\d\d:\d\d\] rebuilt in \d+ ms \(modules\/svc\.ts\)$/m.test(output),
      out,
    );

    writeFileSync(moduleFile, moduleSource(70000));
    await waitFor(
      "the error",
      () =>
        /^\[\d\d:\d\d:\d\d\] error: \S*modules\/svc\.ts:7:\d+: option port: default: expected a port number/m.test(
          output,
        ),
      out,
    );
    expect(child.exitCode).toBe(null); // still watching
    expect(portIs(2222)()).toBe(true); // generated/ left as it was

    writeFileSync(moduleFile, moduleSource(3333));
    await waitFor("generated/svc.nix after the fix", portIs(3333), out);

    // A module imported by another (a helper of modules/): the importer is rebuilt from the new one,
    // in this process (no fresh-process fallback: only modules/ changed).
    writeFileSync(join(scratch, "modules", "_shared.ts"), "export const DEFAULT_PORT = 4444;\n");
    writeFileSync(moduleFile, moduleSource(0).replace('import { defineService, t } from "../dsl";', 'import { defineService, t } from "../dsl";\nimport { DEFAULT_PORT } from "./_shared";').replace("default: 0,", "default: DEFAULT_PORT,"));
    await waitFor("generated/svc.nix from the helper's value", portIs(4444), out);
    writeFileSync(join(scratch, "modules", "_shared.ts"), "export const DEFAULT_PORT = 5555;\n");
    await waitFor("generated/svc.nix after the helper changed", portIs(5555), out);
    expect(output).not.toContain("fresh process");

    child.kill("SIGINT");
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("still running"), TIMEOUT_MS))]);
    expect(code, output).toBe(0);
  });

  it("type-checks each rebuild with the checker it keeps: an edit's type error is reported, its fix builds", async () => {
    const moduleFile = join(scratch, "modules", "svc.ts");
    const generated = join(scratch, "generated", "svc.nix");
    writeFileSync(moduleFile, moduleSource(1212));
    let output = "";
    const out = () => output;
    child = spawn(join(root, "node_modules/.bin/tsx"), [join(root, "compiler/cli.ts"), "--watch", "--root", scratch], {
      cwd: scratch,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => child!.on("exit", (code) => r(code)));
    const portIs = (n: number) => () => existsSync(generated) && readFileSync(generated, "utf8").includes(`default = ${n};`);
    await waitFor("the first build and the watch", () => output.includes("watching modules/"), out);
    expect(portIs(1212)()).toBe(true);

    writeFileSync(moduleFile, moduleSource(1313).replace('description: "The port."', 'description: "The port.", bogus: true'));
    await waitFor("the type error", () => /modules\/svc\.ts:7:\d+ - error TS2353: .*'bogus'/.test(output), out);
    expect(portIs(1212)()).toBe(true);

    writeFileSync(moduleFile, moduleSource(1414));
    await waitFor("generated/svc.nix after the fix", portIs(1414), out);
    child.kill("SIGINT");
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r("still running"), TIMEOUT_MS))]);
    expect(code, output).toBe(0);
  });
});
