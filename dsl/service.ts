/**
 * Service definitions: the unit a contributor writes in `modules/<service>.ts`.
 *
 * A service becomes `services.<service>.<instance>` in process-compose-flake:
 * an `attrsOf (submodule …)` option whose instances each have `enable`,
 * `dataDir`, `namespace` and the service's own options, and contribute their
 * processes to `settings.processes` only when enabled.
 */
import { type Binder, nApply, nAttrs, nBind, nLib, nSelect, nStr, nVar, type NixNode } from "../nix/ast";
import {
  type DeepVal,
  type Expr,
  expr,
  isExpr,
  kindOf,
  lower,
  type NixFunction,
  type NixModule,
  type NixPath,
  type PlainOf,
  type Pkg,
  type Ref,
  refOf,
  type ShellCode,
  type Val,
} from "./expr";
import { callSite, type SourceLocation } from "./location";
import type { ProcessDecl, ProcessExtension, ProcessFamily } from "./process";
import { type Infer, type Shape, t } from "./types";

/** Options every instance has, as services-flake's `multiService` declares them. */
export const builtinOptions = {
  enable: t.bool({ default: false, description: "Whether to enable this instance." }),
  dataDir: t.str({
    default: ({ name }) => expr<string>(nStr("./data/", name.node), "string"),
    defaultText: '"./data/<name>"',
    description:
      "The directory where all data of this instance is stored; relative paths are relative to where process-compose runs " +
      "(under NixOS, to the state directory `/var/lib/services-ts`; an absolute one there is made at boot by systemd-tmpfiles, owned by the units' user).",
  }),
  namespace: t.str({
    defaultText: '"<service>.<name>"',
    description: "The process-compose namespace the instance's processes are grouped under.",
  }),
} satisfies Shape;

/** Names a module may not use for its own options. */
export const reservedOptionNames = new Set([...Object.keys(builtinOptions), "outputs", "declaredBy"]);

/** Handles on an instance's configured option values: `cfg.port`, `cfg.initialScript.before`. */
export type ConfigRef<S extends Shape> = { readonly [K in keyof S]: Ref<Infer<S[K]>> };

/** Builds the `ConfigRef` for `shape` rooted at the Nix expression `root`. */
export function configRef<S extends Shape>(shape: S, root: NixNode): ConfigRef<S> {
  const out: Record<string, Expr<unknown>> = {};
  for (const [key, opt] of Object.entries(shape)) out[key] = refOf(nSelect(root, key), opt);
  return out as ConfigRef<S>;
}

/** nixpkgs attributes every module may name as `pkgs.<attr>` (common tools), checked at type-check time. */
// prettier-ignore
export const KNOWN_PACKAGES = ["bash", "coreutils", "curl", "jq", "netcat", "findutils", "gawk", "gnugrep", "gnused", "postgresql", "redis", "procps", "util-linux"] as const;

/**
 * nixpkgs attributes modules may name as `pkgs.<attr>`. Listing them catches typos
 * at type-check time; `pkgs.get("attr")` reaches any other attribute.
 */
export type KnownPackage = (typeof KNOWN_PACKAGES)[number];

/** The package set, as expressions: `pkgs.coreutils`. */
export type Pkgs = { readonly [K in KnownPackage]: Expr<Pkg> } & {
  /** Any other attribute of `pkgs`. */
  get(attr: string): Expr<Pkg>;
};

/** Property of a `pkgs.<attr>` node: the TS line that named the attribute (for the compiler's "did you mean"). */
export const PKG_LOCATION = "pkgLocation" as const;

const pkgExpr = (attr: string): Expr<Pkg> =>
  expr<Pkg>({ ...nSelect(nVar("pkgs"), attr), [PKG_LOCATION]: callSite() } as unknown as NixNode, "package");

/** The `pkgs` handle: any attribute is a package expression. */
export const pkgs: Pkgs = new Proxy({} as Pkgs, {
  get: (_, attr) => (attr === "get" ? pkgExpr : typeof attr === "string" ? pkgExpr(attr) : undefined),
});

/** A named value shared by several parts of an instance (`let <name> = …; in`). */
export interface LetBinding {
  /** The variable; its name (the hint, or the hint with a number) is chosen when the file is printed. */
  readonly binder: Binder;
  readonly value: Expr<unknown>;
  readonly location: SourceLocation | undefined;
}

/** Another service's instance, declared by a composing service. */
export interface InstanceDecl {
  readonly service: AnyService;
  readonly name: Val<string>;
  /** Option definitions for that instance (merged with the user's, module-system style). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Extra modules for that instance, e.g. a `deferredModule` option passed through. */
  readonly imports: readonly Expr<NixModule>[];
  readonly location: SourceLocation | undefined;
}

/** What module code receives: the instance's name and options, packages and helpers. */
export interface ServiceContext<S extends Shape> {
  /** The instance name: `db` in `services.postgres.db`. */
  readonly name: Expr<string>;
  /** The instance's configured options, including `enable`, `dataDir` and `namespace`. */
  readonly cfg: ConfigRef<S & typeof builtinOptions>;
  /** The package set (`pkgs.coreutils`). */
  readonly pkgs: Pkgs;
  /**
   * Binds `value` to a variable in the instance's `let` block and returns a reference
   * to it (keeping what the value is: shell code, SQL, a submodule's fields), so that
   * a script or file used in several places is written once. `name` is a hint: the
   * variable is named `name`, or `name1`, `name2`, … when the file binds it more than once.
   * (Repeated expressions are bound once automatically; `let` names the binding.)
   * @throws DefinitionError when the name is not a Nix identifier.
   */
  let<T>(name: string, value: Expr<T>): Ref<T>;
  /** Reads the options of another service's instance (for composition). */
  instanceOf<S2 extends Shape, D2 extends Shape>(
    service: Service<S2, D2>,
    instanceName: Val<string>,
  ): ConfigRef<S2 & D2 & typeof builtinOptions>;
  /**
   * Whether the stack has an enabled instance `instanceName` of `service`
   * (`rootConfig.services.<service>.<instanceName>.enable or false`): false, never an
   * evaluation error, when no such instance is defined. For an assertion that names the
   * option pointing at another instance before {@link ServiceContext.instanceOf} reads it.
   * @example assertions: ({ cfg, hasInstance }) => [{ assertion: hasInstance(redis, cfg.target), message: s`target: no enabled redis instance "${cfg.target}"` }]
   */
  hasInstance(service: AnyService, instanceName: Val<string>): Expr<boolean>;
}

/** An invariant of an instance, checked by Nix at evaluation (see `ServiceDefinition.assertions`). */
export interface Assertion {
  /** Holds for a valid instance. */
  readonly assertion: Val<boolean>;
  /** What is wrong and how to fix it, naming the option(s). */
  readonly message: Val<string>;
}

/** A TCP port an instance listens on (see `ServiceDefinition.ports`). */
export interface ListenPort {
  /** TCP port; 0 is not counted. */
  readonly port: Val<number>;
  /** The option (path below the instance) that sets it, for messages: `port`, `nodes.n1.port`. */
  readonly option: Val<string>;
}

/** The value of a {@link ListenPort} in Nix, for ports computed as a list expression. */
export type ListenPortValue = { port: number; option: string };

/** What a service (or a part) declares for each enabled instance. */
export type ProcessItem = ProcessDecl | ProcessFamily | ProcessExtension;

/** What `defineService` takes. */
export interface ServiceDefinition<S extends Shape, D extends Shape, P extends readonly AnyPart[] = readonly []> {
  /** The attribute under `services.` (`postgres`, `redis-cluster`): lowercase, digits, dashes. */
  readonly name: string;
  /** Markdown description: the first paragraph is the summary in docs. */
  readonly description: string;
  /** Upstream documentation a user should read (URL). */
  readonly homepage?: string;
  /**
   * Reusable parts the service is made of (see {@link definePart}): their options,
   * derived options, processes and instances become the service's, and the
   * service's callbacks see their options in `cfg`.
   */
  readonly parts?: P;
  /** The instance's options. Names must not shadow `enable`, `dataDir`, `namespace`, `outputs`, nor a part's. */
  readonly options: S;
  /** Read-only options computed from `options` (each should set `readOnly: true` and a default). */
  readonly derived?: (ctx: ServiceContext<S & PartOptions<P>>) => D;
  /** The processes an enabled instance runs. */
  readonly processes?: (ctx: ServiceContext<S & D & PartOptions<P>>) => readonly ProcessItem[];
  /** Instances of other services an enabled instance declares (composition). */
  readonly instances?: (ctx: ServiceContext<S & D & PartOptions<P>>) => readonly InstanceDecl[];
  /**
   * Invariants Nix checks when an enabled instance is evaluated (process-compose-flake
   * has no `assertions` option, so they lower to `lib.throwIfNot`): a failed one stops
   * evaluation with `services.<service>."<instance>": <message>`. Say which option is wrong.
   * @example assertions: ({ cfg }) => [{ assertion: nonEmpty(cfg.schemas), message: "schemas is empty: …" }]
   */
  readonly assertions?: (ctx: ServiceContext<S & D & PartOptions<P>>) => readonly Assertion[];
  /**
   * The TCP ports an enabled instance listens on, each with the option that sets it
   * (0 means "no TCP" and is not counted). Evaluation refuses two enabled instances,
   * of any services, on one port, naming both: a server that fails to bind would
   * otherwise leave its readiness check answered by the other one. A composite
   * service lists none of its own: the instances it declares list theirs.
   * @example ports: ({ cfg }) => [{ port: cfg.port, option: "port" }]
   */
  readonly ports?: (ctx: ServiceContext<S & D & PartOptions<P>>) => readonly ListenPort[] | Expr<readonly ListenPortValue[]>;
  /** A usage example for docs (Nix source of the instance's settings). */
  readonly example?: string;
}

/** A defined service, ready for the compiler. `S` and `D` include its parts' options. */
export interface Service<S extends Shape = Shape, D extends Shape = Shape> {
  readonly kind: "services-ts/service";
  readonly name: string;
  readonly description: string;
  readonly homepage?: string;
  readonly example?: string;
  readonly parts: readonly AnyPart[];
  /** The service's own options (its parts' come from `parts`). */
  readonly options: Shape;
  readonly derived?: (ctx: ServiceContext<Shape>) => Shape;
  readonly processes?: (ctx: ServiceContext<Shape>) => readonly ProcessItem[];
  readonly instances?: (ctx: ServiceContext<Shape>) => readonly InstanceDecl[];
  readonly assertions?: (ctx: ServiceContext<Shape>) => readonly Assertion[];
  readonly ports?: (ctx: ServiceContext<Shape>) => readonly ListenPort[] | Expr<readonly ListenPortValue[]>;
  readonly location: SourceLocation | undefined;
  /** Type-level only: the options and derived options of an instance. */
  readonly __shape?: { options: S; derived: D };
}

/** A service of any options (what the compiler and `instance()` take). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyService = Service<any, any>;

/**
 * Defines a service. The result is the default export of `modules/<name>.ts`.
 * Validation happens in the compiler, which reports errors at the definition's
 * source location.
 */
export function defineService<
  const S extends Shape,
  const D extends Shape = Record<never, never>,
  const P extends readonly AnyPart[] = readonly [],
>(def: ServiceDefinition<S, D, P>): Service<S & PartOwnOptions<P>, D & PartDerived<P>> {
  const svc: Service = { ...(def as unknown as Omit<Service, "kind" | "location" | "parts">), parts: def.parts ?? [], kind: "services-ts/service", location: callSite() };
  return svc as unknown as Service<S & PartOwnOptions<P>, D & PartDerived<P>>;
}

// ---------------------------------------------------------------------------
// Parts: reusable pieces of a service.

/** What `definePart` takes: a piece of a service, with its own typed options. */
export interface PartDefinition<S extends Shape, D extends Shape, R extends Shape> {
  /** Names the part in messages (`private-database`). */
  readonly name: string;
  /**
   * Options the part reads but does not declare: the service using it must declare
   * them (checked by the compiler), e.g. an app's `package`.
   */
  readonly requires?: R;
  /** Options the part adds to every instance of a service that uses it. */
  readonly options: S;
  readonly derived?: (ctx: ServiceContext<S & R>) => D;
  readonly processes?: (ctx: ServiceContext<S & R & D>) => readonly ProcessItem[];
  readonly instances?: (ctx: ServiceContext<S & R & D>) => readonly InstanceDecl[];
  readonly assertions?: (ctx: ServiceContext<S & R & D>) => readonly Assertion[];
  readonly ports?: (ctx: ServiceContext<S & R & D>) => readonly ListenPort[] | Expr<readonly ListenPortValue[]>;
}

/** A defined part (see {@link definePart}). */
export interface Part<S extends Shape = Shape, D extends Shape = Shape, R extends Shape = Shape> extends PartDefinition<S, D, R> {
  readonly kind: "services-ts/part";
  readonly location: SourceLocation | undefined;
  /** Type-level only: what the part adds to `cfg`. */
  readonly __types?: { readonly options: S; readonly derived: D };
}

/** A part of any options (what `parts: [...]` takes). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPart = Part<any, any, any>;

/** The options parts declare (an intersection over the tuple, so no part's options absorb another's). */
export type PartOwnOptions<P extends readonly unknown[]> = P extends readonly [infer H, ...infer T]
  ? (H extends { readonly __types?: { readonly options: infer S } } ? S : unknown) & PartOwnOptions<T>
  : Record<never, never>;
/** The derived options parts declare. */
export type PartDerived<P extends readonly unknown[]> = P extends readonly [infer H, ...infer T]
  ? (H extends { readonly __types?: { readonly derived: infer D } } ? D : unknown) & PartDerived<T>
  : Record<never, never>;
/** Everything parts add to `cfg`. */
export type PartOptions<P extends readonly AnyPart[]> = PartOwnOptions<P> & PartDerived<P>;

/**
 * Defines a reusable part of a service — options with the processes and instances
 * that use them (a private database, a web UI for it, an HTTP app) — that any
 * service composes with `parts: [...]`. A part sees only its own options and
 * `requires`; its `let` bindings are named apart from the service's.
 *
 * @example
 * export const pgweb = (spec: { app: string }) => definePart({
 *   name: "pgweb",
 *   options: { pgweb: t.submodule({ enable: t.bool({ default: false }), … }) },
 *   processes: ({ name, cfg }) => [process(s`${name}-pgweb`, { … }).when(cfg.pgweb.enable)],
 * });
 */
export function definePart<const S extends Shape, const D extends Shape = Record<never, never>, const R extends Shape = Record<never, never>>(
  def: PartDefinition<S, D, R>,
): Part<S, D, R> {
  return { ...def, kind: "services-ts/part", location: callSite() };
}

/** True for values made by {@link defineService}. */
export function isService(v: unknown): v is AnyService {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "services-ts/service";
}

/**
 * A definition of a value of type `T` as a user writes it: like `DeepVal<T>`, but
 * submodule fields are optional (the module system fills in defaults; a missing
 * required field is reported by Nix at evaluation).
 */
export type InputVal<T> =
  | Expr<T>
  | (T extends Pkg | NixPath | NixFunction<unknown, unknown>
      ? never
      : T extends readonly (infer E)[]
        ? readonly InputVal<E>[]
        : T extends object
          ? { readonly [K in keyof T]?: InputVal<T[K]> }
          : T);

/** The option definitions one may give an instance. */
export type InstanceConfig<S extends Shape> = { readonly [K in keyof S]?: InputVal<Infer<S[K]>> };

/**
 * Declares an instance of another service from a composing service.
 * @param service the service (default export of its module).
 * @param name the instance name, e.g. `` s`${name}-replica` ``.
 * @param config option definitions; wrap values in {@link mkDefault} to let users override them.
 * @param imports extra modules for the instance (e.g. a `deferredModule` option).
 */
export function instance<S extends Shape, D extends Shape>(
  service: Service<S, D>,
  name: Val<string>,
  config: InstanceConfig<S & typeof builtinOptions>,
  imports: readonly Expr<NixModule>[] = [],
): InstanceDecl {
  return { service, name, config, imports, location: callSite() };
}

/**
 * `lib.mkDefault v`: a definition users' own definitions override. `v` may hold
 * expressions at any depth (`mkDefault({ m1: { port: cfg.port } })`); the result's
 * type is the plain value's (`Expr<{ m1: { port: number } }>`).
 */
export function mkDefault<V>(v: V): Expr<PlainOf<V>> {
  const inner = lower(v as DeepVal<PlainOf<V>>);
  return expr<PlainOf<V>>(nApply(nLib("mkDefault"), inner), isExpr(v) ? v.kind : kindOf(v));
}

/**
 * ShellCheck findings that correct quoting by `sh` triggers, excluded from every
 * script's check (nixpkgs fails the build on any finding): a quoted value may hold
 * a literal `$` (SC2016), end in a backslash or hold `\'` (SC1003), or hold
 * Unicode quotes (SC1110, SC1111, SC1112). See https://www.shellcheck.net/wiki/
 */
export const SHELLCHECK_EXCLUDES = ["SC1003", "SC1110", "SC1111", "SC1112", "SC2016"] as const;

/** Property of a script's `writeShellApplication` node: where its text was written (see `ExprInfo.origin`). */
export const SCRIPT_ORIGIN = "scriptOrigin" as const;

/**
 * A shell script package: `pkgs.writeShellApplication` (bash with errexit,
 * nounset and pipefail, `runtimeInputs` on PATH, checked by ShellCheck except
 * {@link SHELLCHECK_EXCLUDES} — at build time too, findings reported at the TS line).
 */
export function script(opts: {
  /** The program name (`bin/<name>`). */
  readonly name: Val<string>;
  /** Packages whose `bin/` go on PATH. */
  readonly runtimeInputs?: readonly Expr<Pkg>[];
  /** The script body: shell code, usually an `sh` template. */
  readonly text: Expr<ShellCode>;
}): Expr<Pkg> {
  const node = nApply(
      nSelect(nVar("pkgs"), "writeShellApplication"),
      nAttrs([
        nBind("name", lower(opts.name)),
        nBind("runtimeInputs", lower(opts.runtimeInputs ?? [])),
        nBind("excludeShellChecks", lower(SHELLCHECK_EXCLUDES)),
        nBind("text", opts.text.node),
      ]),
    );
  return expr<Pkg>({ ...node, [SCRIPT_ORIGIN]: opts.text.info.origin ?? callSite() } as unknown as NixNode, "package");
}

/** A text file in the store: `pkgs.writeText name text`. */
export function file(name: Val<string>, text: Val<string>): Expr<Pkg> {
  return expr<Pkg>(nApply(nSelect(nVar("pkgs"), "writeText"), lower(name), lower(text)), "package");
}
