/**
 * `pnpm build-modules [--check] [--no-typecheck]`
 *
 * Regenerates `generated/` from `modules/`. With `--check`, writes nothing and
 * exits 1 when `generated/` differs from what the compiler emits.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { DefinitionError } from "../dsl";
import { BuildError, compileAll, diffGenerated, findModules, findTests, typecheck, writeGenerated } from "./build";

const usage = `usage: pnpm build-modules [--check] [--no-typecheck] [--root DIR]

  --check         compare generated/ with the compiler's output; write nothing; exit 1 if they differ
  --no-typecheck  skip the TypeScript type check of modules/ (faster; the tests still run it)
  --root DIR      project directory holding modules/ and generated/ (default: this checkout)
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: { check: { type: "boolean", default: false }, "no-typecheck": { type: "boolean", default: false },
        root: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(usage);
    return 0;
  }
  const root = resolve(args.root ?? join(dirname(fileURLToPath(import.meta.url)), ".."));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const t0 = performance.now();
  try {
    const modules = [...(await findModules(root)), ...(await findTests(root))];
    if (!args["no-typecheck"]) {
      log(`type-checking ${modules.length} modules…`);
      await typecheck(root, modules);
    }
    log("lowering services…");
    const files = await compileAll(root, log);
    const ms = Math.round(performance.now() - t0);
    if (args.check) {
      const diff = await diffGenerated(root, files);
      if (diff.length > 0) {
        log(`generated/ is out of date (${diff.length} file${diff.length === 1 ? "" : "s"}):`);
        for (const d of diff) log(`  ${d}`);
        log("run `pnpm build-modules` and commit generated/");
        return 1;
      }
      log(`generated/ is up to date (${files.length} files, ${ms} ms)`);
      return 0;
    }
    await writeGenerated(root, files);
    log(`wrote ${files.length} files to generated/ (${ms} ms)`);
    return 0;
  } catch (e) {
    if (e instanceof DefinitionError || e instanceof BuildError) {
      log(`error: ${e.message}`);
      log("generated/ was not changed.");
      return 1;
    }
    throw e;
  }
}

process.exitCode = await main();
