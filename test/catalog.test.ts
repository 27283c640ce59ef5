/**
 * The README's service table is what `pnpm docs:catalog` renders from modules/
 * and test/packages.json now, and its tier rule is the tests' own.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CATALOG_COMMAND, catalogRows, END, renderCatalog, START, withCatalog } from "./tools/catalog";

const root = join(__dirname, "..");

describe("README service table", async () => {
  const rows = await catalogRows(root);

  it(`is what \`${CATALOG_COMMAND}\` renders now`, () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    if (withCatalog(readme, renderCatalog(rows)) !== readme) expect.fail(`README.md's service table is out of date; run ${CATALOG_COMMAND} and commit it`);
  });

  it("lists every service once, with a tier; a service whose test needs an unavailable package is not claimed as run", () => {
    const names = rows.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain("postgres");
    expect(rows.find((r) => r.name === "postgres")!.tier).toBe("run");
    for (const r of rows) if (r.tier === "eval + rendered") expect(r.reason, r.name).toMatch(/\S/);
  });

  it("renders a reason for a service that is not run, and refuses a README without the section", () => {
    const md = renderCatalog([{ name: "x", summary: "X | Y", tier: "eval + rendered", reason: "x: not in Debian" }]);
    expect(md).toContain("| `x` | X \\| Y | eval + rendered (not run here: x: not in Debian) | [docs](generated/docs/x.md) |");
    expect(() => withCatalog("# no section", md)).toThrow(START);
    expect(withCatalog(`a\n${START}\nold\n${END}\nb`, "new")).toBe(`a\n${START}\nnew\n${END}\nb`);
  });
});
