/**
 * Layering: imports run one way, `modules/` → `dsl/` → `nix/` ← `compiler/`.
 * The authoring language never depends on the compiler that consumes it, and the
 * Nix vocabulary (AST and printer) depends on neither.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const root = join(__dirname, "..");

/** The project folders a layer may import from (its own included). */
const allowed: Record<string, readonly string[]> = {
  nix: ["nix"],
  dsl: ["dsl", "nix"],
  modules: ["modules", "dsl"],
  compiler: ["compiler", "dsl", "nix"],
};

/** Every relative import of `file`, as the top-level folder it lands in. */
function importedLayers(file: string): { spec: string; layer: string }[] {
  const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return info.importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => ({ spec, layer: relative(root, resolve(dirname(file), spec)).split("/")[0]! }));
}

const tsFiles = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(root, dir, e.name)] : [],
  );

describe("layering: modules/ → dsl/ → nix/ ← compiler/", () => {
  for (const [layer, may] of Object.entries(allowed)) {
    it(`${layer}/ imports only ${may.join(", ")}`, () => {
      const files = tsFiles(layer);
      expect(files.length).toBeGreaterThan(0);
      const bad = files.flatMap((f) =>
        importedLayers(f)
          .filter((i) => !may.includes(i.layer))
          .map((i) => `${relative(root, f)} imports ${i.spec}`),
      );
      expect(bad).toEqual([]);
    });
  }

  it("modules/ speak the backend-neutral process model, not process-compose's words", () => {
    const words = /\b(depends_on|readiness_probe|liveness_probe|availability|process_healthy|process_completed(_successfully)?|process_started|is_daemon|working_dir)\b/;
    const bad = tsFiles("modules").flatMap((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .map((line, i) => ({ line, i }))
        .filter(({ line }) => words.test(line.replace(/\/\/.*$/, "")))
        .map(({ i, line }) => `${relative(root, f)}:${i + 1}: ${line.trim()}`),
    );
    expect(bad).toEqual([]);
    expect(words.test('depends_on: [{ process: "x", condition: "process_healthy" }]')).toBe(true);
  });

  it("catches a forbidden import (the check can fail)", () => {
    const info = ts.preProcessFile(`import { lowerService } from "../compiler/lower";`, true, true);
    const layer = relative(root, resolve(join(root, "dsl"), info.importedFiles[0]!.fileName)).split("/")[0];
    expect(allowed.dsl).not.toContain(layer);
  });
});
