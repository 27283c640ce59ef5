/**
 * Symbolic expressions: typed handles on Nix expressions.
 *
 * Module code never sees configured values; it sees `Expr<T>` handles such as
 * `cfg.port : Expr<number>` that lower to Nix (`config.port`). Everything a
 * module computes from configuration is therefore evaluated by Nix, per
 * instance, never guessed at build time.
 */
import { callSite, type SourceLocation } from "./location";
import {
  type NixNode,
  nApply,
  nAttrs,
  nBind,
  nBinop,
  nIf,
  nLambda,
  nLib,
  nList,
  nLiteral,
  nNot,
  nNull,
  nSelect,
  nStr,
  nVar,
  type StringPart,
} from "../nix/ast";

declare const brand: unique symbol;

/** A Nix derivation (a package), e.g. `pkgs.coreutils` or a written script. */
export type Pkg = { readonly [brand]: "package" };
/** A Nix path value (`./schema.sql`); interpolating it copies it into the store. */
export type NixPath = { readonly [brand]: "path" };
/** A Nix module value (what `lib.types.deferredModule` holds), written in TS as an attribute set of definitions. */
export type NixModule = { readonly [option: string]: unknown };
/** A Nix function taking an attribute set `A` and returning `R`. */
export type NixFunction<A, R> = { readonly [brand]: "function"; readonly _a?: A; readonly _r?: R };
/** A string that is already valid shell code: embedded as-is by the `sh` template. */
export type ShellCode = string & { readonly [brand]: "shell" };
/** A string that is already valid SQL: embedded as-is by the `sql` template. */
export type SqlCode = string & { readonly [brand]: "sql" };

/**
 * What a value is at Nix evaluation time, as far as the compiler knows.
 * Drives type-directed lowering (`toString` for ints in strings, `"${path}"` before
 * shell-escaping a path, `optionalString` vs `optionals`, …).
 */
export type Kind =
  | "string"
  | "int"
  | "float"
  | "bool"
  | "path"
  | "package"
  | "null"
  | "list"
  | "attrs"
  | "function"
  | "module"
  | "any";

const EXPR_BRAND = Symbol.for("services-ts.expr");

/** A typed handle on a Nix expression whose value has TS type `T` at evaluation time. */
export class Expr<out T> {
  declare readonly __type: T;
  /** Brand checked by {@link isExpr}, so that two loaded copies of dsl/ agree. */
  readonly [EXPR_BRAND] = true;
  constructor(
    /** The Nix expression. */
    readonly node: NixNode,
    /** The runtime kind of the value, when known. */
    readonly kind: Kind,
  ) {}
}

/** Either a plain TS value (lowered as a Nix literal) or an expression. */
export type Val<T> = T | Expr<T>;

/** `Val<T>` applied deeply: lists and records may mix literals and expressions. */
export type DeepVal<T> =
  | Expr<T>
  | (T extends Pkg | NixPath | NixFunction<unknown, unknown>
      ? never
      : T extends readonly (infer E)[]
        ? readonly DeepVal<E>[]
        : T extends object
          ? { readonly [K in keyof T]: DeepVal<T[K]> }
          : T);

/**
 * Option shapes known for expressions: a submodule value's options, or the element
 * options of a list / attrset of submodules. Lets `field` and the `map*` helpers
 * give elements the right kinds (so an int field is `toString`-ed in strings).
 */
const exprShapes = new WeakMap<object, Readonly<Record<string, { readonly kind: Kind }>>>();
/** Attaches option shape information to an expression (see {@link field}). */
export function withShape<E extends Expr<unknown>>(e: E, shape: Readonly<Record<string, { readonly kind: Kind }>> | undefined): E {
  if (shape) exprShapes.set(e, shape);
  return e;
}
/** The option shape attached to an expression, if any. */
export const shapeOf = (e: Expr<unknown>) => exprShapes.get(e);

export function isExpr(v: unknown): v is Expr<unknown> {
  return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[EXPR_BRAND] === true;
}

/** The Nix kind of a plain JS value. */
export function kindOf(v: unknown): Kind {
  if (isExpr(v)) return v.kind;
  if (v === null) return "null";
  if (typeof v === "string") return "string";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (Array.isArray(v)) return "list";
  if (typeof v === "object") return "attrs";
  return "any";
}

/**
 * Lowers a value (literal, expression, or a structure mixing both) to Nix.
 * @throws TypeError for values Nix cannot hold (undefined, functions, symbols, NaN).
 */
export function lower(v: unknown): NixNode {
  if (isExpr(v)) return v.node;
  if (v === undefined) throw new TypeError("undefined has no Nix value (use null)");
  if (typeof v === "number" && !Number.isFinite(v)) throw new TypeError(`${v} has no Nix value`);
  if (typeof v === "function" || typeof v === "symbol" || typeof v === "bigint") {
    throw new TypeError(`a ${typeof v} has no Nix value`);
  }
  if (Array.isArray(v)) return nList(v.map(lower));
  if (v !== null && typeof v === "object") {
    return nAttrs(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => nBind(k, lower(x))));
  }
  return nLiteral(v);
}

/** Wraps a Nix node as an expression of the given kind. */
export const expr = <T>(node: NixNode, kind: Kind): Expr<T> => new Expr<T>(node, kind);

// ---------------------------------------------------------------------------
// Fresh names for lambda parameters: deterministic per compilation.

let freshCounter = 0;
/** Resets the fresh-name counter; the compiler calls it before lowering each service. */
export function resetFreshNames(): void {
  freshCounter = 0;
}
/**
 * Runs `f` without consuming fresh names of the caller: whatever `f` lowers is
 * thrown away (e.g. evaluating another service's derived options for their
 * kinds), so the names in the output must not depend on whether it ran.
 */
export function isolatedFreshNames<T>(f: () => T): T {
  const saved = freshCounter;
  try {
    return f();
  } finally {
    freshCounter = saved;
  }
}

/** A fresh Nix variable name for a lambda parameter, e.g. `node3`. */
export function fresh(hint: string): string {
  freshCounter += 1;
  return `${hint}${freshCounter}`;
}

// ---------------------------------------------------------------------------
// Strings and templates.

/** Values that may be interpolated into a string template. */
export type Interpolable = string | number | Expr<string | number | Pkg | NixPath>;

/**
 * Removes the indentation of a template written across lines: drops the first
 * line when it is empty, the trailing whitespace-only line, and the common
 * leading spaces of the rest. Single-line templates are left as they are.
 */
function dedentParts(strings: readonly string[]): string[] {
  const out = [...strings];
  const first = out[0] ?? "";
  if (!/^[ \t]*\n/.test(first)) return out;
  out[0] = first.replace(/^[ \t]*\n/, "");
  const last = out.length - 1;
  out[last] = (out[last] ?? "").replace(/\n[ \t]*$/, "\n");
  // Common indentation across the start of every line of literal text.
  const joined = out.join("\u0000");
  const indents = [...joined.matchAll(/(?:^|\n)( *)(?=[^ \n])/g)].map((m) => (m[1] ?? "").length);
  const min = indents.length ? Math.min(...indents) : 0;
  if (min === 0) return out;
  const re = new RegExp(`(^|\\n) {${min}}`, "g");
  const later = new RegExp(`\\n {${min}}`, "g");
  return out.map((s, i) => (i === 0 ? s.replace(re, "$1") : s.replace(later, "\n")).replace(/\n[ \t]+(?=\n)/g, "\n"));
}

function stringPart(v: Interpolable | Expr<unknown>, where: string): StringPart {
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  if (!isExpr(v)) throw new TypeError(`${where}: cannot interpolate ${typeof v}`);
  switch (v.kind) {
    case "int":
    case "float":
      return nApply(nVar("toString"), v.node);
    case "bool":
    case "list":
    case "attrs":
    case "null":
    case "function":
    case "module":
      throw new TypeError(`${where}: cannot interpolate a ${v.kind} into a string`);
    default:
      return v.node;
  }
}

function build(parts: StringPart[]): NixNode {
  const merged: StringPart[] = [];
  // Splice nested string literals: "a${"b${x}"}" is "ab${x}".
  const flat = parts.flatMap((p) => (typeof p !== "string" && p.kind === "string" ? p.parts : [p]));
  for (const p of flat) {
    const prev = merged[merged.length - 1];
    if (typeof p === "string" && typeof prev === "string") merged[merged.length - 1] = prev + p;
    else if (p !== "") merged.push(p);
  }
  return nStr(...merged);
}

function template<T extends string>(
  strings: TemplateStringsArray,
  values: readonly unknown[],
  part: (v: unknown, index: number) => StringPart,
): Expr<T> {
  const lits = dedentParts(strings.raw.map((_, i) => strings[i] ?? ""));
  const parts: StringPart[] = [];
  lits.forEach((lit, i) => {
    parts.push(lit);
    if (i < values.length) parts.push(part(values[i], i));
  });
  return expr<T>(build(parts), "string");
}

/**
 * String interpolation: `` s`port ${cfg.port}` `` lowers to `"port ${toString config.port}"`.
 * Numbers are converted with `toString`; paths are copied to the store as Nix does.
 * A template starting with a newline is dedented (see the README's authoring guide).
 */
export function s(strings: TemplateStringsArray, ...values: Interpolable[]): Expr<string> {
  return template<string>(strings, values, (v) => stringPart(v as Interpolable, "s``"));
}

/** A value the `sh` template can embed. Shell code embeds raw; everything else is quoted. */
export type ShellInterpolable = Interpolable | Expr<ShellCode> | Expr<readonly string[]>;

/**
 * Shell code with safe interpolation: every interpolated string, path or package is
 * quoted with `lib.escapeShellArg` (paths are first copied to the store), numbers are
 * embedded as digits, string lists become `lib.escapeShellArgs`, and `ShellCode`
 * (another `sh` template, or {@link raw}) is embedded as it is.
 *
 * @example sh`exec redis-server ${conf} --dir ${cfg.dataDir}`
 */
export function sh(strings: TemplateStringsArray, ...values: ShellInterpolable[]): Expr<ShellCode> {
  return markShell(template<ShellCode>(strings, values, (v) => shellPart(v)));
}

function shellPart(v: unknown): StringPart {
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return v === "" ? "''" : (lower(shellQuote(v)) as { parts: StringPart[] }).parts.join("");
  if (!isExpr(v)) throw new TypeError(`sh\`\`: cannot interpolate ${typeof v}`);
  if (v.kind === "int" || v.kind === "float") return nApply(nVar("toString"), v.node);
  if (v.kind === "list") return nApply(nLib("escapeShellArgs"), v.node);
  if (isShellCode(v)) return v.node;
  if (v.kind === "path") return nApply(nLib("escapeShellArg"), nStr(v.node));
  if (v.kind === "string" || v.kind === "package" || v.kind === "any") return nApply(nLib("escapeShellArg"), v.node);
  throw new TypeError(`sh\`\`: cannot interpolate a ${v.kind} into shell code`);
}

const shellCodeExprs = new WeakSet<Expr<unknown>>();
const sqlCodeExprs = new WeakSet<Expr<unknown>>();
function isShellCode(v: Expr<unknown>): boolean {
  return shellCodeExprs.has(v);
}
function markShell<T>(e: Expr<T>): Expr<T> {
  shellCodeExprs.add(e);
  return e;
}

/** POSIX single-quote quoting of a literal known at build time. */
function shellQuote(v: string): string {
  return /^[A-Za-z0-9,._+:@%/=-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/**
 * Marks a string expression as trusted shell code, embedded by `sh` without quoting.
 * Use only for text that is shell by construction (e.g. a user's `extraConfig` meant as shell).
 */
export function raw(v: Val<string>): Expr<ShellCode> {
  return markShell(expr<ShellCode>(lower(v), "string"));
}

/** Quotes a string for the shell at Nix evaluation time (`lib.escapeShellArg`). */
export function shellArg(v: Val<string> | Expr<Pkg> | Expr<NixPath>): Expr<ShellCode> {
  return sh`${v}`;
}

function asExpr<T>(v: Val<T>): Expr<T> {
  return isExpr(v) ? v : expr<T>(lower(v), kindOf(v));
}

/**
 * SQL with safe interpolation: interpolated strings become SQL string literals
 * (`'…'` with `'` doubled, standard_conforming_strings), numbers are embedded as
 * digits, `SqlCode` (another `sql` template, or {@link ident}) is embedded as-is.
 * See https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-STRINGS
 */
export function sql(strings: TemplateStringsArray, ...values: (Interpolable | Expr<SqlCode>)[]): Expr<SqlCode> {
  const e = template<SqlCode>(strings, values, (v) => {
    if (typeof v === "number") return String(v);
    if (isExpr(v) && sqlCodeExprs.has(v)) return v.node;
    if (isExpr(v) && (v.kind === "int" || v.kind === "float")) return nApply(nVar("toString"), v.node);
    return nApply(nVar("sqlLiteral"), asExpr(v as Val<string>).node);
  });
  sqlCodeExprs.add(e);
  return e;
}

/** A quoted SQL identifier (`"…"` with `"` doubled), e.g. a database or role name. */
export function ident(v: Val<string>): Expr<SqlCode> {
  const e = expr<SqlCode>(nApply(nVar("sqlIdentifier"), asExpr(v).node), "string");
  sqlCodeExprs.add(e);
  return e;
}

/** A SQL string literal (`'…'` with `'` doubled). */
export function sqlLiteral(v: Val<string>): Expr<SqlCode> {
  const e = expr<SqlCode>(nApply(nVar("sqlLiteral"), asExpr(v).node), "string");
  sqlCodeExprs.add(e);
  return e;
}

// ---------------------------------------------------------------------------
// Logic and collections.

/** `if cond then a else b`. */
export function cond<T>(c: Val<boolean>, a: Val<T>, b: Val<T>): Expr<T> {
  const kind = kindOf(a) === "null" ? kindOf(b) : kindOf(a);
  const e = expr<T>(nIf(lower(c), lower(a), lower(b)), kind);
  if ((isExpr(a) && shellCodeExprs.has(a)) || (isExpr(b) && shellCodeExprs.has(b))) markShell(e);
  return e;
}

/**
 * `value` when `c` holds, else the empty value of its kind: `lib.optionalString`,
 * `lib.optionals` or `lib.optionalAttrs`.
 * @throws TypeError when the value's kind has no empty value.
 */
export function optional<T extends string | readonly unknown[] | Record<string, unknown>>(
  c: Val<boolean>,
  value: DeepVal<T>,
): Expr<T> {
  const kind = kindOf(value);
  const fn = kind === "string" ? "optionalString" : kind === "list" ? "optionals" : kind === "attrs" ? "optionalAttrs" : null;
  if (!fn) throw new TypeError(`optional(): a ${kind} has no empty value; use cond()`);
  const e = expr<T>(nApply(nLib(fn), lower(c), lower(value)), kind);
  if (isExpr(value) && shellCodeExprs.has(value)) markShell(e);
  return e;
}

/** `a == b`. */
export const eq = <T>(a: Val<T>, b: Val<T>): Expr<boolean> => expr(nBinop("==", lower(a), lower(b)), "bool");
/** `a != null`. */
export const notNull = (a: Expr<unknown>): Expr<boolean> => expr(nBinop("!=", a.node, nNull), "bool");
/** `a == null`. */
export const isNull = (a: Expr<unknown>): Expr<boolean> => expr(nBinop("==", a.node, nNull), "bool");
/** `!a`. */
export const not = (a: Val<boolean>): Expr<boolean> => expr(nNot(lower(a)), "bool");
/** `a && b && …`. */
export const and = (...xs: Val<boolean>[]): Expr<boolean> =>
  expr(xs.map(lower).reduce((l, r) => nBinop("&&", l, r)), "bool");
/** `a || b || …`. */
export const or = (...xs: Val<boolean>[]): Expr<boolean> =>
  expr(xs.map(lower).reduce((l, r) => nBinop("||", l, r)), "bool");

/**
 * `if v != null then f v else fallback`, with `v` narrowed to non-null inside `f`.
 */
export function ifSet<T, R>(v: Expr<T | null>, f: (x: Expr<NonNullable<T>>) => Val<R>, fallback: Val<R>): Expr<R> {
  const inner = f(expr<NonNullable<T>>(v.node, v.kind));
  return cond<R>(notNull(v), inner, fallback);
}

/** `toString v`: ints, floats, paths and packages to strings. */
export const toStr = (v: Expr<number | string | Pkg | NixPath>): Expr<string> =>
  expr(nApply(nVar("toString"), v.node), "string");

/** `builtins.toJSON v`. */
export const toJSON = (v: Expr<unknown> | DeepVal<unknown>): Expr<string> =>
  expr(nApply(nSelect(nVar("builtins"), "toJSON"), lower(v)), "string");

/** `lib.replaceStrings from to s`: each `from[i]` is replaced by `to[i]`, left to right. */
export const replaceStrings = (from: readonly string[], to: readonly string[], str: Val<string>): Expr<string> =>
  expr(nApply(nLib("replaceStrings"), lower(from), lower(to), lower(str)), "string");

/** `lib.toLower s`. */
export const toLower = (str: Val<string>): Expr<string> => expr(nApply(nLib("toLower"), lower(str)), "string");

/** `lib.hasPrefix prefix s`. */
export const hasPrefix = (prefix: Val<string>, str: Val<string>): Expr<boolean> =>
  expr(nApply(nLib("hasPrefix"), lower(prefix), lower(str)), "bool");

/**
 * Whether `str` matches the POSIX extended regular expression `regex` as a whole
 * (`builtins.match regex str != null`).
 */
export const matches = (regex: string, str: Val<string>): Expr<boolean> =>
  expr(nBinop("!=", nApply(nSelect(nVar("builtins"), "match"), nStr(regex), lower(str)), nNull), "bool");

/** `lib.concatStrings list`. */
export function concatStrings<T extends string>(list: Val<readonly T[]> | readonly Val<T>[]): Expr<T> {
  const e = expr<T>(nApply(nLib("concatStrings"), lower(list)), "string");
  if (Array.isArray(list) && list.some((x) => isExpr(x) && shellCodeExprs.has(x))) markShell(e);
  if (isExpr(list) && listOfShell.has(list)) markShell(e);
  return e;
}

/** `lib.concatStringsSep sep list`. */
export const join = (sep: string, list: Val<readonly string[]> | readonly Val<string>[]): Expr<string> =>
  expr(nApply(nLib("concatStringsSep"), lower(sep), lower(list)), "string");

const listOfShell = new WeakSet<Expr<unknown>>();

/**
 * `map (x: f x) list`. The callback receives an expression for one element.
 * The element handle is typed like the list's elements (submodule elements give
 * field access through {@link field}).
 */
export function mapList<E, R>(list: Expr<readonly E[]>, f: (x: Expr<E>) => DeepVal<R>, hint = "x"): Expr<R[]> {
  const v = fresh(hint);
  const body = f(withShape(expr<E>(nVar(v), shapeOf(list) ? "attrs" : "any"), shapeOf(list)));
  const e = expr<R[]>(nApply(nVar("map"), nLambda({ kind: "ident", name: v }, lower(body)), list.node), "list");
  if (isExpr(body) && shellCodeExprs.has(body)) listOfShell.add(e);
  return e;
}

/** `lib.mapAttrsToList (k: v: f k v) attrs`. */
export function mapAttrsToList<V, R>(
  attrs: Expr<Record<string, V>>,
  f: (key: Expr<string>, value: Expr<V>) => DeepVal<R>,
  hint = "v",
): Expr<R[]> {
  const k = fresh("name");
  const v = fresh(hint);
  const body = f(expr<string>(nVar(k), "string"), withShape(expr<V>(nVar(v), shapeOf(attrs) ? "attrs" : "any"), shapeOf(attrs)));
  const e = expr<R[]>(
    nApply(
      nLib("mapAttrsToList"),
      nLambda({ kind: "ident", name: k }, nLambda({ kind: "ident", name: v }, lower(body))),
      attrs.node,
    ),
    "list",
  );
  if (isExpr(body) && shellCodeExprs.has(body)) listOfShell.add(e);
  return e;
}

/** `list1 ++ list2 ++ …`. */
export function concatLists<E>(...lists: (Expr<readonly E[]> | readonly DeepVal<E>[])[]): Expr<E[]> {
  return expr(lists.map(lower).reduce((l, r) => nBinop("++", l, r)), "list");
}

/** `a // b`: `b`'s attributes override `a`'s. */
export function update<T extends Record<string, unknown>>(a: DeepVal<T> | Expr<T>, b: DeepVal<T> | Expr<T>): Expr<T> {
  return expr(nBinop("//", lower(a), lower(b)), "attrs");
}

/** `e.field`: reads an attribute of an expression whose type is a record. */
export function field<T, K extends keyof T & string>(e: Expr<T>, key: K): Expr<T[K]> {
  const opt = shapeOf(e)?.[key] as ({ kind: Kind; elementShape?: Record<string, { kind: Kind }> } | undefined);
  return withShape(expr<T[K]>(nSelect(e.node, key), opt?.kind ?? "any"), opt?.elementShape);
}

/** Typed predicates over a value of union type: dispatches on `builtins.isBool` etc. */
export function switchType<R>(
  v: Expr<unknown>,
  cases: {
    bool?: (x: Expr<boolean>) => Val<R>;
    string?: (x: Expr<string>) => Val<R>;
    int?: (x: Expr<number>) => Val<R>;
    float?: (x: Expr<number>) => Val<R>;
    path?: (x: Expr<NixPath>) => Val<R>;
    other: (x: Expr<unknown>) => Val<R>;
  },
): Expr<R> {
  const tests: [keyof typeof cases, string, Kind][] = [
    ["bool", "isBool", "bool"],
    ["string", "isString", "string"],
    ["int", "isInt", "int"],
    ["float", "isFloat", "float"],
    ["path", "isPath", "path"],
  ];
  let out = lower(cases.other(v));
  let kind: Kind = kindOf(cases.other(v));
  for (const [key, pred, k] of tests.reverse()) {
    const f = cases[key] as ((x: Expr<unknown>) => Val<R>) | undefined;
    if (!f) continue;
    const branch = f(expr(v.node, k));
    kind = kindOf(branch);
    out = nIf(nApply(nSelect(nVar("builtins"), pred), v.node), lower(branch), out);
  }
  return expr<R>(out, kind);
}

/** `e.a.b`: an attribute of any expression (for package attributes such as `withPackages`). */
export const select = <T = unknown>(e: Expr<unknown>, ...path: string[]): Expr<T> => expr<T>(nSelect(e.node, ...path), "any");

/** `f a b`: applies a function expression to arguments; `kind` is what it returns. */
export const apply = <R>(f: Expr<unknown>, kind: Kind, ...args: (Expr<unknown> | DeepVal<unknown>)[]): Expr<R> =>
  expr<R>(nApply(f.node, ...args.map(lower)), kind);

/** Calls a Nix function taking an attribute set: `f { a = …; }`. */
export function call<A, R>(f: Expr<NixFunction<A, R>>, args: DeepVal<A>, kind: Kind = "any"): Expr<R> {
  return expr<R>(nApply(f.node, lower(args)), kind);
}

/**
 * A Nix function of an attribute set: `{ a, b, ... }: body`.
 * @example fn(["dbName"], ({ dbName }) => s`postgres://host/${dbName}`)
 */
export function fn<const K extends string, R>(
  names: readonly K[],
  body: (args: { [P in K]: Expr<string> }) => Val<R>,
): Expr<NixFunction<{ [P in K]: string }, R>> {
  const args = Object.fromEntries(names.map((n) => [n, expr<string>(nVar(n), "any")])) as { [P in K]: Expr<string> };
  return expr(nLambda({ kind: "pattern", names: [...names], ellipsis: true }, lower(body(args))), "function");
}

/** `lib.getExe' pkg "bin"`: the store path of a program in a package. */
export const exe = (pkg: Expr<Pkg>, program?: string): Expr<string> =>
  expr(program === undefined ? nApply(nLib("getExe"), pkg.node) : nApply(nLib("getExe'"), pkg.node, nStr(program)), "string");


/** The value of a list given element-by-element in TS: `[ a b ]`. */
export const list = <E>(...items: DeepVal<E>[]): Expr<E[]> => expr(nList(items.map(lower)), "list");


// ---------------------------------------------------------------------------
// Named helper functions, emitted once per generated file.

/** A helper function definition, attached to the variable nodes that call it. */
export interface HelperDef {
  readonly name: string;
  /** `param: body`. */
  readonly lambda: NixNode;
  readonly location: SourceLocation | undefined;
}

/** Property of a `var` node naming the helper it calls (see {@link helper}). */
export const HELPER = "helper" as const;

/**
 * A named Nix function of one argument, defined once in the generated file's
 * `let` block (`name = param: body;`) and called as `name x`, instead of being
 * inlined at every use. The body may use only its argument (no `cfg` or
 * `name`): it is closed, as it sits outside the instance module.
 *
 * @example const hbaField = helper("hbaField", "field", (f: Expr<string>) => cond(…));
 * @throws DefinitionError (from the compiler) when the body uses instance values.
 */
export function helper<A, R>(name: string, param: string, body: (arg: Expr<A>) => Expr<R>): (arg: Val<A>) => Expr<R> {
  const location = callSite();
  let def: HelperDef | undefined;
  let kind: Kind = "any";
  const getDef = (): HelperDef => {
    if (!def) {
      const out = isolatedFreshNames(() => body(expr<A>(nVar(param), "any")));
      kind = out.kind;
      def = { name, lambda: nLambda({ kind: "ident", name: param }, out.node), location };
    }
    return def;
  };
  return (arg) => {
    const d = getDef();
    const fnNode = { kind: "var", name, [HELPER]: d } as NixNode;
    return expr<R>(nApply(fnNode, lower(arg)), kind);
  };
}
