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

/**
 * A variable to be named when the file is printed: every `var`, lambda parameter
 * and `let` binding that carries the same binder (by identity) gets the same name,
 * chosen by {@link resolveNames} (nix/names.ts) from `hint` so that it is unique in
 * the file. Fresh names are therefore deterministic per file, whatever order module
 * code ran in.
 */
export interface Binder {
  readonly hint: string;
}

/** A fresh binder with a naming hint (a Nix identifier such as `db` or `hbaFile`). */
export const binder = (hint: string): Binder => ({ hint });

export type Binding =
  /** `path = value;` (with `binder`, a `let` binding whose name is chosen at print time). `comment` prints above it. */
  | { kind: "attr"; path: AttrKey[]; value: NixNode; binder?: Binder; comment?: string }
  | { kind: "inherit"; from?: NixNode; names: string[] };

export type LambdaParam =
  | { kind: "ident"; name: string; binder?: Binder }
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

/**
 * A Nix expression. Any node may carry a `hint`: the name to give it should the
 * compiler bind it in a `let` (the DSL's `named`); printing ignores it.
 */
export type NixNode = NixNodeKinds & { readonly hint?: string };

type NixNodeKinds =
  | { kind: "null" }
  | { kind: "bool"; value: boolean }
  | { kind: "int"; value: number }
  | { kind: "float"; value: number }
  /** A string; `parts` alternates literal text and interpolations in any order. */
  | { kind: "string"; parts: StringPart[] }
  /** A path literal such as `./data` or `/etc/hosts` (already valid Nix path syntax). */
  | { kind: "path"; value: string }
  /** A variable; with `binder`, its name is chosen at print time (`name` is then the hint). */
  | { kind: "var"; name: string; binder?: Binder }
  | { kind: "select"; expr: NixNode; path: AttrKey[]; default?: NixNode }
  | { kind: "apply"; fn: NixNode; args: NixNode[] }
  | { kind: "list"; items: NixNode[] }
  | { kind: "attrs"; bindings: Binding[]; rec?: boolean }
  | { kind: "let"; bindings: Binding[]; body: NixNode }
  | { kind: "lambda"; param: LambdaParam; body: NixNode }
  | { kind: "if"; cond: NixNode; then: NixNode; else: NixNode }
  | { kind: "binop"; op: BinaryOperator; left: NixNode; right: NixNode }
  | { kind: "not"; expr: NixNode }
  | { kind: "hasAttr"; expr: NixNode; path: AttrKey[] }
  /**
   * Nix source written by hand (the DSL's `nix` escape hatch): `text` pieces printed
   * as they are, with the nodes between them printed as operands (parenthesized
   * unless atomic). The whole is parenthesized wherever an operand is expected.
   */
  | { kind: "raw"; parts: (string | NixNode)[] };

// ---------------------------------------------------------------------------
// Constructors: terse helpers used by the compiler and the DSL lowering.

export const nNull: NixNode = { kind: "null" };
export const nBool = (value: boolean): NixNode => ({ kind: "bool", value });
export const nInt = (value: number): NixNode => ({ kind: "int", value });
export const nFloat = (value: number): NixNode => ({ kind: "float", value });
export const nStr = (...parts: StringPart[]): NixNode => ({ kind: "string", parts });
export const nPath = (value: string): NixNode => ({ kind: "path", value });
export const nVar = (name: string): NixNode => ({ kind: "var", name });
/** A reference to a fresh variable (see {@link Binder}). */
export const nFresh = (b: Binder): NixNode => ({ kind: "var", name: b.hint, binder: b });
/** `x: body` whose parameter is a fresh variable. */
export const nFreshLambda = (b: Binder, body: NixNode): NixNode => ({
  kind: "lambda",
  param: { kind: "ident", name: b.hint, binder: b },
  body,
});
/** A `let` binding of a fresh variable. */
export const nFreshBind = (b: Binder, value: NixNode, comment?: string): Binding => ({
  kind: "attr",
  path: [b.hint],
  value,
  binder: b,
  ...(comment === undefined ? {} : { comment }),
});
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
