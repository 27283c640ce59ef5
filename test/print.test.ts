import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  nApply,
  nAttrs,
  nBind,
  nBinop,
  nBool,
  nFloat,
  nIf,
  nInt,
  nLambda,
  nLet,
  nLib,
  nList,
  nLiteral,
  nNot,
  nNull,
  nPath,
  nPattern,
  nSelect,
  nStr,
  nVar,
  type NixNode,
  type StringPart,
} from "../nix/ast.js";
import { printNix } from "../nix/print.js";
import { nixAvailable, nixEvalJson, nixParseFile } from "./support/nix.js";

const HAS_NIX = nixAvailable();
const tmp = mkdtempSync(join(tmpdir(), "print-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let fileCounter = 0;
function writeNix(source: string): string {
  const file = join(tmp, `expr-${fileCounter++}.nix`);
  writeFileSync(file, source, "utf8");
  return file;
}
/** Evaluates printed source from a file (avoids argv length limits for big batches). */
function evalPrinted(node: NixNode): unknown {
  return nixEvalJson(`import ${writeNix(printNix(node))}`);
}

const x = nVar("x");
const id = (name: string) => ({ kind: "ident", name }) as const;
const sel = (expr: NixNode, ...path: string[]) => nSelect(expr, ...path);

// ---------------------------------------------------------------------------
// Layout

describe("printNix layout", () => {
  it("prints a module function with options, mkOption calls, let-in and inherit", () => {
    const cfg = nVar("cfg");
    const mod = nLambda(
      nPattern(["config", "lib", "pkgs"]),
      nLet(
        [
          nBind("cfg", sel(nVar("config"), "services", "redis")),
          { kind: "inherit", from: nVar("lib"), names: ["mkOption", "types"] },
        ],
        nAttrs([
          nBind(
            ["options", "services", "redis"],
            nAttrs([
              nBind("enable", nApply(nLib("mkEnableOption"), nStr("Redis"))),
              nBind(
                "port",
                nApply(
                  nVar("mkOption"),
                  nAttrs([
                    nBind("type", sel(nVar("types"), "port")),
                    nBind("default", nInt(6379)),
                    nBind("description", nStr("The TCP port to accept connections on; 0 disables TCP listening.")),
                  ]),
                ),
              ),
            ]),
          ),
          nBind(
            "config",
            nApply(
              nLib("mkIf"),
              sel(cfg, "enable"),
              nAttrs([
                nBind(["settings", "port"], sel(cfg, "port")),
                nBind("args", nList([nStr("--port"), nApply(nVar("toString"), sel(cfg, "port"))])),
              ]),
            ),
          ),
        ]),
      ),
    );
    expect(printNix(mod)).toBe(
      [
        "{ config, lib, pkgs, ... }:",
        "let",
        "  cfg = config.services.redis;",
        "  inherit (lib) mkOption types;",
        "in",
        "{",
        "  options.services.redis = {",
        '    enable = lib.mkEnableOption "Redis";',
        "    port = mkOption {",
        "      type = types.port;",
        "      default = 6379;",
        '      description = "The TCP port to accept connections on; 0 disables TCP listening.";',
        "    };",
        "  };",
        "  config = lib.mkIf cfg.enable {",
        "    settings.port = cfg.port;",
        '    args = [ "--port" (toString cfg.port) ];',
        "  };",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("keeps small attrsets and lists on one line, and prints empty ones as { } / [ ]", () => {
    expect(printNix(nAttrs([]))).toBe("{ }\n");
    expect(printNix(nList([]))).toBe("[ ]\n");
    expect(printNix(nAttrs([nBind("a", nInt(1)), nBind("b", nAttrs([])), nBind("c", nList([]))]))).toBe(
      "{ a = 1; b = { }; c = [ ]; }\n",
    );
    expect(printNix(nList([nInt(1), nStr("two"), nNull, nBool(false), nPath("./three")]))).toBe(
      '[ 1 "two" null false ./three ]\n',
    );
    expect(printNix({ kind: "attrs", rec: true, bindings: [nBind("a", nInt(1)), nBind("b", x)] })).toBe(
      "rec { a = 1; b = x; }\n",
    );
  });

  it("expands an attrset with two or more bindings when one of them is nested", () => {
    expect(printNix(nAttrs([nBind("a", nInt(1)), nBind("b", nAttrs([nBind("c", nInt(2))]))]))).toBe(
      "{\n  a = 1;\n  b = { c = 2; };\n}\n",
    );
    // One binding only: stays on one line while it fits.
    expect(printNix(nAttrs([nBind("b", nAttrs([nBind("c", nInt(2))]))]))).toBe("{ b = { c = 2; }; }\n");
    // Lists follow the same rule.
    expect(printNix(nList([nAttrs([nBind("a", nInt(1))]), nAttrs([nBind("b", nInt(2))])]))).toBe(
      "[\n  { a = 1; }\n  { b = 2; }\n]\n",
    );
  });

  it("breaks lists and attrsets one element per line when they exceed 100 columns", () => {
    const items = Array.from({ length: 12 }, (_, i) => nStr(`item-number-${i}`));
    expect(printNix(nList(items))).toBe(`[\n${items.map((_, i) => `  "item-number-${i}"\n`).join("")}]\n`);
  });

  it("prints selections with quoted and dynamic keys, `or` defaults and `?`", () => {
    const s: NixNode = {
      kind: "select",
      expr: nVar("a"),
      path: ["b", "foo-bar", "c-d.e", "or", nStr(nVar("name"), "-init"), nVar("k")],
      default: nAttrs([]),
    };
    expect(printNix(s)).toBe('a.b.foo-bar."c-d.e"."or"."${name}-init".${k} or { }\n');
    expect(printNix({ kind: "hasAttr", expr: nVar("cfg"), path: ["x", "y z"] })).toBe('cfg ? x."y z"\n');
    expect(printNix(nAttrs([nBind(["a", nStr(nVar("n"), "-init"), "b c"], nInt(1))]))).toBe(
      '{ a."${n}-init"."b c" = 1; }\n',
    );
  });

  it("parenthesizes non-atomic operands of application, selection, list items and !", () => {
    expect(printNix(nApply(nVar("f"), nApply(nVar("g"), x), nInt(-5), nFloat(-0.5), sel(x, "y")))).toBe(
      "f (g x) (-5) (-0.5) x.y\n",
    );
    expect(printNix(sel(nBinop("//", nVar("a"), nVar("b")), "c"))).toBe("(a // b).c\n");
    expect(printNix(nNot(nApply(nVar("f"), x)))).toBe("!(f x)\n");
    expect(printNix(nList([nApply(nVar("f"), x), nLambda(id("y"), nVar("y")), nInt(-1)]))).toBe(
      "[\n  (f x)\n  (y: y)\n  (-1)\n]\n",
    );
    expect(printNix(nApply(nLambda(id("y"), nVar("y")), nInt(1)))).toBe("(y: y) 1\n");
    expect(printNix(nApply(nApply(nVar("f"), nInt(1)), nInt(2)))).toBe("f 1 2\n");
  });

  it("uses operator precedence for binary operators", () => {
    const [a, b, c] = [nVar("a"), nVar("b"), nVar("c")];
    expect(printNix(nBinop("-", a, nBinop("-", b, c)))).toBe("a - (b - c)\n");
    expect(printNix(nBinop("-", nBinop("-", a, b), c))).toBe("a - b - c\n");
    expect(printNix(nBinop("++", nBinop("++", a, b), c))).toBe("(a ++ b) ++ c\n");
    expect(printNix(nBinop("++", a, nBinop("++", b, c)))).toBe("a ++ b ++ c\n");
    expect(printNix(nBinop("*", nBinop("+", a, b), c))).toBe("(a + b) * c\n");
    expect(printNix(nBinop("&&", nNot(a), nBinop("==", b, nInt(1))))).toBe("!a && b == 1\n");
    expect(printNix(nBinop("+", nNot(a), nApply(nVar("f"), b)))).toBe("(!a) + f b\n");
    expect(printNix(nBinop("==", nBinop("==", a, b), c))).toBe("(a == b) == c\n");
    expect(printNix(nBinop("+", a, nInt(-1)))).toBe("a + (-1)\n");
  });

  it("prints if on one line when it fits, else nixfmt-style with else-if chains", () => {
    expect(printNix(nIf(nVar("c"), nInt(1), nInt(2)))).toBe("if c then 1 else 2\n");
    const long = nIf(
      nBinop("==", sel(nVar("cfg"), "someVeryLongOptionName"), nStr("something long enough")),
      nStr("a fairly long then-branch string"),
      nIf(nVar("c2"), nStr("second branch of the chain"), nNull),
    );
    expect(printNix(nAttrs([nBind("value", long)]))).toBe(
      [
        "{",
        "  value =",
        '    if cfg.someVeryLongOptionName == "something long enough" then',
        '      "a fairly long then-branch string"',
        "    else if c2 then",
        '      "second branch of the chain"',
        "    else",
        "      null;",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("prints let blocks, lambdas and hugging arguments", () => {
    expect(printNix(nLet([nBind("a", nInt(1))], nBinop("+", nVar("a"), nInt(1))))).toBe("let\n  a = 1;\nin\na + 1\n");
    expect(printNix(nAttrs([nBind("v", nLet([nBind("a", nInt(1))], nVar("a"))), nBind("w", nInt(2))]))).toBe(
      "{\n  v =\n    let\n      a = 1;\n    in\n    a;\n  w = 2;\n}\n",
    );
    expect(printNix(nLambda(id("x"), nLambda(id("y"), nBinop("+", x, nVar("y")))))).toBe("x: y: x + y\n");
    expect(printNix(nLambda(nPattern([], true, "args"), nVar("args")))).toBe("{ ... }@args:\nargs\n");
    expect(printNix(nLambda(nPattern(["a"], false), nVar("a")))).toBe("{ a }:\na\n");
    const body = nAttrs([nBind("a", x), nBind("b", nList([x]))]);
    expect(printNix(nApply(nVar("map"), nLambda(id("x"), body), nVar("xs")))).toBe(
      "map (x: {\n  a = x;\n  b = [ x ];\n}) xs\n",
    );
    expect(printNix(nApply(nSelect(nVar("pkgs"), "writeShellScript"), nStr("run"), nStr("set -e\nexec foo\n")))).toBe(
      "pkgs.writeShellScript \"run\" ''\n  set -e\n  exec foo\n''\n",
    );
  });

  it("hugs nested applications and lambdas whose body is a block, but not other lambdas", () => {
    const sub = nApply(
      nLib("types", "submodule"),
      nAttrs([nBind("options", nAttrs([nBind("a", nInt(1))])), nBind("b", nInt(2))]),
    );
    expect(printNix(nApply(nLib("types", "listOf"), sub))).toBe(
      "lib.types.listOf (lib.types.submodule {\n  options = { a = 1; };\n  b = 2;\n})\n",
    );
    const longBody = nApply(
      nLib("mkIf"),
      sel(nVar("instance"), "enable"),
      sel(nVar("instance"), "outputs", "settings", "processes"),
    );
    const call = nApply(
      nLib("mkMerge"),
      nApply(
        nLib("mapAttrsToList"),
        nLambda(id("_"), nLambda(id("instance"), longBody)),
        sel(nVar("config"), "services", "redis"),
      ),
    );
    expect(printNix(nAttrs([nBind("processes", call)]))).toBe(
      [
        "{",
        "  processes =",
        "    lib.mkMerge",
        "      (lib.mapAttrsToList",
        "        (_: instance: lib.mkIf instance.enable instance.outputs.settings.processes)",
        "        config.services.redis);",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("never breaks code inside an interpolation", () => {
    const long = nApply(
      nLib("escapeShellArg"),
      nIf(nBinop("!=", sel(nVar("config"), "unixSocket"), nNull), sel(nVar("config"), "unixSocket"), nStr("")),
    );
    const text = nStr(
      "exec redis-cli -s ",
      long,
      " -p ",
      nApply(nVar("toString"), sel(nVar("config"), "port")),
      " ping with some more words",
    );
    expect(printNix(nAttrs([nBind("command", text)]))).toBe(
      '{\n  command = "exec redis-cli -s ${lib.escapeShellArg (if config.unixSocket != null then config.unixSocket else "")} -p ${toString config.port} ping with some more words";\n}\n',
    );
    expect(printNix(nStr("#!/bin/sh\nexec ", long, " --and-a-long-flag-name --and-another-long-flag-name\n"))).toBe(
      "''\n  #!/bin/sh\n  exec ${lib.escapeShellArg (if config.unixSocket != null then config.unixSocket else \"\")} --and-a-long-flag-name --and-another-long-flag-name\n''\n",
    );
  });

  it("breaks long patterns one name per line (trailing comma unless `...`)", () => {
    const names = [
      "config",
      "lib",
      "pkgs",
      "someLongArgumentName",
      "anotherLongArgumentName",
      "yetAnotherArgumentName",
      "andOneMore",
    ];
    expect(printNix(nLambda(nPattern(names, false), nVar("lib")))).toBe(
      `{\n${names.map((n) => `  ${n},\n`).join("")}}:\nlib\n`,
    );
    expect(printNix(nLambda(nPattern(names, true), nVar("lib")))).toBe(
      `{\n${names.map((n) => `  ${n},\n`).join("")}  ...\n}:\nlib\n`,
    );
  });

  it("prints numbers Nix reads back exactly", () => {
    expect(printNix(nList([nFloat(0.5), nFloat(2), nFloat(0.001), nFloat(1e-7), nFloat(1.5e21), nFloat(-0)]))).toBe(
      "[ 0.5 2.0 0.001 1.0e-7 1.5e+21 0.0 ]\n",
    );
    expect(printNix(nInt(2 ** 60))).toBe("1152921504606846976\n");
    expect(() => printNix(nInt(1.5))).toThrow(RangeError);
    expect(() => printNix(nFloat(Number.NaN))).toThrow(RangeError);
    expect(() => printNix(nInt(2 ** 63))).toThrow(RangeError);
  });

  it("prints the header as # comment lines and ends with exactly one newline", () => {
    expect(printNix(nAttrs([]), { header: "Generated by services-ts.\n\nDo not edit." })).toBe(
      "# Generated by services-ts.\n#\n# Do not edit.\n{ }\n",
    );
    expect(printNix(nStr("a\nb\n"))).toMatch(/[^\n]\n$/);
  });
});

// ---------------------------------------------------------------------------
// Strings (text form only; the [nix] suites below check the bytes with real Nix)

describe("printNix strings", () => {
  const s = (...parts: StringPart[]) => printNix(nStr(...parts)).slice(0, -1);

  it("escapes double-quoted strings minimally", () => {
    expect(s("$HOME")).toBe('"$HOME"');
    expect(s('a\\b"c\td\re')).toBe('"a\\\\b\\"c\\td\\re"');
    expect(s("${x}")).toBe('"\\${x}"');
    expect(s("$${x}")).toBe('"$\\${x}"');
    expect(s("$", x, "$")).toBe('"\\$${x}$"');
    expect(s("one line\n")).toBe('"one line\\n"');
    expect(s()).toBe('""');
  });

  it("uses indented strings for multi-line text, with '' escapes", () => {
    expect(s("a\nb")).toBe("''\n  a\n  b''");
    expect(s("echo ${HOME} '' $x\n  indented\n")).toBe("''\n  echo ''${HOME} ''' $x\n    indented\n''");
    expect(s("a\n$", x, "\n")).toBe("''\n  a\n  ''$${x}\n''");
    expect(s("a\nit's'")).toBe("''\n  a\n  it's''\\'''");
    expect(s("a\r\nb\n")).toBe("''\n  a''\\r\n  b\n''");
    // Trailing whitespace survives (prettier would otherwise trim it).
    expect(s("a  \n\tb\n")).toBe("''\n  a  \n  \tb\n''");
  });

  it("falls back to double quotes when indentation stripping would lose bytes", () => {
    expect(s("  a\n  b\n")).toBe('"  a\\n  b\\n"');
    expect(s("a\n  ")).toBe('"a\\n  "');
    expect(s("\n\n")).toBe('"\\n\\n"');
  });

  it("always double-quotes dynamic attribute names", () => {
    expect(printNix(nAttrs([nBind([nStr("a\nb")], nInt(1))]))).toBe('{ "a\\nb" = 1; }\n');
  });
});

// ---------------------------------------------------------------------------
// Real Nix

describe.skipIf(!HAS_NIX)("printNix output with real Nix [nix]", () => {
  it("[nix] a rich module parses with nix-instantiate --parse", () => {
    const mod = nLambda(
      nPattern(["config", "lib", "pkgs", "x"]),
      nLet(
        [
          nBind("cfg", sel(nVar("config"), "services", "foo")),
          { kind: "inherit", from: nVar("lib"), names: ["types"] },
          { kind: "inherit", names: ["x"] },
        ],
        nAttrs([
          nBind(["options", "services", "foo", "enable"], nApply(nLib("mkEnableOption"), nStr("foo"))),
          nBind(
            "config",
            nApply(
              nLib("mkIf"),
              sel(nVar("cfg"), "enable"),
              nAttrs([
                nBind(
                  ["a", nStr(nVar("x"), "-init"), nVar("x"), "b c"],
                  nList([nInt(-1), nFloat(1e-3), nNull, nBool(true), nPath("./data")]),
                ),
                nBind(
                  "script",
                  nApply(
                    sel(nVar("pkgs"), "writeShellScript"),
                    nStr("s"),
                    nStr("echo '${x}' ''\n", sel(nVar("cfg"), "pkg"), "/bin/x\n"),
                  ),
                ),
                nBind(
                  "c",
                  nIf(
                    nBinop("&&", nNot(nVar("x")), { kind: "hasAttr", expr: nVar("cfg"), path: ["y"] }),
                    nInt(1),
                    nInt(2),
                  ),
                ),
                nBind("d", {
                  kind: "select",
                  expr: nVar("cfg"),
                  path: ["z"],
                  default: nBinop("//", nAttrs([]), nVar("x")),
                }),
                nBind(
                  "e",
                  nApply(nVar("map"), nLambda(id("v"), nBinop("++", nList([nVar("v")]), nList([]))), nList([nInt(1)])),
                ),
                nBind("f", {
                  kind: "attrs",
                  rec: true,
                  bindings: [nBind("g", nLambda(nPattern(["h"], false, "args"), nVar("h")))],
                }),
              ]),
            ),
          ),
        ]),
      ),
    );
    const source = printNix(mod, { header: "generated" });
    expect(() => nixParseFile(writeNix(source))).not.toThrow();
  });

  it("[nix] a module evaluates to the expected configuration", () => {
    const mod = nLet(
      [nBind("cfg", nAttrs([nBind("port", nInt(80)), nBind("name", nStr("web"))]))],
      nAttrs([
        nBind(["settings", nStr(sel(nVar("cfg"), "name"), "-init")], nBinop("+", sel(nVar("cfg"), "port"), nInt(1))),
        nBind("text", nStr("listen ", nApply(nVar("toString"), sel(nVar("cfg"), "port")), ";\n  root /srv/$dir;\n")),
        nBind(
          "ok",
          nBinop(
            "&&",
            { kind: "hasAttr", expr: nVar("cfg"), path: ["port"] },
            nNot({ kind: "select", expr: nVar("cfg"), path: ["missing"], default: nBool(false) }),
          ),
        ),
        nBind("half", nFloat(0.5)),
      ]),
    );
    expect(evalPrinted(mod)).toEqual({
      settings: { "web-init": 81 },
      text: "listen 80;\n  root /srv/$dir;\n",
      ok: true,
      half: 0.5,
    });
  });
});

/** Characters that exercise every escaping and indentation rule. */
const tricky = fc.constantFrom(
  "$",
  "{",
  "}",
  "'",
  '"',
  "\\",
  "\n",
  "\t",
  "\r",
  " ",
  "a",
  "${",
  "''",
  "'''",
  "$$",
  "\n  ",
  "\n\t",
  "\r\n",
  "é",
  "💡",
  "\u0001",
  "\u007f",
  "#",
);
const nixText: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 3, arbitrary: fc.string({ unit: tricky, maxLength: 30 }) },
    { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
    { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 30 }) },
  )
  .map((t) => t.replaceAll("\0", ""));

/** A string node that may interpolate `v0`..`v2` (bound by `let`) and nested string nodes. */
type Piece = { text: string } | { var: number } | { nested: string };
const piece: fc.Arbitrary<Piece> = fc.oneof(
  { weight: 4, arbitrary: nixText.map((text) => ({ text })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 }).map((v) => ({ var: v })) },
  { weight: 1, arbitrary: nixText.map((nested) => ({ nested })) },
);

describe.skipIf(!HAS_NIX)("string round-trips through real Nix [nix]", () => {
  it("[nix] random literal strings evaluate to the same bytes, at several indentation depths", () => {
    fc.assert(
      fc.property(fc.array(nixText, { minLength: 200, maxLength: 200 }), (texts) => {
        const strs = texts.map((t) => nStr(t));
        const tree = nLet(
          [nBind("id", nLambda(id("s"), nVar("s")))],
          nAttrs([
            nBind("list", nList(strs)),
            nBind(["deep", "er"], nAttrs([nBind("x", nAttrs([nBind("y", nList(strs))])), nBind("z", nInt(0))])),
            nBind("args", nList(strs.map((s) => nApply(nVar("id"), s)))),
          ]),
        );
        expect(evalPrinted(tree)).toEqual({ list: texts, deep: { er: { x: { y: texts }, z: 0 } }, args: texts });
      }),
      { numRuns: 10 },
    );
  });

  it("[nix] random strings mixed with interpolations evaluate to the concatenation", () => {
    fc.assert(
      fc.property(
        fc.tuple(nixText, nixText, nixText),
        fc.array(fc.array(piece, { maxLength: 6 }), { minLength: 200, maxLength: 200 }),
        (vars, strings) => {
          const nodes = strings.map((pieces) =>
            nStr(
              ...pieces.map((p): StringPart =>
                "text" in p ? p.text : "var" in p ? nVar(`v${p.var}`) : nStr(p.nested),
              ),
            ),
          );
          const expected = strings.map((pieces) =>
            pieces.map((p) => ("text" in p ? p.text : "var" in p ? vars[p.var] : p.nested)).join(""),
          );
          const tree = nLet(
            vars.map((v, i) => nBind(`v${i}`, nStr(v))),
            nAttrs([nBind("strings", nList(nodes)), nBind(["keys", nStr(nVar("v0"), "-init")], nBool(true))]),
          );
          expect(evalPrinted(tree)).toEqual({ strings: expected, keys: { [`${vars[0]}-init`]: true } });
        },
      ),
      { numRuns: 10 },
    );
  });
});

/** JSON-like values without floats (Nix 2.8 prints floats with 6 significant digits). */
const jsonKey = nixText.filter((k) => !["outPath", "__toString", "__functor", "__proto__"].includes(k));
const { value: jsonValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    nixText,
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(jsonKey, tie("value"), { maxKeys: 5, noNullPrototype: true }),
  ),
}));

describe.skipIf(!HAS_NIX)("AST round-trips through real Nix [nix]", () => {
  it("[nix] random nested attrsets/lists/ints/bools/strings evaluate to the source value", () => {
    fc.assert(
      fc.property(fc.array(jsonValue, { minLength: 100, maxLength: 100 }), (values) => {
        expect(evalPrinted(nLiteral(values))).toEqual(values);
      }),
      { numRuns: 10 },
    );
  });

  it("[nix] floats are read back as the identical double", () => {
    const double = fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0));
    fc.assert(
      fc.property(fc.array(double, { minLength: 200, maxLength: 200 }), (ds) => {
        const all = [...ds, 2, 0.5, 1e-3, -1.5e300, 5e-324, Number.MAX_VALUE, 0.1 + 0.2];
        // d = m * 2^e exactly, with |m| < 2^53: Nix compares the literal with that product.
        const checks = all.map((d) => {
          let m = d;
          let e = 0;
          while (!Number.isInteger(m)) {
            m *= 2;
            e--;
          }
          while (Math.abs(m) >= 2 ** 53) {
            m /= 2;
            e++;
          }
          return nBinop("==", nFloat(d), nBinop("*", nInt(m), nApply(nVar("pow2"), nInt(e))));
        });
        const pow2 = nLambda(
          id("n"),
          nIf(
            nBinop("==", nVar("n"), nInt(0)),
            nFloat(1),
            nIf(
              nBinop(">", nVar("n"), nInt(0)),
              nBinop("*", nFloat(2), nApply(nVar("pow2"), nBinop("-", nVar("n"), nInt(1)))),
              nBinop("*", nFloat(0.5), nApply(nVar("pow2"), nBinop("+", nVar("n"), nInt(1)))),
            ),
          ),
        );
        const results = evalPrinted(nLet([nBind("pow2", pow2)], nList(checks))) as boolean[];
        expect(all.filter((_, i) => results[i] !== true)).toEqual([]);
      }),
      { numRuns: 2 },
    );
  });
});
