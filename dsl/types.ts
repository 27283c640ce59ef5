/**
 * Option schema builders, in the manner of the Nix module system's `lib.types`
 * and `lib.mkOption`, with static type inference (like Zod): the TS type of a
 * configured instance is `Infer<typeof options>`.
 *
 * @example
 * const options = {
 *   port: t.port({ default: 6379, description: "The TCP port to accept connections." }),
 *   bind: t.nullOr(t.str(), { default: "127.0.0.1" }),
 * };
 * type Config = Infer<typeof options>; // { port: number; bind: string | null }
 */
import { type DeepVal, type Expr, isExpr, type Kind, type NixFunction, type NixModule, type NixPath, type Pkg } from "./expr";
import { callSite, type SourceLocation } from "./location";

/** Where an option's default may need the instance: its `name`, `pkgs`, and its other options. */
export interface DefaultContext {
  /** The instance name (`services.<service>.<name>`). */
  readonly name: Expr<string>;
  /** The package set the module is evaluated with. */
  readonly pkgs: import("./service").Pkgs;
  /**
   * The instance's other options, by name (`cfg.port`): a default computed from them
   * is still a default a user may override (unlike a `derived` option, which is
   * read-only). Each handle knows its option's kind; the names are not checked by
   * the type checker here (the compiler reports an unknown one at the option's line).
   * @example default: ({ cfg }) => s`${cfg.dataDir}/sockets`
   */
  // Values are `Ref`s (`any` keeps them usable where an option name cannot be checked).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly cfg: { readonly [option: string]: any };
}

/** How a default is shown in docs: Nix source (`literalExpression`), or prose (`{ md }`, `literalMD`). */
export type DefaultText = string | { readonly md: string };

/** Documentation and behaviour shared by every option (see `lib.mkOption`). */
export interface OptionMeta<T> {
  /** Default value: a literal, an expression, or a function of the instance. */
  default?: DeepVal<T> | ((ctx: DefaultContext) => DeepVal<T>);
  /**
   * How the default is shown in docs when it is an expression (`defaultText`): Nix
   * source as a string (`lib.literalExpression`), or Markdown prose as `{ md: "…" }`
   * (`lib.literalMD`), as NixOS's option docs want.
   */
  defaultText?: DefaultText;
  /** Markdown description; the first sentence is the summary. */
  description?: string;
  /** An example value (literal) or Nix source shown verbatim (`{ nix: "…" }`). */
  example?: DeepVal<T> | { readonly nix: string };
  /** Users may not set it (`readOnly = true`). */
  readOnly?: boolean;
  /** Hidden from documentation (`internal = true`). */
  internal?: boolean;
  /**
   * Transforms the merged value every reader of the option sees (`apply` of
   * `lib.mkOption`): `value` is what the user (or the default) set, `ctx` reads the
   * instance's other options. The docs show the option's type and default as set,
   * before the transformation; say in the description what it does.
   * @example
   * // services-flake's postgres: the package, with its extensions when some are chosen.
   * package: t.package("postgresql", { apply: (pkg, { cfg }) => cond(notNull(cfg.extensions), nix<Pkg>("package")`${pkg}.withPackages ${cfg.extensions}`, pkg) })
   */
  apply?(value: Expr<T>, ctx: DefaultContext): DeepVal<T>;
  /**
   * The service whose instance this option names (`"postgres"` for a load test's `target`):
   * a hint for tools, not a check (check with `hasInstance` in an assertion). The smoke
   * evaluation points such an option at an instance of that service it enables.
   */
  namesInstanceOf?: string;
}

/** Checks a literal value against the type; returns a message or null when it fits. */
type Check = (value: unknown) => string | null;

/**
 * An option type, possibly carrying option metadata. `T` is the TS type of the
 * option's value in a configured instance.
 */
export class OptionType<out T> {
  declare readonly __value: T;
  constructor(
    /** Short name, for messages and docs (`port`, `list of str`, …). */
    readonly description: string,
    /** The type constructor (`lib.types.<ctor>`) and its arguments, lowered by the compiler. */
    readonly ctor: TypeCtor,
    /** Runtime kind of values of this type. */
    readonly kind: Kind,
    readonly check: Check,
    readonly meta: OptionMeta<T> = {},
    /** For submodules: the sub-options. */
    readonly shape?: Shape,
    /** For `package` options: the default package attribute (mkPackageOption). */
    readonly packageAttr?: readonly string[],
    /** Where the builder was called, for error messages. */
    readonly location: SourceLocation | undefined = callSite(),
  ) {}

  /**
   * The options of this type's submodule values, looking through `nullOr`,
   * `listOf` and `attrsOf` (for field access on elements); undefined otherwise.
   */
  get elementShape(): Shape | undefined {
    const c = this.ctor;
    if (c.name === "submodule") return c.shape;
    if (c.name === "nullOr" || c.name === "listOf" || c.name === "attrsOf") return c.of.elementShape;
    return undefined;
  }

  /** A copy with different metadata (used by builders taking `meta`). */
  with(meta: OptionMeta<T>): OptionType<T> {
    return new OptionType<T>(
      this.description,
      this.ctor,
      this.kind,
      this.check,
      { ...this.meta, ...meta },
      this.shape,
      this.packageAttr,
      callSite(),
    );
  }
}

/** A `lib.types` constructor with its arguments. */
export type TypeCtor =
  | { readonly name: "str" | "lines" | "int" | "float" | "bool" | "port" | "path" | "package" | "deferredModule" | "anything" }
  | { readonly name: "enum"; readonly values: readonly (string | number | boolean)[] }
  | { readonly name: "nullOr" | "listOf" | "attrsOf" | "functionTo"; readonly of: OptionType<unknown> }
  | { readonly name: "oneOf"; readonly of: readonly OptionType<unknown>[] }
  | { readonly name: "submodule"; readonly shape: Shape; readonly freeform?: OptionType<unknown> };

/** A JSON-like value (what `t.anything()` holds). */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** A record of options, as in `options = { … }`. */
export type Shape = { readonly [key: string]: OptionType<unknown> };

/** Submodule option types (see `t.submodule`), which give field access on references. */
export interface SubmoduleType<S extends Shape> extends OptionType<Infer<S>> {
  readonly shape: S;
}

/** The TS type of a configured value of an option or a record of options. */
export type Infer<S> = S extends OptionType<infer T> ? T : S extends Shape ? { [K in keyof S]: Infer<S[K]> } : never;

const describe = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "a list" : typeof v);

type Scalar = "str" | "lines" | "int" | "float" | "bool" | "port" | "path" | "deferredModule" | "anything";
function scalar<T>(name: Scalar, kind: Kind, check: Check) {
  return (meta: OptionMeta<T> = {}): OptionType<T> =>
    new OptionType<T>(name, { name }, kind, check, meta, undefined, undefined, callSite());
}

const isInt = (v: unknown) => typeof v === "number" && Number.isInteger(v);

/** Option type builders, mirroring `lib.types`. */
export const t = {
  /** `lib.types.str`: a string. */
  str: scalar<string>("str", "string", (v) =>
    typeof v === "string" ? null : `expected a string, got ${describe(v)}`,
  ),
  /** `lib.types.lines`: a string; several definitions are joined with newlines. */
  lines: scalar<string>("lines", "string", (v) =>
    typeof v === "string" ? null : `expected a string, got ${describe(v)}`,
  ),
  /** `lib.types.int`: a signed integer. */
  int: scalar<number>("int", "int", (v) => (isInt(v) ? null : `expected an integer, got ${describe(v)}`)),
  /** `lib.types.float`: a floating-point number. */
  float: scalar<number>("float", "float", (v) =>
    typeof v === "number" && !Number.isInteger(v) ? null : `expected a float (with a fractional part), got ${String(v)}`,
  ),
  /** `lib.types.bool`. */
  bool: scalar<boolean>("bool", "bool", (v) =>
    typeof v === "boolean" ? null : `expected a boolean, got ${describe(v)}`,
  ),
  /** `lib.types.port`: a TCP/UDP port number, 0–65535. */
  port: scalar<number>("port", "int", (v) =>
    isInt(v) && (v as number) >= 0 && (v as number) <= 65535 ? null : `expected a port number (0-65535), got ${String(v)}`,
  ),
  /** `lib.types.path`: a path (`./schema.sql`) or absolute path string. */
  path: scalar<NixPath>("path", "path", () => "path defaults must be expressions"),

  /** `lib.types.enum`: one of the given values. */
  enum<const V extends string | number | boolean>(values: readonly V[], meta: OptionMeta<V> = {}): OptionType<V> {
    return new OptionType<V>(
      `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`,
      { name: "enum", values },
      typeof values[0] === "string" ? "string" : "any",
      (v) => (values.includes(v as V) ? null : `expected one of ${values.join(", ")}, got ${JSON.stringify(v)}`),
      meta,
      undefined,
      undefined,
      callSite(),
    );
  },

  /**
   * A package. With `attr`, an option whose default is `pkgs.<attr>`, lowered to
   * `lib.mkPackageOption`; without, the bare `lib.types.package` (e.g. inside `listOf`).
   * @param attr attribute path in pkgs, e.g. `"redis"` or `["postgresql_16"]`.
   */
  package(attr?: string | readonly string[], meta: OptionMeta<Pkg> = {}): OptionType<Pkg> {
    const path = attr === undefined ? undefined : typeof attr === "string" ? [attr] : attr;
    return new OptionType<Pkg>("package", { name: "package" }, "package", () => null, meta, undefined, path, callSite());
  },

  /** `lib.types.nullOr`: `null` or a value of `inner`. */
  nullOr<T>(inner: OptionType<T>, meta: OptionMeta<T | null> = {}): OptionType<T | null> {
    return new OptionType<T | null>(
      `null or ${inner.description}`,
      { name: "nullOr", of: inner },
      inner.kind,
      (v) => (v === null ? null : inner.check(v)),
      meta,
      inner.shape,
      undefined,
      callSite(),
    );
  },

  /** `lib.types.listOf`: a list; definitions are concatenated. */
  listOf<T>(inner: OptionType<T>, meta: OptionMeta<T[]> = {}): OptionType<T[]> {
    return new OptionType<T[]>(
      `list of ${inner.description}`,
      { name: "listOf", of: inner },
      "list",
      (v) => {
        if (!Array.isArray(v)) return `expected a list, got ${describe(v)}`;
        for (const [i, x] of v.entries()) {
          const m = isExpr(x) ? null : inner.check(x);
          if (m) return `element ${i}: ${m}`;
        }
        return null;
      },
      meta,
      inner.shape,
      undefined,
      callSite(),
    );
  },

  /** `lib.types.attrsOf`: an attribute set; definitions are merged by name. */
  attrsOf<T>(inner: OptionType<T>, meta: OptionMeta<Record<string, T>> = {}): OptionType<Record<string, T>> {
    return new OptionType<Record<string, T>>(
      `attribute set of ${inner.description}`,
      { name: "attrsOf", of: inner },
      "attrs",
      (v) => {
        if (v === null || typeof v !== "object" || Array.isArray(v)) return `expected an attribute set, got ${describe(v)}`;
        for (const [k, x] of Object.entries(v)) {
          const m = isExpr(x) ? null : inner.check(x);
          if (m) return `attribute ${JSON.stringify(k)}: ${m}`;
        }
        return null;
      },
      meta,
      inner.shape,
      undefined,
      callSite(),
    );
  },

  /** `lib.types.oneOf`: a value of any of the given types (checked in order). */
  oneOf<const Ts extends readonly OptionType<unknown>[]>(
    types: Ts,
    meta: OptionMeta<Infer<Ts[number]>> = {},
  ): OptionType<Infer<Ts[number]>> {
    return new OptionType<Infer<Ts[number]>>(
      types.map((x) => x.description).join(" or "),
      { name: "oneOf", of: types },
      "any",
      (v) => (types.some((x) => x.check(v) === null) ? null : `expected ${types.map((x) => x.description).join(" or ")}`),
      meta,
      undefined,
      undefined,
      callSite(),
    );
  },

  /** `lib.types.submodule`: an attribute set with its own typed options. */
  submodule<const S extends Shape>(
    shape: S,
    meta: Omit<OptionMeta<Infer<S>>, "default"> & {
      default?: DeepVal<Partial<Infer<S>>>;
      /**
       * The type of attributes the submodule does not declare (`freeformType`): with
       * `t.anything()`, any further setting of a structured configuration file.
       */
      freeform?: OptionType<unknown>;
    } = {},
  ): SubmoduleType<S> {
    const { freeform, ...rest } = meta;
    return new OptionType<Infer<S>>(
      "submodule",
      freeform ? { name: "submodule", shape, freeform } : { name: "submodule", shape },
      "attrs",
      (v) => {
        if (v === null || typeof v !== "object" || Array.isArray(v)) return `expected an attribute set, got ${describe(v)}`;
        for (const [k, x] of Object.entries(v)) {
          const o = shape[k] ?? freeform;
          if (!o) return `unknown option ${JSON.stringify(k)}`;
          const m = isExpr(x) ? null : o.check(x);
          if (m) return `${k}: ${m}`;
        }
        return null;
      },
      rest as OptionMeta<Infer<S>>,
      shape,
      undefined,
      callSite(),
    ) as SubmoduleType<S>;
  },

  /**
   * `lib.types.deferredModule`: module settings passed through to another module
   * (for example extra options for a composed instance), merged by the module system.
   */
  deferredModule: scalar<NixModule>("deferredModule", "module", (v) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? null : `expected a module (attribute set)`,
  ),

  /**
   * `lib.types.anything`: any value — attribute sets merge recursively, as for a
   * structured configuration file (`settings` rendered to JSON or YAML).
   */
  anything: scalar<JsonValue>("anything", "any", (v) =>
    v === undefined || typeof v === "function" ? `expected a JSON-like value, got ${typeof v}` : null,
  ),

  /** `lib.types.functionTo`: a Nix function of an attribute set returning a `ret`. */
  functionTo<A, R>(ret: OptionType<R>, meta: OptionMeta<NixFunction<A, R>> = {}): OptionType<NixFunction<A, R>> {
    return new OptionType<NixFunction<A, R>>(
      `function that evaluates to ${ret.description}`,
      { name: "functionTo", of: ret },
      "function",
      () => "function options need an expression default",
      meta,
      undefined,
      undefined,
      callSite(),
    );
  },
} as const;
