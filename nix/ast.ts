/**
 * A small Nix expression AST: the compiler lowers service definitions into it,
 * and `printNix` (compiler/print.ts) renders it as nixfmt-style (RFC 166) source.
 *
 * The AST only holds what the generated modules need; it is not a full Nix
 * grammar (no `with`, `assert`, or `rec` let-less tricks).
 */

/** A literal piece of text or an interpolated expression inside a string. */
export type StringPart = string | NixNode;

/** An attribute-path element: a static name, or a dynamic one (`${expr}` / `"…${expr}…"`). */
export type AttrKey = string | NixNode;

export type Binding =
  | { kind: "attr"; path: AttrKey[]; value: NixNode }
  | { kind: "inherit"; from?: NixNode; names: string[] };

export type LambdaParam =
  | { kind: "ident"; name: string }
  | { kind: "pattern"; names: string[]; ellipsis: boolean; bind?: string };

export type BinaryOperator =
  | "=="
  | "!="
  | "&&"
  | "||"
  | "->"
  | "++"
  | "//"
  | "+"
  | "-"
  | "*"
  | "/"
  | "<"
  | "<="
  | ">"
  | ">=";

export type NixNode =
  | { kind: "null" }
  | { kind: "bool"; value: boolean }
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  /** A string; `parts` alternates literal text and interpolations in any order. */
  | { kind: "string"; parts: StringPart[] }
  /** A path literal such as `./data` or `/etc/hosts` (already valid Nix path syntax). */
  | { kind: "path"; value: string }
  | { kind: "var"; name: string }
  | { kind: "select"; expr: NixNode; path: AttrKey[]; default?: NixNode }
  | { kind: "apply"; fn: NixNode; args: NixNode[] }
  | { kind: "list"; items: NixNode[] }
  | { kind: "attrs"; bindings: Binding[]; rec?: boolean }
  | { kind: "let"; bindings: Binding[]; body: NixNode }
  | { kind: "lambda"; param: LambdaParam; body: NixNode }
  | { kind: "if"; cond: NixNode; then: NixNode; else: NixNode }
  | { kind: "binop"; op: BinaryOperator; left: NixNode; right: NixNode }
  | { kind: "not"; expr: NixNode }
  | { kind: "hasAttr"; expr: NixNode; path: AttrKey[] };

// ---------------------------------------------------------------------------
// Constructors: terse helpers used by the compiler and the DSL lowering.

export const nNull: NixNode = { kind: "null" };
export const nBool = (value: boolean): NixNode => ({ kind: "bool", value });
export const nInt = (value: number): NixNode => ({ kind: "int", value });
export const nFloat = (value: number): NixNode => ({ kind: "float", value });
export const nStr = (...parts: StringPart[]): NixNode => ({ kind: "string", parts });
export const nPath = (value: string): NixNode => ({ kind: "path", value });
export const nVar = (name: string): NixNode => ({ kind: "var", name });
export const nSelect = (expr: NixNode, ...path: AttrKey[]): NixNode =>
  path.length === 0 ? expr : { kind: "select", expr, path };
export const nApply = (fn: NixNode, ...args: NixNode[]): NixNode => ({ kind: "apply", fn, args });
export const nList = (items: NixNode[]): NixNode => ({ kind: "list", items });
export const nAttrs = (bindings: Binding[]): NixNode => ({ kind: "attrs", bindings });
export const nBind = (path: AttrKey | AttrKey[], value: NixNode): Binding => ({
  kind: "attr",
  path: Array.isArray(path) ? path : [path],
  value,
});
export const nLet = (bindings: Binding[], body: NixNode): NixNode =>
  bindings.length === 0 ? body : { kind: "let", bindings, body };
export const nLambda = (param: LambdaParam, body: NixNode): NixNode => ({ kind: "lambda", param, body });
export const nPattern = (names: string[], ellipsis = true, bind?: string): LambdaParam => ({
  kind: "pattern",
  names,
  ellipsis,
  ...(bind === undefined ? {} : { bind }),
});
export const nIf = (cond: NixNode, then: NixNode, els: NixNode): NixNode => ({ kind: "if", cond, then, else: els });
export const nBinop = (op: BinaryOperator, left: NixNode, right: NixNode): NixNode => ({ kind: "binop", op, left, right });
export const nNot = (expr: NixNode): NixNode => ({ kind: "not", expr });

/** `lib.<path>` — e.g. `nLib("types", "str")`. */
export const nLib = (...path: string[]): NixNode => nSelect(nVar("lib"), ...path);

/** Converts a plain JSON-like value to a Nix literal node. */
export function nLiteral(value: unknown): NixNode {
  if (value === null) return nNull;
  if (typeof value === "boolean") return nBool(value);
  if (typeof value === "number") return Number.isInteger(value) ? nInt(value) : nFloat(value);
  if (typeof value === "string") return nStr(value);
  if (Array.isArray(value)) return nList(value.map(nLiteral));
  if (typeof value === "object") {
    return nAttrs(Object.entries(value as Record<string, unknown>).map(([k, v]) => nBind(k, nLiteral(v))));
  }
  throw new TypeError(`cannot express ${typeof value} as a Nix literal`);
}

const NIX_KEYWORDS = new Set(["if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or"]);

/** Whether `name` can stand unquoted as a Nix identifier / attribute name. */
export function isNixIdentifier(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name) && !NIX_KEYWORDS.has(name);
}
