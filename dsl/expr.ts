/**
 * Symbolic expressions: typed handles on Nix expressions.
 *
 * Module code never sees configured values; it sees `Expr<T>` handles such as
 * `cfg.port : Expr<number>` that lower to Nix (`config.port`). Everything a
 * module computes from configuration is therefore evaluated by Nix, per
 * instance, never guessed at build time.
 */
import { callSite, DefinitionError, type SourceLocation } from "./location";
import {
  type Binder,
  binder,
  type NixNode,
  nApply,
  nAttrs,
  nBind,
  nBinop,
  nFresh,
  nFreshLambda,
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
import type { OptionType } from "./types";

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

/**
 * What the text of a string value is, beyond its Nix kind: `shell` code (embedded
 * raw by `sh`), `sql` code (embedded raw by `sql`), or plain text (undefined), which
 * every template quotes for where it lands. For a list, the role of its elements.
 */
export type Role = "shell" | "sql";

const EXPR_BRAND = Symbol.for("services-ts.expr");

/** What an expression carries besides its node and kind (see {@link Expr}). */
export interface ExprInfo {
  /** What its text is (see {@link Role}). */
  readonly role?: Role;
  /** The option type its value has, when it comes from an option: gives field access and element kinds. */
  readonly type?: OptionType<unknown>;
  /** Where the text's first line was written (an `sh` template), to map findings on it back to TS lines. */
  readonly origin?: SourceLocation;
}

/**
 * A typed handle on a Nix expression whose value has TS type `T` at evaluation time.
 *
 * Everything the compiler needs to know about the value travels with it: its Nix
 * `kind`, its text role (shell or SQL code) and its option type. So `let`, `cond`,
 * `mapList` and every other helper keep them, and no side table can lose them.
 *
 * An `Expr` is not a string: using one in a plain template literal or with `+`
 * throws (use `s```, `sh``` or `sql```).
 */
export class Expr<out T> {
  declare readonly __type: T;
  /** Brand checked by {@link isExpr}, so that two loaded copies of dsl/ agree. */
  readonly [EXPR_BRAND] = true;
  /** Role and option type (see {@link ExprInfo}). */
  readonly info: ExprInfo;
  constructor(
    /** The Nix expression. */
    readonly node: NixNode,
    /** The runtime kind of the value, when known. */
    readonly kind: Kind,
    info: ExprInfo = {},
  ) {
    this.info = info;
  }

  /** @throws TypeError: an expression has no text at build time. */
  [Symbol.toPrimitive](): never {
    throw new DefinitionError(
      "a Nix expression was used as a JS string or number (a plain template literal, `+`, or String()); " +
        "interpolate it with s``, sh`` or sql`` instead",
      callSite(),
    );
  }
  /** @throws like {@link Expr[Symbol.toPrimitive]}. */
  toString(): never {
    return this[Symbol.toPrimitive]();
  }
}

/** Names an option may not have inside a submodule, since field access would shadow an `Expr` member. */
export const EXPR_MEMBERS: ReadonlySet<string> = new Set(["node", "kind", "info", "toString"]);

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

type Opaque = Pkg | NixPath | NixFunction<never, unknown> | string | number | boolean | null | undefined | readonly unknown[];

/**
 * The fields of a record value (a submodule's options) as handles; nothing for
 * other values (lists, attribute sets of any names, scalars, nullable records).
 */
export type FieldsOf<T> = [T] extends [Opaque]
  ? unknown
  : [T] extends [object]
    ? string extends keyof T
      ? unknown
      : { readonly [K in keyof T]-?: Ref<T[K]> }
    : unknown;

/**
 * The Nix value type of a TS value that may mix literals and expressions: what a
 * `mapList` callback returns (`{ port: Expr<number> }` is `{ port: number }`).
 */
export type PlainOf<B> =
  B extends Expr<infer X>
    ? X
    : B extends readonly (infer I)[]
      ? PlainOf<I>[]
      : B extends string | number | boolean | null
        ? B extends string ? string : B extends number ? number : B extends boolean ? boolean : null
        : B extends object
          ? { [K in keyof B]: PlainOf<B[K]> }
          : B;

/**
 * A handle on a value with typed field access when it is a record: `cfg.initialScript.before`,
 * or `db.name` for an element of a list of submodules in {@link mapList}.
 */
export type Ref<T> = Expr<T> & FieldsOf<T>;

/** Whether `v` is an expression handle (an {@link Expr}, from any loaded copy of dsl/). */
export function isExpr(v: unknown): v is Expr<unknown> {
  return typeof v === "object" && v !== null && (v as Record<symbol, unknown>)[EXPR_BRAND] === true;
}

/** The role of a value's text (undefined for plain text and for non-expressions). */
export const roleOf = (v: unknown): Role | undefined => (isExpr(v) ? v.info.role : undefined);

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
export const expr = <T>(node: NixNode, kind: Kind, info: ExprInfo = {}): Expr<T> => new Expr<T>(node, kind, info);

/**
 * A handle on a value of option type `type` at `node`: with field handles when the
 * type is a submodule, so `ref.<field>` is typed and knows its own kind.
 */
export function refOf<T>(node: NixNode, type: OptionType<unknown>, role?: Role): Ref<T> {
  const e = new Expr<T>(node, type.kind, role === undefined ? { type } : { type, role });
  if (type.ctor.name === "submodule") {
    for (const [key, opt] of Object.entries(type.ctor.shape)) {
      Object.defineProperty(e, key, { get: () => refOf(nSelect(node, key), opt), enumerable: true });
    }
  }
  return e as Ref<T>;
}

/** The same value under another node (a `let` variable, a lambda parameter), keeping what it is. */
export function rebind<T>(e: Expr<T>, node: NixNode): Ref<T> {
  return e.info.type ? refOf<T>(node, e.info.type, e.info.role) : (expr<T>(node, e.kind, e.info) as Ref<T>);
}

/** The option type of the elements of a list, attribute set or nullable value. */
function elementType(e: Expr<unknown>): OptionType<unknown> | undefined {
  const c = e.info.type?.ctor;
  return c && (c.name === "listOf" || c.name === "attrsOf" || c.name === "nullOr") ? c.of : undefined;
}

/** A handle on an element of `container` bound to `node` (a lambda parameter). */
function elementRef<E>(container: Expr<unknown>, node: NixNode): Ref<E> {
  const t = elementType(container);
  return t ? refOf<E>(node, t, container.info.role) : (expr<E>(node, "any", container.info.role ? { role: container.info.role } : {}) as Ref<E>);
}

// ---------------------------------------------------------------------------
// Fresh names.

/**
 * A fresh variable for a lambda parameter or `let` binding, named when the file is
 * printed (unique in the file, deterministic; see nix/names.ts).
 * @param hint the name to use when free, e.g. `db` (a Nix identifier).
 */
export function fresh(hint: string): Binder {
  return binder(hint);
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
  // Splice nested string literals: "a${"b${x}"}" is "ab${x}" — except a `named` one,
  // kept whole so that the compiler can bind it once (the printer splices it back otherwise).
  const flat = parts.flatMap((p) => (typeof p !== "string" && p.kind === "string" && !("hint" in p) ? p.parts : [p]));
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
 * A template starting with a newline is dedented (see README.md, "The language, in dsl/").
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
 * (another `sh` template, {@link raw}, or anything computed from them) is embedded as it is.
 *
 * @example sh`exec redis-server ${conf} --dir ${cfg.dataDir}`
 */
export function sh(strings: TemplateStringsArray, ...values: ShellInterpolable[]): Expr<ShellCode> {
  const at = callSite();
  // JS reads `\` at the end of a line as a line continuation and drops both: the shell would
  // see one long line where the author wrote two.
  strings.raw.forEach((raw, i) => {
    const m = /(?:^|[^\\])(?:\\\\)*\\\r?\n/.exec(raw);
    if (m) {
      const line = (at?.line ?? 0) + strings.raw.slice(0, i).join("").split("\n").length - 1 + raw.slice(0, m.index).split("\n").length - 1;
      throw new DefinitionError("sh``: a `\\` at the end of a line is a JavaScript line continuation (the line break is lost); write `\\\\` for the shell's", at && { ...at, line });
    }
  });
  const e = template<ShellCode>(strings, values, (v) => shellPart(v));
  // A template that starts with a newline is dedented: its text starts on the next line.
  const origin = at && { ...at, line: at.line + (/^[ \t]*\n/.test(strings[0] ?? "") ? 1 : 0) };
  return expr<ShellCode>(e.node, e.kind, origin ? { role: "shell", origin } : { role: "shell" });
}

function shellPart(v: unknown): StringPart {
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return v === "" ? "''" : (lower(shellQuote(v)) as { parts: StringPart[] }).parts.join("");
  if (!isExpr(v)) throw new TypeError(`sh\`\`: cannot interpolate ${typeof v}`);
  if (v.kind === "int" || v.kind === "float") return nApply(nVar("toString"), v.node);
  if (v.info.role === "shell") return v.kind === "list" ? nApply(nLib("concatStringsSep"), nStr(" "), v.node) : v.node;
  if (v.kind === "list") return nApply(nLib("escapeShellArgs"), v.node);
  if (v.kind === "path") return nApply(nLib("escapeShellArg"), nStr(v.node));
  if (v.kind === "string" || v.kind === "package" || v.kind === "any") return nApply(nLib("escapeShellArg"), v.node);
  throw new TypeError(`sh\`\`: cannot interpolate a ${v.kind} into shell code`);
}

/** The same expression with its text's role set. */
function withRole<T>(e: Expr<T>, role: Role | undefined): Expr<T> {
  if (role === e.info.role) return e;
  const { role: _old, ...rest } = e.info;
  return expr<T>(e.node, e.kind, role === undefined ? rest : { ...rest, role });
}

/**
 * The role shared by values combined into one (`cond` branches, `concatStrings`
 * elements): shell (or SQL) code stays code only when every expression combined is
 * that code; literal TS strings count as code, since the module's author wrote them.
 * @throws TypeError when code and plain-text expressions are mixed: the plain text
 *   would be embedded unquoted.
 */
function commonRole(values: readonly unknown[], where: string): Role | undefined {
  const roles = new Set(values.filter(isExpr).filter((v) => v.kind !== "null").map((v) => v.info.role));
  if (roles.size <= 1) return [...roles][0];
  const code = [...roles].filter((r) => r !== undefined);
  throw new TypeError(
    `${where}: mixes ${code.join(" and ")} code with ${roles.has(undefined) ? "plain text" : "other code"}; ` +
      "quote the plain text for where it lands (shellArg(), sqlLiteral()) or build it with sh``/sql``",
  );
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
  return expr<ShellCode>(lower(v), "string", { role: "shell" });
}

/**
 * Marks a string expression as trusted SQL, embedded by `sql` without quoting: a
 * user's SQL script option, or text quoted for SQL (or psql) by construction.
 */
export function rawSql(v: Val<string>): Expr<SqlCode> {
  return expr<SqlCode>(lower(v), "string", { role: "sql" });
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
    if (isExpr(v) && v.info.role === "sql") return v.node;
    if (isExpr(v) && (v.kind === "int" || v.kind === "float")) return nApply(nVar("toString"), v.node);
    return nApply(nVar("sqlLiteral"), asExpr(v as Val<string>).node);
  });
  return withRole(e, "sql");
}

/** A quoted SQL identifier (`"…"` with `"` doubled), e.g. a database or role name. */
export function ident(v: Val<string>): Expr<SqlCode> {
  return expr<SqlCode>(nApply(nVar("sqlIdentifier"), asExpr(v).node), "string", { role: "sql" });
}

/** A SQL string literal (`'…'` with `'` doubled). */
export function sqlLiteral(v: Val<string>): Expr<SqlCode> {
  return expr<SqlCode>(nApply(nVar("sqlLiteral"), asExpr(v).node), "string", { role: "sql" });
}

/**
 * A MySQL/MariaDB string literal: `'…'` with `\` written `\\` and `'` written `''`.
 * Also the quoting of account names (`'user'@'localhost'`). Correct in the default
 * `sql_mode`; a script that must not depend on the server's mode starts its session
 * with `SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')`.
 * See https://mariadb.com/kb/en/string-literals/
 */
export const mysqlLiteral: (v: Val<string>) => Expr<SqlCode> = helper<string, SqlCode>("mysqlLiteral", "s", (s) =>
  expr<SqlCode>(nStr("'", nApply(nLib("replaceStrings"), lower(["\\", "'"]), lower(["\\\\", "''"]), s.node), "'"), "string", { role: "sql" }),
);

/**
 * A MySQL/MariaDB quoted identifier (a database or table name): `` `…` `` with
 * `` ` `` doubled. See https://mariadb.com/kb/en/identifier-names/
 */
export const mysqlIdent: (v: Val<string>) => Expr<SqlCode> = helper<string, SqlCode>("mysqlIdent", "s", (s) =>
  expr<SqlCode>(nStr("`", nApply(nLib("replaceStrings"), lower(["`"]), lower(["``"]), s.node), "`"), "string", { role: "sql" }),
);

/**
 * MySQL/MariaDB SQL with safe interpolation, as {@link sql} is for PostgreSQL:
 * interpolated strings become {@link mysqlLiteral}s, numbers digits, and SQL code
 * (another template, a {@link mysqlIdent}) is embedded as it is.
 * @example mysqlSql`CREATE DATABASE IF NOT EXISTS ${mysqlIdent(db.name)}`
 */
export function mysqlSql(strings: TemplateStringsArray, ...values: (Interpolable | Expr<SqlCode>)[]): Expr<SqlCode> {
  const e = template<SqlCode>(strings, values, (v) => {
    if (typeof v === "number") return String(v);
    if (isExpr(v) && v.info.role === "sql") return v.node;
    if (isExpr(v) && (v.kind === "int" || v.kind === "float")) return nApply(nVar("toString"), v.node);
    return mysqlLiteral(asExpr(v as Val<string>)).node;
  });
  return withRole(e, "sql");
}

/**
 * Nix source written by hand, for what the DSL has no construct for: a typed escape
 * hatch. Interpolated expressions are embedded as operands (parenthesized when
 * needed); the text is not checked until Nix parses the generated file (the
 * `[nix parse]` tier), so keep it to one small expression.
 *
 * @param kind the Nix kind of the result.
 * @example nix<Pkg>("package")`${cfg.package}.withPackages ${cfg.extensions}`
 */
export function nix<T>(kind: Kind, role?: Role) {
  return (strings: TemplateStringsArray, ...values: readonly (Expr<unknown> | DeepVal<unknown>)[]): Expr<T> => {
    const parts: (string | NixNode)[] = [];
    strings.forEach((lit, i) => {
      if (lit !== "") parts.push(lit);
      if (i < values.length) parts.push(lower(values[i]));
    });
    return expr<T>({ kind: "raw", parts }, kind, role === undefined ? {} : { role });
  };
}

// ---------------------------------------------------------------------------
// Logic and collections.

/**
 * Names an expression for the generated Nix: when the compiler binds it once in a
 * `let` (because it is used more than once), the binding is called `hint` (or
 * `hint1`, … when taken) instead of a name made up from its shape.
 * @example const clauses = named("clauses", concatStrings(…))
 */
export function named<E extends Expr<unknown>>(hint: string, e: E): E {
  if (!/^[A-Za-z_][A-Za-z0-9_'-]*$/.test(hint)) throw new TypeError(`named(): "${hint}" is not a Nix identifier`);
  const node: NixNode = { ...e.node, hint };
  return (e.info.type ? refOf(node, e.info.type, e.info.role) : expr(node, e.kind, e.info)) as E;
}

/** `if cond then a else b`. The result keeps the branches' kind, option type and text role. */
export function cond<T>(c: Val<boolean>, a: Val<T> | DeepVal<T>, b: Val<T> | DeepVal<T>): Ref<T> {
  const kind = kindOf(a) === "null" ? kindOf(b) : kindOf(a);
  const role = commonRole([a, b], "cond()");
  const type = isExpr(a) && a.info.type ? a.info.type : isExpr(b) ? b.info.type : undefined;
  const node = nIf(lower(c), lower(a), lower(b));
  return type ? refOf<T>(node, type, role) : (expr<T>(node, kind, role === undefined ? {} : { role }) as Ref<T>);
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
  return expr<T>(nApply(nLib(fn), lower(c), lower(value)), kind, isExpr(value) ? value.info : {});
}

/** `a == b`. */
export const eq = <T>(a: Val<T>, b: Val<T>): Expr<boolean> => expr(nBinop("==", lower(a), lower(b)), "bool");
/** `a != b`. */
export const neq = <T>(a: Val<T>, b: Val<T>): Expr<boolean> => expr(nBinop("!=", lower(a), lower(b)), "bool");
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

/** How many elements a list has, or attributes an attribute set (`builtins.length`, of `builtins.attrNames`). */
export function count(x: Expr<readonly unknown[] | Readonly<Record<string, unknown>>>): Expr<number> {
  const b = (f: string) => nSelect(nVar("builtins"), f);
  if (x.kind === "list") return expr(nApply(b("length"), x.node), "int");
  if (x.kind === "attrs") return expr(nApply(b("length"), nApply(b("attrNames"), x.node)), "int");
  throw new TypeError(`count(): expected a list or attribute set, got a ${x.kind}`);
}

/** `a >= b` (numbers). */
export const gte = (a: Val<number>, b: Val<number>): Expr<boolean> => expr(nBinop(">=", lower(a), lower(b)), "bool");
/** `a * b` (numbers). */
export const times = (a: Val<number>, b: Val<number>): Expr<number> => expr(nBinop("*", lower(a), lower(b)), "int");
/** `a + b` (numbers). */
export const plus = (a: Val<number>, b: Val<number>): Expr<number> => expr(nBinop("+", lower(a), lower(b)), "int");

/** Whether a list, string or attribute set has something in it: `x != [ ]` (`""`, `{ }`). */
export function nonEmpty(x: Expr<readonly unknown[] | string | Readonly<Record<string, unknown>>>): Expr<boolean> {
  const empty = x.kind === "string" ? nStr() : x.kind === "attrs" ? nAttrs([]) : nList([]);
  if (x.kind !== "string" && x.kind !== "attrs" && x.kind !== "list") {
    throw new TypeError(`nonEmpty(): expected a list, string or attribute set, got a ${x.kind}`);
  }
  return expr(nBinop("!=", x.node, empty), "bool");
}

/**
 * `if v != null then f v else fallback`, with `v` narrowed to non-null inside `f`.
 */
export function ifSet<T, R>(v: Expr<T | null>, f: (x: Ref<NonNullable<T>>) => Val<R>, fallback: Val<R>): Ref<R> {
  const inner = f(nonNullRef(v));
  return cond<R>(notNull(v), inner, fallback);
}

/** The non-null view of a nullable value (same node; the option type of `nullOr`'s element). */
function nonNullRef<T>(v: Expr<T | null>): Ref<NonNullable<T>> {
  const t = v.info.type?.ctor.name === "nullOr" ? elementType(v) : v.info.type;
  return t ? refOf(v.node, t, v.info.role) : (expr<NonNullable<T>>(v.node, v.kind, v.info) as Ref<NonNullable<T>>);
}

/**
 * A nullable value, or `fallback` when it is null: `if v != null then v else fallback`.
 * @example orElse(db.schemas, []) // Expr<NixPath[]>
 */
export function orElse<T>(v: Expr<T | null>, fallback: DeepVal<NonNullable<T>>): Ref<NonNullable<T>> {
  return cond<NonNullable<T>>(notNull(v), nonNullRef(v), fallback as Val<NonNullable<T>>);
}

/** `toString v`: ints, floats, paths and packages to strings. */
export const toStr = (v: Expr<number | string | Pkg | NixPath>): Expr<string> =>
  expr(nApply(nVar("toString"), v.node), "string");

/** `builtins.toJSON v`. */
export const toJSON = (v: Expr<unknown> | DeepVal<unknown>): Expr<string> =>
  expr(nApply(nSelect(nVar("builtins"), "toJSON"), lower(v)), "string");

/**
 * An INI file's text from sections of settings, `lib.generators.toINI`: `[section]`
 * headers, then `key=value` lines; booleans as `true`/`false`. With
 * `listsAsDuplicateKeys`, a list value repeats its key once per element (as
 * nixpkgs' `pkgs.formats.ini { listsAsDuplicateKeys = true; }`, which services-flake's
 * mysql `settings` uses); without it, a list is an evaluation error.
 * Values are written as they are: a value with a newline would start a new line.
 * @example file("my.cnf", toINI(cfg.settings, { listsAsDuplicateKeys: true }))
 */
export const toINI = (v: Expr<unknown> | DeepVal<unknown>, opts: { listsAsDuplicateKeys?: boolean } = {}): Expr<string> =>
  expr(nApply(nLib("generators", "toINI"), lower(opts.listsAsDuplicateKeys ? { listsAsDuplicateKeys: true } : {}), lower(v)), "string");

/**
 * `key=value` lines from an attribute set, `lib.generators.toKeyValue` (Java
 * properties files, `zoo.cfg`, `php-fpm` pool settings): one line a key, in
 * attribute-name order; booleans as `true`/`false`. `separator` goes between key
 * and value (default `=`); with `listsAsDuplicateKeys`, a list repeats its key.
 * @example file("zoo.cfg", toKeyValue({ tickTime: 2000, dataDir: "/x" })) // "dataDir=/x\ntickTime=2000\n"
 */
export const toKeyValue = (v: Expr<unknown> | DeepVal<unknown>, opts: { separator?: string; listsAsDuplicateKeys?: boolean } = {}): Expr<string> =>
  expr(
    nApply(
      nLib("generators", "toKeyValue"),
      lower({
        ...(opts.separator !== undefined ? { mkKeyValue: expr(nApply(nLib("generators", "mkKeyValueDefault"), lower({}), lower(opts.separator)), "function") } : {}),
        ...(opts.listsAsDuplicateKeys ? { listsAsDuplicateKeys: true } : {}),
      }),
      lower(v),
    ),
    "string",
  );

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

/**
 * `lib.concatStrings list`. The result is shell (or SQL) code when the elements are.
 * @throws TypeError when code and plain-text expressions are mixed.
 */
export function concatStrings<T extends string>(list: Val<readonly T[]> | readonly Val<T>[]): Expr<T> {
  const role = Array.isArray(list) ? commonRole(list, "concatStrings()") : roleOf(list);
  return expr<T>(nApply(nLib("concatStrings"), lower(list)), "string", role === undefined ? {} : { role });
}

/** `lib.concatStringsSep sep list`. */
export const join = (sep: string, list: Val<readonly string[]> | readonly Val<string>[]): Expr<string> =>
  expr(nApply(nLib("concatStringsSep"), lower(sep), lower(list)), "string", { role: Array.isArray(list) ? commonRole(list, "join()") : roleOf(list) } as ExprInfo);

/**
 * `map (x: f x) list`. The callback receives a handle on one element, typed like the
 * list's elements: an element of a list of submodules has its fields (`db.name`).
 * The result is a list of shell (or SQL) code when `f` returns code.
 */
export function mapList<E, B>(list: Expr<readonly E[]>, f: (x: Ref<E>) => B, hint = "x"): Expr<PlainOf<B>[]> {
  const v = fresh(hint);
  const body = f(elementRef<E>(list, nFresh(v)));
  const role = roleOf(body);
  return expr<PlainOf<B>[]>(nApply(nVar("map"), nFreshLambda(v, lower(body)), list.node), "list", role === undefined ? {} : { role });
}

/** `lib.mapAttrsToList (k: v: f k v) attrs`; the value handle is typed like {@link mapList}'s. */
export function mapAttrsToList<V, B>(
  attrs: Expr<Readonly<Record<string, V>>>,
  f: (key: Expr<string>, value: Ref<V>) => B,
  hint = "v",
): Expr<PlainOf<B>[]> {
  const k = fresh("key");
  const v = fresh(hint);
  const body = f(expr<string>(nFresh(k), "string"), elementRef<V>(attrs, nFresh(v)));
  const role = roleOf(body);
  return expr<PlainOf<B>[]>(
    nApply(nLib("mapAttrsToList"), nFreshLambda(k, nFreshLambda(v, lower(body))), attrs.node),
    "list",
    role === undefined ? {} : { role },
  );
}

/**
 * `builtins.mapAttrs (k: v: f k v) attrs`: the same names, each value mapped; the value handle is
 * typed like {@link mapList}'s.
 * @example mapAttrs(cfg.environment, (_, v) => envValue(v)) // environment values as strings
 */
export function mapAttrs<V, B>(
  attrs: Expr<Readonly<Record<string, V>>>,
  f: (key: Expr<string>, value: Ref<V>) => B,
  hint = "v",
): Expr<Record<string, PlainOf<B>>> {
  const k = fresh("key");
  const v = fresh(hint);
  const body = f(expr<string>(nFresh(k), "string"), elementRef<V>(attrs, nFresh(v)));
  return expr<Record<string, PlainOf<B>>>(
    nApply(nSelect(nVar("builtins"), "mapAttrs"), nFreshLambda(k, nFreshLambda(v, lower(body))), attrs.node),
    "attrs",
  );
}

/** `list1 ++ list2 ++ …`. */
export function concatLists<E>(...lists: (Expr<readonly E[]> | readonly DeepVal<E>[])[]): Expr<E[]> {
  const typed = lists.find((l): l is Expr<readonly E[]> => isExpr(l) && l.info.type !== undefined);
  const role = commonRole(lists, "concatLists()");
  return expr(lists.map(lower).reduce((l, r) => nBinop("++", l, r)), "list", {
    ...(typed ? { type: typed.info.type } : {}),
    ...(role === undefined ? {} : { role }),
  });
}

/** `a // b`: `b`'s attributes override `a`'s. */
export function update<T extends Record<string, unknown>>(a: DeepVal<T> | Expr<T>, b: DeepVal<T> | Expr<T>): Expr<T> {
  const typed = [b, a].find((x): x is Expr<T> => isExpr(x) && x.info.type !== undefined);
  return expr(nBinop("//", lower(a), lower(b)), "attrs", typed ? { type: typed.info.type } : {});
}

/**
 * `lib.recursiveUpdate a b`: `b` merged into `a`, attribute sets merged key by key
 * at every depth (where `update`, `//`, replaces a nested set whole); any other
 * value of `b` wins. The way services-flake merges `extraConfig` over defaults.
 * @example toJSON(recursiveUpdate({ server: { port: 3100 } }, cfg.extraConfig))
 */
export function recursiveUpdate<T = Record<string, unknown>>(a: DeepVal<Record<string, unknown>> | Expr<unknown>, b: DeepVal<Record<string, unknown>> | Expr<unknown>): Expr<T> {
  return expr<T>(nApply(nLib("recursiveUpdate"), lower(a), lower(b)), "attrs");
}

/**
 * `attrs.<path> or fallback`: a (nested) attribute of a freeform or `anything`
 * value, or `fallback` when it is missing.
 * @example attrOr(cfg.extraConfig, ["http_port"], 0)
 */
export function attrOr<R>(attrs: Expr<unknown>, path: readonly string[], fallback: Val<R>): Expr<R> {
  const f = lower(fallback);
  return expr<R>({ kind: "select", expr: attrs.node, path: [...path], default: f } as NixNode, isExpr(fallback) ? fallback.kind : kindOf(fallback as never));
}

/** `lib.all (x: x) list`: whether every boolean of the list holds (true for an empty list). */
export const all = (list: Expr<boolean[]> | Val<boolean>[]): Expr<boolean> =>
  expr(nApply(nLib("all"), nLambda({ kind: "ident", name: "x" }, nVar("x")), Array.isArray(list) ? nList(list.map(lower)) : lower(list)), "bool");

/** `lib.any (x: x) list`: whether some boolean of the list holds (false for an empty list). */
export const any = (list: Expr<boolean[]> | Val<boolean>[]): Expr<boolean> =>
  expr(nApply(nLib("any"), nLambda({ kind: "ident", name: "x" }, nVar("x")), Array.isArray(list) ? nList(list.map(lower)) : lower(list)), "bool");

/**
 * The address a client on this machine (a readiness check, a test) connects to
 * for a server that listens on `host`: 127.0.0.1 for a wildcard address (`""`,
 * `0.0.0.0`, `*`, `::`, `[::]`), `host` itself otherwise.
 * @example readiness: { http: { host: connectHost(cfg.host), port: cfg.port, path: "/health" } }
 */
export const connectHost: (host: Val<string>) => Expr<string> = helper<string, string>("connectHost", "host", (h) =>
  cond(expr<boolean>(nApply(nLib("elem"), h.node, nList(["", "0.0.0.0", "*", "::", "[::]"].map((x) => nStr(x)))), "bool"), "127.0.0.1", h),
);

/** `e.field`: reads an attribute of a record (the same as `e.<field>` on a handle with fields). */
export function field<T, K extends keyof T & string>(e: Expr<T>, key: K): Ref<T[K]> {
  const c = e.info.type?.ctor;
  const opt = c?.name === "submodule" ? c.shape[key] : undefined;
  return opt ? refOf<T[K]>(nSelect(e.node, key), opt) : (expr<T[K]>(nSelect(e.node, key), "any") as Ref<T[K]>);
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
  const other = cases.other(v);
  let out = lower(other);
  let kind: Kind = kindOf(other);
  for (const [key, pred, k] of tests.reverse()) {
    const f = cases[key] as ((x: Expr<unknown>) => Val<R>) | undefined;
    if (!f) continue;
    const branch = f(expr(v.node, k));
    kind = kindOf(branch);
    out = nIf(nApply(nSelect(nVar("builtins"), pred), v.node), lower(branch), out);
  }
  return expr<R>(out, kind);
}

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

/**
 * A path given as a string — a file inside a package (`` s`${cfg.package}/share/schema.sql` ``)
 * or a written file — as a value of a `t.path()` option. Interpolating it does not
 * copy it to the store again (it is a string to Nix).
 */
export const pathOf = (e: Expr<string> | Expr<Pkg>): Expr<NixPath> => expr<NixPath>(e.kind === "package" ? nStr(e.node) : e.node, "string");

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
  let role: Role | undefined;
  const getDef = (): HelperDef => {
    if (!def) {
      const out = body(expr<A>(nVar(param), "any"));
      kind = out.kind;
      role = out.info.role;
      def = { name, lambda: nLambda({ kind: "ident", name: param }, out.node), location };
    }
    return def;
  };
  return (arg) => {
    const d = getDef();
    const fnNode = { kind: "var", name, [HELPER]: d } as NixNode;
    return expr<R>(nApply(fnNode, lower(arg)), kind, role === undefined ? {} : { role });
  };
}
