/**
 * Renders the Nix AST (./ast.ts) as nixfmt-style (RFC 166) source text.
 *
 * Prettier's doc builders are the layout engine: every node becomes a `Doc`, and
 * `printDocToString` decides which groups fit in 100 columns.
 *
 * Layout rules (deterministic, no dependence on anything but the AST):
 * - Attribute sets `{ a = 1; }`, lists `[ a b ]` and lambda patterns `{ a, b }` print
 *   on one line when they fit, otherwise one element per line, indented by 2.
 *   Empty ones print `{ }` / `[ ]`.
 * - An attribute set (or list) with two or more elements is always expanded when at
 *   least one element is "nested": a non-empty attrset or list, a `let`, a lambda, or a
 *   function application with such an argument (`lib.mkOption { … }`). A forced break
 *   propagates outwards, so module skeletons (`options`/`config`) always expand.
 * - Bindings `name = value;` keep "absorbable" values (attrsets, lists, strings, atoms,
 *   plain selections, hugging applications, lambdas) on the `=` line; other values
 *   (`let`, `if`, operators, non-hugging applications, …) move to the next line,
 *   indented, when they do not fit.
 * - Applications print `f a b`. When exactly one argument is a "block" — a non-empty
 *   attrset/list, a multi-line string, a lambda whose body is a block, or an application
 *   that itself hugs — it "hugs": all arguments stay on the call's line and only the block
 *   spans lines (`lib.mkOption {` … `}`, `map (x: {` … `}) xs`,
 *   `lib.types.listOf (lib.types.submodule {` … `})`). Otherwise a call that does not fit
 *   puts each argument on its own indented line.
 * - Interpolations `${…}` are printed flat: layout never breaks code inside a string.
 * - A lambda with a pattern at the top of the file prints `{ config, lib, ... }:` and its
 *   body on the next line at the same indentation; other lambdas print `x: body`.
 * - `let` always expands (bindings indented, `in` and the body on their own lines);
 *   `if c then a else b` stays on one line when it fits, else breaks nixfmt-style.
 * - Parentheses: operands of binary operators follow Nix precedence/associativity, except
 *   that negative numbers, lambdas, `let` and `if` are always parenthesized, and `!e` /
 *   `e ? a` are bare only next to `==`, `!=`, `&&`, `||`, `->` (`!a && b`, `(!a) + b`).
 *   Arguments, list items, `select` bases, `or` defaults and `!`/`?` operands are
 *   parenthesized unless atomic (literals, variables, strings, paths, lists, attrsets,
 *   selections without `or`): `f (g x) (-5)`, `(a // b).c`, `!(f x)`.
 */
import { doc, type Doc } from "prettier";
import {
  isNixIdentifier,
  type AttrKey,
  type Binding,
  type BinaryOperator,
  type LambdaParam,
  type NixNode,
  type StringPart,
} from "./ast.js";
import { resolveNames } from "./names.js";

const { group, indent, line, softline, hardline, literalline, join, ifBreak, markAsRoot } = doc.builders;

/** Options for {@link printNix}. */
export interface PrintNixOptions {
  /** Text printed above the expression as `# ` comment lines (one per header line). */
  header?: string;
}

/**
 * Prints a Nix AST as nixfmt-style (RFC 166) source: 2-space indentation, 100-column
 * width, layout computed with prettier's doc printer (see the module comment for the
 * exact rules). The result is deterministic: the same AST always yields the same bytes.
 *
 * Strings are printed so that Nix reads back exactly the same bytes:
 * - Multi-line text (at least two lines) uses the indented form `''…''`, its lines one
 *   level deeper than the surrounding code and the closing `''` on its own line when the
 *   text ends in a newline — but only when the round trip is provably exact: some line
 *   with content starts without spaces, and the text does not end in a line made only
 *   of spaces. Inside, `''` is written `'''`, `${` and a `$` before an interpolation
 *   `''$`, CR `''\r`, and a lone `'` that would touch a following `''` token `''\'`.
 * - Everything else (and every string used as an attribute name) uses `"…"`, escaping
 *   `\`, `"`, newline, CR, tab, and `$` where it precedes `{` or an interpolation.
 *
 * Floats print in a form that Nix parses back to the same double (`2.0`, `1.0e-7`;
 * subnormals, which Nix 2.8 rejects as literals, as an exact product); `-0.0` prints as
 * `0.0`. Integers must be integral and below 2^63 in magnitude.
 *
 * @param node the expression to print.
 * @param opts `header`: text to emit first, each line prefixed with `# ` (a bare `#`
 *   for empty lines).
 * @returns the source text; it ends with exactly one newline.
 * @throws RangeError for numbers Nix cannot represent (NaN, ±Infinity, ints ≥ 2^63) and
 *   TypeError for malformed nodes (e.g. an empty attribute path).
 */
export function printNix(node: NixNode, opts: PrintNixOptions = {}): string {
  const body = doc.printer.printDocToString(print(resolveNames(node), true), {
    printWidth: 100,
    tabWidth: 2,
    useTabs: false,
  }).formatted;
  let head = "";
  if (opts.header !== undefined) {
    head = opts.header
      .split(/\r\n|\r|\n/)
      .map((l) => (l.trimEnd() === "" ? "#" : `# ${l.trimEnd()}`))
      .join("\n");
    head += "\n";
  }
  return `${head}${body.replace(/\n+$/, "")}\n`;
}

// ---------------------------------------------------------------------------
// Expressions

function print(n: NixNode, top = false): Doc {
  switch (n.kind) {
    case "null":
      return "null";
    case "bool":
      return n.value ? "true" : "false";
    case "int":
      return intText(n.value);
    case "float":
      return floatText(n.value);
    case "string":
      return printString(n.parts);
    case "path":
      return n.value;
    case "var":
      return n.name;
    case "select":
      return printSelect(n);
    case "apply":
      return printApply(n);
    case "list":
      return printList(n.items);
    case "attrs":
      return printAttrs(n.bindings, n.rec === true);
    case "let":
      return printLet(n.bindings, n.body);
    case "lambda":
      return printLambda(n.param, n.body, top);
    case "if":
      return printIf(n);
    case "binop":
      return printBinop(n);
    case "not":
      return ["!", operand(n.expr)];
    case "hasAttr":
      return [operand(n.expr), " ? ", printAttrPath(n.path)];
    case "raw":
      return n.parts.map((p) => (typeof p === "string" ? p : operand(p)));
  }
}

function intText(value: number): string {
  if (!Number.isInteger(value)) throw new RangeError(`Nix int must be an integer, got ${value}`);
  if (Math.abs(value) >= 2 ** 63) throw new RangeError(`Nix int out of 64-bit range: ${value}`);
  return BigInt(value).toString();
}

const MIN_NORMAL = 2 ** -1022;
const isSubnormal = (v: number): boolean => v !== 0 && Math.abs(v) < MIN_NORMAL;

/**
 * Shortest round-trip decimal that the Nix lexer accepts as a float (it needs a `.`:
 * `2.0`, `1.0e-7`). Nix 2.8 rejects literals that underflow (`5.0e-324` is an "invalid
 * float"), so a subnormal prints as the exact product `(m * 2.2250738585072014e-308)`.
 */
function floatText(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`Nix has no float literal for ${value}`);
  if (isSubnormal(value)) return `(${floatText(value / MIN_NORMAL)} * ${floatText(MIN_NORMAL)})`;
  const [mantissa = "0", exponent] = String(Math.abs(value)).split("e");
  const m = mantissa.includes(".") ? mantissa : `${mantissa}.0`;
  return `${value < 0 ? "-" : ""}${m}${exponent === undefined ? "" : `e${exponent}`}`;
}

/** Negative literals print as `-5` (Nix's negation); subnormal floats come parenthesized. */
const isNegativeNumber = (n: NixNode): boolean =>
  (n.kind === "int" || n.kind === "float") && n.value < 0 && !(n.kind === "float" && isSubnormal(n.value));

/**
 * Whether `n` is an `expr_select` in Nix's grammar that is safe anywhere (function
 * argument, list item, operand): literals, variables, strings, paths, lists, attrsets
 * and selections without `or`.
 */
function isAtomic(n: NixNode): boolean {
  switch (n.kind) {
    case "null":
    case "bool":
    case "string":
    case "path":
    case "var":
    case "list":
    case "attrs":
      return true;
    case "int":
    case "float":
      return !isNegativeNumber(n);
    case "select":
      return n.default === undefined;
    default:
      return false;
  }
}

function paren(n: NixNode): Doc {
  const inner = print(n);
  switch (n.kind) {
    case "let":
    case "if":
    case "binop":
      // Multi-line contents go on their own indented lines between the parentheses.
      return group(["(", indent([softline, inner]), softline, ")"]);
    default:
      // Lambdas and applications keep their own hugging: `(x: {` … `})`.
      return ["(", inner, ")"];
  }
}

/** An argument, list item, `!`/`?` operand or `or` default: parenthesized unless atomic. */
function operand(n: NixNode): Doc {
  return isAtomic(n) ? print(n) : paren(n);
}

// ---------------------------------------------------------------------------
// Selections and attribute paths

function printAttrKey(k: AttrKey): Doc {
  if (typeof k === "string") return isNixIdentifier(k) ? k : quotedString([k]);
  if (k.kind === "string") return quotedString(normalizeParts(k.parts));
  return interpolation(k);
}

/**
 * `${expr}`: printed flat (only the hard breaks of `let` or indented strings remain), so
 * layout never splits code inside a string or an attribute name.
 */
function interpolation(n: NixNode): Doc {
  return ["${", doc.utils.removeLines(print(n)), "}"];
}

function printAttrPath(path: AttrKey[]): Doc {
  if (path.length === 0) throw new TypeError("empty attribute path");
  return join(".", path.map(printAttrKey));
}

function printSelect(n: Extract<NixNode, { kind: "select" }>): Doc {
  // Flatten `(a.b).c` into `a.b.c` when the inner selection has no `or` default.
  let base = n.expr;
  const path: AttrKey[] = [...n.path];
  while (base.kind === "select" && base.default === undefined) {
    path.unshift(...base.path);
    base = base.expr;
  }
  const baseDoc =
    base.kind === "var" || base.kind === "attrs" || base.kind === "list" || base.kind === "string"
      ? print(base)
      : paren(base);
  const parts: Doc[] = [baseDoc, ".", printAttrPath(path)];
  if (n.default !== undefined) parts.push(" or ", operand(n.default));
  return parts;
}

// ---------------------------------------------------------------------------
// Applications

function flattenApply(n: Extract<NixNode, { kind: "apply" }>): { fn: NixNode; args: NixNode[] } {
  let fn = n.fn;
  const args = [...n.args];
  while (fn.kind === "apply") {
    args.unshift(...fn.args);
    fn = fn.fn;
  }
  return { fn, args };
}

/** Arguments that may hug: printed on the call's line, opening a multi-line block. */
function isHuggable(n: NixNode): boolean {
  switch (n.kind) {
    case "attrs":
      return n.bindings.length > 0;
    case "list":
      return n.items.length > 0;
    case "lambda":
      // `(x: {` … `})`, but not `(x: a + b)`.
      return isHuggable(n.body);
    case "apply":
      // `(lib.types.submodule {` … `})`.
      return hugsArg(n);
    case "string":
      return stringForm(normalizeParts(n.parts)) === "indented";
    default:
      return false;
  }
}

/** Exactly one argument hugs, and no other argument is multi-line by nature. */
function hugsArg(n: Extract<NixNode, { kind: "apply" }>): boolean {
  const { args } = flattenApply(n);
  return args.filter(isHuggable).length === 1 && !args.some((a) => a.kind === "let");
}

function printApply(n: Extract<NixNode, { kind: "apply" }>): Doc {
  const { fn, args } = flattenApply(n);
  const fnDoc = fn.kind === "var" || (fn.kind === "select" && fn.default === undefined) ? print(fn) : paren(fn);
  if (args.length === 0) return fnDoc;
  const argDocs = args.map(operand);
  if (hugsArg(n)) return [fnDoc, ...argDocs.map((a) => [" ", a])];
  return group([fnDoc, indent(argDocs.map((a) => [line, a]))]);
}

// ---------------------------------------------------------------------------
// Attribute sets, lists, bindings, let

/** "Nested" values force a multi-element parent attrset/list to expand (see module doc). */
function isNested(n: NixNode): boolean {
  switch (n.kind) {
    case "attrs":
      return n.bindings.length > 0;
    case "list":
      return n.items.length > 0;
    case "let":
    case "lambda":
      return true;
    case "apply":
      return flattenApply(n).args.some(isNested);
    default:
      return false;
  }
}

function printAttrs(bindings: Binding[], rec: boolean): Doc {
  const open = rec ? "rec {" : "{";
  if (bindings.length === 0) return `${open} }`;
  const forceBreak = bindings.length >= 2 && bindings.some((b) => b.kind === "attr" && isNested(b.value));
  return group([open, indent([line, join(line, bindings.map(printBinding))]), line, "}"], { shouldBreak: forceBreak });
}

function printList(items: NixNode[]): Doc {
  if (items.length === 0) return "[ ]";
  const forceBreak = items.length >= 2 && items.some(isNested);
  return group(["[", indent([line, join(line, items.map(operand))]), line, "]"], { shouldBreak: forceBreak });
}

/** Values that stay on the `=` line (they break internally if needed). */
function isAbsorbable(n: NixNode): boolean {
  switch (n.kind) {
    case "null":
    case "bool":
    case "int":
    case "float":
    case "string":
    case "path":
    case "var":
    case "list":
    case "attrs":
      return true;
    case "select":
      return n.default === undefined;
    case "apply":
      return hugsArg(n);
    case "lambda":
      return true;
    default:
      return false;
  }
}

function printBinding(b: Binding): Doc {
  if (b.kind === "inherit") {
    const from: Doc = b.from === undefined ? "" : [" ", paren(b.from)];
    const names = b.names.map((name) => [line, isNixIdentifier(name) ? name : quotedString([name])]);
    return group(["inherit", from, indent(names), ";"]);
  }
  const value = print(b.value);
  const rhs = isAbsorbable(b.value) ? [" ", value] : group(indent([line, value]));
  const comment: Doc[] = b.comment === undefined ? [] : b.comment.split(/\r\n|\r|\n/).flatMap((l) => [`# ${l}`.trimEnd(), hardline]);
  return [...comment, printAttrPath(b.path), " =", rhs, ";"];
}

function printLet(bindings: Binding[], body: NixNode): Doc {
  const bs: Doc = bindings.length === 0 ? "" : indent([hardline, join(hardline, bindings.map(printBinding))]);
  return ["let", bs, hardline, "in", hardline, print(body)];
}

// ---------------------------------------------------------------------------
// Lambdas, if, operators

function printParam(p: LambdaParam): Doc {
  if (p.kind === "ident") return p.name;
  const items: string[] = [...p.names, ...(p.ellipsis ? ["..."] : [])];
  const bind = p.bind === undefined ? "" : `@${p.bind}`;
  if (items.length === 0) return `{ }${bind}`;
  const trailingComma = p.ellipsis ? "" : ifBreak(",", "");
  return group(["{", indent([line, join([",", line], items)]), trailingComma, line, "}", bind]);
}

function printLambda(param: LambdaParam, body: NixNode, top: boolean): Doc {
  const head = [printParam(param), ":"];
  if (top && param.kind === "pattern") return [head, hardline, print(body, true)];
  if (isAbsorbable(body)) return [head, " ", print(body)];
  return group([head, indent([line, print(body)])]);
}

function printIf(n: Extract<NixNode, { kind: "if" }>): Doc {
  const parts: Doc[] = ["if ", print(n.cond), " then", indent([line, print(n.then)])];
  let rest = n.else;
  while (rest.kind === "if") {
    parts.push(line, "else if ", print(rest.cond), " then", indent([line, print(rest.then)]));
    rest = rest.else;
  }
  parts.push(line, "else", indent([line, print(rest)]));
  return group(parts);
}

/** Binding strength (higher binds tighter) and associativity of Nix's binary operators. */
const OPERATORS: Record<BinaryOperator, { prec: number; assoc: "left" | "right" | "none" }> = {
  "++": { prec: 60, assoc: "right" },
  "*": { prec: 50, assoc: "left" },
  "/": { prec: 50, assoc: "left" },
  "+": { prec: 40, assoc: "left" },
  "-": { prec: 40, assoc: "left" },
  "//": { prec: 30, assoc: "right" },
  "<": { prec: 25, assoc: "none" },
  "<=": { prec: 25, assoc: "none" },
  ">": { prec: 25, assoc: "none" },
  ">=": { prec: 25, assoc: "none" },
  "==": { prec: 20, assoc: "none" },
  "!=": { prec: 20, assoc: "none" },
  "&&": { prec: 15, assoc: "left" },
  "||": { prec: 10, assoc: "left" },
  "->": { prec: 5, assoc: "right" },
};

type Binop = Extract<NixNode, { kind: "binop" }>;

/** Whether `child` may appear unparenthesized as the `side` operand of `op`. */
function binopOperandBare(op: BinaryOperator, child: NixNode, side: "left" | "right"): boolean {
  const { prec, assoc } = OPERATORS[op];
  if (child.kind === "apply" || isAtomic(child)) return true;
  // `!e` and `e ? a` only next to comparisons and logical operators; negative numbers,
  // lambdas, `let` and `if` are always parenthesized.
  if (child.kind === "not" || child.kind === "hasAttr") return prec <= OPERATORS["=="].prec;
  if (child.kind !== "binop") return false;
  const c = OPERATORS[child.op].prec;
  return c > prec || (c === prec && assoc === side);
}

function printBinop(n: Binop): Doc {
  // Flatten a chain of same-precedence operators along the associative side, so that
  // `a + b - c` and `a ++ b ++ c` print (and break) as one sequence.
  const { prec, assoc } = OPERATORS[n.op];
  const sameLevel = (x: NixNode): x is Binop => x.kind === "binop" && OPERATORS[x.op].prec === prec;
  const side = (op: BinaryOperator, child: NixNode, s: "left" | "right"): Doc =>
    binopOperandBare(op, child, s) ? print(child) : paren(child);
  const operands: Doc[] = [];
  const ops: BinaryOperator[] = [];
  if (assoc === "left") {
    const chain: Binop[] = [];
    let cur: NixNode = n;
    while (sameLevel(cur)) {
      chain.unshift(cur);
      cur = cur.left;
    }
    operands.push(side(chain[0]!.op, cur, "left"));
    for (const b of chain) {
      ops.push(b.op);
      operands.push(side(b.op, b.right, "right"));
    }
  } else if (assoc === "right") {
    const chain: Binop[] = [];
    let cur: NixNode = n;
    while (sameLevel(cur)) {
      chain.push(cur);
      cur = cur.right;
    }
    for (const b of chain) {
      operands.push(side(b.op, b.left, "left"));
      ops.push(b.op);
    }
    operands.push(side(chain.at(-1)!.op, cur, "right"));
  } else {
    operands.push(side(n.op, n.left, "left"), side(n.op, n.right, "right"));
    ops.push(n.op);
  }
  return group([operands[0]!, ...ops.map((op, i) => [line, op, " ", operands[i + 1]!])]);
}

// ---------------------------------------------------------------------------
// Strings

type Part = string | NixNode;

/** Merges adjacent literal parts and drops empty ones. */
function normalizeParts(parts: StringPart[]): Part[] {
  const out: Part[] = [];
  // A string literal interpolated into a string is spliced in: "a${"b${x}"}" is "ab${x}".
  const flat = (ps: StringPart[]): StringPart[] => ps.flatMap((p) => (typeof p !== "string" && p.kind === "string" ? flat(p.parts) : [p]));
  for (const p of flat(parts)) {
    if (typeof p === "string") {
      if (p === "") continue;
      const last = out.at(-1);
      if (typeof last === "string") out[out.length - 1] = last + p;
      else out.push(p);
    } else {
      out.push(p);
    }
  }
  return out;
}

function printString(parts: StringPart[]): Doc {
  const ps = normalizeParts(parts);
  return stringForm(ps) === "indented" ? indentedString(ps) : quotedString(ps);
}

/** Splits normalized parts into lines (each a list of literal chunks and interpolations). */
function splitLines(parts: Part[]): Part[][] {
  const lines: Part[][] = [[]];
  for (const p of parts) {
    if (typeof p !== "string") {
      lines.at(-1)!.push(p);
      continue;
    }
    p.split("\n").forEach((chunk, i) => {
      if (i > 0) lines.push([]);
      if (chunk !== "") lines.at(-1)!.push(chunk);
    });
  }
  return lines;
}

/**
 * Picks `''…''` only for multi-line text whose round trip is exact under Nix's
 * indentation stripping: Nix removes the smallest indentation (spaces only) of the lines
 * that contain something other than spaces, and drops a final line made only of spaces.
 * We print every line at one common extra indentation, so we need a content line with no
 * leading spaces, and a last line that is empty or holds more than spaces.
 */
function stringForm(parts: Part[]): "indented" | "quoted" {
  const lines = splitLines(parts);
  const endsWithNewline = lines.at(-1)!.length === 0;
  const contentLines = endsWithNewline ? lines.length - 1 : lines.length;
  if (contentLines < 2) return "quoted";
  const spacesOnly = (l: Part[]) => l.every((p) => typeof p === "string" && /^ *$/.test(p));
  if (!endsWithNewline && spacesOnly(lines.at(-1)!)) return "quoted";
  const hasUnindentedLine = lines.some((l) => {
    if (spacesOnly(l)) return false;
    const first = l[0];
    return typeof first !== "string" || !first.startsWith(" ");
  });
  return hasUnindentedLine ? "indented" : "quoted";
}

/** `"…"`: every byte is either itself or an escape Nix maps back to it. */
function quotedString(parts: Part[]): Doc {
  const out: Doc[] = [];
  let buf = '"';
  parts.forEach((p, idx) => {
    if (typeof p !== "string") {
      out.push(buf, interpolation(p));
      buf = "";
      return;
    }
    const interpFollows = idx + 1 < parts.length;
    for (let i = 0; i < p.length; i++) {
      const c = p[i]!;
      switch (c) {
        case "\\":
          buf += "\\\\";
          break;
        case '"':
          buf += '\\"';
          break;
        case "\n":
          buf += "\\n";
          break;
        case "\r":
          buf += "\\r";
          break;
        case "\t":
          buf += "\\t";
          break;
        case "$": {
          // `${` would open an interpolation; a `$` right before one would pair up as `$$`.
          const next = p[i + 1];
          buf += next === "{" || (next === undefined && interpFollows) ? "\\$" : "$";
          break;
        }
        default:
          buf += c;
      }
    }
  });
  out.push(`${buf}"`);
  return out;
}

/**
 * `''…''`, content one indentation level deeper than the surrounding code. Lines that
 * end in a space or tab are followed by a literal line break (prettier trims trailing
 * whitespace at ordinary line breaks); `markAsRoot` makes those breaks re-indent to the
 * content level.
 */
function indentedString(parts: Part[]): Doc {
  const lines: Doc[][] = [[]];
  const trailingWs: boolean[] = [false];
  let buf = "";
  const flush = () => {
    if (buf === "") return;
    lines.at(-1)!.push(buf);
    trailingWs[trailingWs.length - 1] = /[ \t]$/.test(buf);
    buf = "";
  };
  parts.forEach((p, idx) => {
    if (typeof p !== "string") {
      flush();
      lines.at(-1)!.push(interpolation(p));
      trailingWs[trailingWs.length - 1] = false;
      return;
    }
    const interpFollows = idx + 1 < parts.length;
    const isLastPart = !interpFollows;
    // Escapes that start with `''`; a lone literal `'` right before one must be escaped too.
    const dollarEscaped = (j: number) => p[j] === "$" && (p[j + 1] === "{" || (j + 1 === p.length && interpFollows));
    let i = 0;
    while (i < p.length) {
      const c = p[i]!;
      if (c === "\n") {
        flush();
        lines.push([]);
        trailingWs.push(false);
        i++;
      } else if (c === "'") {
        let j = i;
        while (p[j] === "'") j++;
        const run = j - i;
        buf += "'''".repeat(run >> 1);
        if (run % 2 === 1) {
          const touchesQuote = j < p.length ? p[j] === "\r" || dollarEscaped(j) : isLastPart;
          buf += touchesQuote ? "''\\'" : "'";
        }
        i = j;
      } else if (c === "$") {
        buf += dollarEscaped(i) ? "''$" : "$";
        i++;
      } else if (c === "\r") {
        buf += "''\\r";
        i++;
      } else {
        buf += c;
        i++;
      }
    }
  });
  flush();
  const endsWithNewline = lines.at(-1)!.length === 0;
  const n = endsWithNewline ? lines.length - 1 : lines.length;
  const sep = (i: number): Doc => (trailingWs[i] ? literalline : hardline);
  const content: Doc[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) content.push(sep(i - 1));
    content.push(...lines[i]!);
  }
  const body = indent([hardline, markAsRoot(content)]);
  return endsWithNewline ? markAsRoot(["''", body, sep(n - 1), "''"]) : ["''", body, "''"];
}
