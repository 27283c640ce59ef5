/**
 * Test-side access to the real Nix binaries (Debian's `nix-bin`).
 *
 * Every helper runs Nix in single-user local mode (`NIX_REMOTE=local`) and
 * never reaches the network. Tiers check {@link nixAvailable} and are skipped by
 * name when it is false; they never pass silently without Nix.
 */
import { execFileSync, spawnSync } from "node:child_process";

/** Environment for every Nix invocation: local store, no substituters. */
export const nixEnv: NodeJS.ProcessEnv = {
  ...process.env,
  NIX_REMOTE: "local",
  NIX_CONFIG: ["substituters =", "experimental-features = nix-command flakes"].join("\n"),
};

let cached: boolean | undefined;
/** True when `nix-instantiate` runs on this machine. */
export function nixAvailable(): boolean {
  if (cached === undefined) {
    const r = spawnSync("nix-instantiate", ["--version"], { env: nixEnv, encoding: "utf8" });
    cached = r.status === 0;
  }
  return cached;
}

/**
 * Evaluates a Nix expression strictly and returns its JSON value.
 * @throws Error carrying Nix's stderr when evaluation fails.
 */
export function nixEvalJson(expr: string, opts: { cwd?: string } = {}): unknown {
  const r = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "--expr", expr], {
    env: nixEnv,
    encoding: "utf8",
    cwd: opts.cwd,
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`nix-instantiate --eval failed:\n${r.stderr}`);
  return JSON.parse(r.stdout);
}

/**
 * Parses a Nix file with the real Nix parser.
 * @throws Error carrying Nix's stderr on a parse error.
 */
export function nixParseFile(file: string): void {
  execFileSync("nix-instantiate", ["--parse", file], { env: nixEnv, stdio: ["ignore", "ignore", "pipe"] });
}
