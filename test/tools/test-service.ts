/**
 * `pnpm test:service <name>`: one service's tiers — its compile assertions, its
 * eval smoke test and its run-tier test — after the type check, with vitest's
 * name filter (matching `<name>` as a whole word, so `postgres` does not also
 * run `postgres-with-replica`).
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const name = process.argv[2];
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  process.stderr.write("usage: pnpm test:service <service>   (e.g. pnpm test:service redis)\n");
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = (b: string) => join(root, "node_modules", ".bin", b);
const tsc = spawnSync(bin("tsc"), ["--noEmit", "-p", root], { stdio: "inherit", cwd: root });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
const pattern = `(^|[^a-z0-9-])${name}($|[^a-z0-9-])`;
const r = spawnSync(bin("vitest"), ["run", "-t", pattern, ...process.argv.slice(3)], {
  stdio: "inherit",
  cwd: root,
  env: { ...process.env, SERVICES_TS_TEST_FILTER: pattern },
});
process.exit(r.status ?? 1);
