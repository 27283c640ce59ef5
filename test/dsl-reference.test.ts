/**
 * docs/dsl-reference.md is generated from the TSDoc of dsl/ (compiler/dsl-reference.ts)
 * and must be what the generator renders now; the check fails on any difference.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkDslReference,
  DSL_REFERENCE_COMMAND,
  DSL_REFERENCE_PATH,
  renderDslReference,
} from "../compiler/dsl-reference";

const root = join(__dirname, "..");

describe("DSL reference (docs/dsl-reference.md)", async () => {
  const rendered = await renderDslReference(root);

  it(`is what \`${DSL_REFERENCE_COMMAND}\` generates from dsl/ now`, () => {
    const path = join(root, DSL_REFERENCE_PATH);
    const committed = existsSync(path) ? readFileSync(path, "utf8") : undefined;
    if (committed !== rendered) {
      expect.fail(
        `${DSL_REFERENCE_PATH} is ${committed === undefined ? "missing" : "out of date"}; run ${DSL_REFERENCE_COMMAND} and commit it`,
      );
    }
  });

  it("documents the language's entry points, the members of t included", () => {
    for (const name of [
      "defineService",
      "definePart",
      "process",
      "sh",
      "mapList",
      "orElse",
      "nonEmpty",
      "nix",
      "runtimePath",
      "t.port",
      "defineTest",
    ]) {
      expect(rendered, name).toContain(`\n### \`${name}\`\n`);
    }
    const section = (name: string) => rendered.slice(rendered.indexOf(`### \`${name}\``)).split(/\n### /)[0]!;
    expect(section("t.port")).toContain("t.port(meta?: OptionMeta<number>): OptionType<number>");
    expect(section("t.port")).toContain("a TCP/UDP port number");
    expect(section("defineService")).toMatch(
      /\*function\*\n\n```ts\nfunction defineService<.*>\(def: ServiceDefinition<S, D, P>\): Service<.*>\n```/,
    );
    expect(section("orElse")).toContain("```ts\norElse(db.schemas, []) // Expr<NixPath[]>\n```");
    expect(section("instance")).toContain("- `service` — the service (default export of its module).");
    expect(section("ProcessSettings")).toMatch(/^- `readonly command: .*` — The program to run/m);
    // Grouped by file, in the order of the brief, with the file's own comment as the intro.
    const titles = [...rendered.matchAll(/^## (.*)$/gm)].map((m) => m[1]);
    expect(titles).toEqual([
      "Contents",
      "Expressions",
      "Option types",
      "Processes",
      "Services and parts",
      "Service tests",
      "Locations",
    ]);
    expect(rendered).toContain("Symbolic expressions: typed handles on Nix expressions.");
    // Only what dsl/index.ts exports: callSite is exported by dsl/location.ts, not by the index.
    expect(rendered).not.toContain("### `callSite`");
  });

  it("is deterministic", async () => {
    expect(await renderDslReference(root)).toBe(rendered);
    expect(rendered).not.toMatch(/\b20\d\d-\d\d-\d\d/);
  });

  describe("on a copy of the project", () => {
    const scratch = mkdtempSync(join(tmpdir(), "services-ts-dslref-"));
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));
    for (const d of ["nix", "node_modules"]) symlinkSync(join(root, d), join(scratch, d));
    cpSync(join(root, "dsl"), join(scratch, "dsl"), { recursive: true });
    writeFileSync(join(scratch, "tsconfig.json"), readFileSync(join(root, "tsconfig.json")));
    mkdirSync(join(scratch, "docs"));
    const docPath = join(scratch, DSL_REFERENCE_PATH);

    it("reports a modified page as out of date (the check can fail), by the CLI too", async () => {
      writeFileSync(docPath, rendered);
      expect((await checkDslReference(scratch)).upToDate).toBe(true);
      writeFileSync(docPath, rendered.replace("a TCP/UDP port number", "a port number"));
      expect((await checkDslReference(scratch)).upToDate).toBe(false);
      rmSync(docPath);
      expect((await checkDslReference(scratch)).upToDate).toBe(false);

      writeFileSync(docPath, `${rendered}edited by hand\n`);
      const r = spawnSync(
        join(root, "node_modules/.bin/tsx"),
        [join(root, "compiler/dsl-reference.ts"), "--check", "--root", scratch],
        {
          encoding: "utf8",
        },
      );
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toContain("docs/dsl-reference.md is out of date; run pnpm docs:dsl");
      expect(readFileSync(docPath, "utf8")).toBe(`${rendered}edited by hand\n`); // --check writes nothing
    });

    it("follows a change to dsl/'s TSDoc, and leaves out @internal names", async () => {
      const file = join(scratch, "dsl", "expr.ts");
      const source = readFileSync(file, "utf8");
      const marker = "/** Whether a list, string or attribute set has something in it";
      expect(source).toContain(marker);
      writeFileSync(
        file,
        source.replace(
          marker,
          "/** @internal */\nexport const hidden = 1;\n\n" + marker.replace("Whether", "Tells whether"),
        ),
      );
      try {
        const page = await renderDslReference(scratch);
        expect(page).toContain("Tells whether a list, string or attribute set");
        expect(page).not.toContain("`hidden`");
      } finally {
        writeFileSync(file, source);
      }
    });
  });
});
