/**
 * Command-line parsing shared by the project's commands (`build-modules`,
 * `new-service`, `docs:dsl`): node's `util.parseArgs` with `--help`/`-h` and
 * `--root DIR` added, usage on stderr and exit code 2 for bad arguments.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, type ParseArgsConfig } from "node:util";

/** The project root: `--root`, else the checkout this file is in. */
export const defaultRoot = (): string => resolve(join(dirname(fileURLToPath(import.meta.url)), ".."));

/**
 * Parses `argv` (default: this process's arguments).
 * @returns the values and positionals with `root` resolved, or the exit code to
 *   return: 0 after printing usage for `--help`, 2 after printing the error and usage.
 */
export function parseCli<O extends NonNullable<ParseArgsConfig["options"]>>(
  usage: string,
  options: O,
  opts: { positionals?: boolean; argv?: string[] } = {},
) {
  let parsed;
  try {
    parsed = parseArgs({
      args: opts.argv ?? process.argv.slice(2),
      allowPositionals: opts.positionals ?? false,
      strict: true,
      options: { ...options, root: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${usage}`);
    return 2 as const;
  }
  const values = parsed.values as Record<string, unknown>;
  if (values.help) {
    process.stdout.write(usage);
    return 0 as const;
  }
  const root = resolve((values.root as string | undefined) ?? defaultRoot());
  return { values: values as Values<O>, positionals: parsed.positionals, root };
}

/** The parsed values of `options`: booleans and strings, by option name. */
export type Values<O extends NonNullable<ParseArgsConfig["options"]>> = {
  readonly [K in keyof O]?: O[K]["type"] extends "boolean" ? boolean : string;
};
