/**
 * Scratch projects for the tests of `pnpm build-modules` itself (test/build-fast.test.ts,
 * test/build-server.test.ts): a checkout with memcached and its test, whose builds run the
 * real launcher.
 */
import { cpSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./nix";

/**
 * Makes `dir`: `modules/` with memcached and its test and `tsconfig.json` copied, `dsl/`
 * copied (so that a test may break it), `nix/`, `compiler/` and `node_modules/` linked to
 * this checkout's.
 * @returns `dir`.
 */
export function memcachedProject(dir: string): string {
  mkdirSync(join(dir, "modules"), { recursive: true });
  for (const d of ["nix", "compiler", "node_modules"]) symlinkSync(join(repoRoot, d), join(dir, d));
  cpSync(join(repoRoot, "dsl"), join(dir, "dsl"), { recursive: true });
  for (const f of ["tsconfig.json", "modules/memcached.ts", "modules/memcached.test.ts"]) cpSync(join(repoRoot, f), join(dir, f));
  return dir;
}
