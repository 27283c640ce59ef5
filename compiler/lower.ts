/**
 * Lowers a service definition (dsl/) to the Nix AST of a module that declares
 * `services.<service>` as `attrsOf (submodule …)`: the options, derived options,
 * parts, composition and `let` sharing here, the processes through a backend
 * (compiler/backends/; process-compose by default).
 *
 * Nothing here knows any particular service: everything service-specific comes
 * from the definition in `modules/`.
 */
import {
  type AnyPart,
  type AnyService,
  type Assertion,
  BACKEND_PRIMITIVE,
  builtinOptions,
  configRef,
  type DefaultContext,
  DefinitionError,
  isServiceTest,
  EXPR_MEMBERS,
  Expr,
  expr,
  HELPER,
  type HelperDef,
  type InstanceDecl,
  isExpr,
  type LetBinding,
  lower,
  type OptionType,
  pkgs,
  process,
  type ProcessDecl,
  type Pkg,
  type ProcessItem,
  rebind,
  reservedOptionNames,
  type ServiceContext,
  type ServiceTest,
  type Shape,
  SCRIPT_ORIGIN,
  SHELLCHECK_EXCLUDES,
  testContext,
} from "../dsl";
import { binder, nFresh, nFreshBind } from "../nix/ast";
import { callSite, firstUserFrame, type SourceLocation } from "../dsl/location";
import {
  type Binding,
  isNixIdentifier,
  nApply,
  nAttrs,
  nBind,
  nBool,
  nLambda,
  nLet,
  nLib,
  nList,
  nBinop,
  nNot,
  nPath,
  nPattern,
  nSelect,
  nStr,
  nVar,
  type NixNode,
} from "../nix/ast";
import { printNix } from "../nix/print";
import type { Backend } from "./backends/backend";
import { keyOf, processCompose } from "./backends/process-compose";
import { checkDependencies, checkPackageNames, checkTest, type ItemsOf } from "./checks";
import { shareRepeated } from "./cse";
import { checkScripts } from "./shellcheck";

/** Nix helper functions a lowered module may reference, emitted only when used. */
const PRELUDE: Record<string, NixNode> = {
  // SQL string literal: '…' with ' doubled (standard_conforming_strings = on).
  sqlLiteral: nLambda(
    { kind: "ident", name: "s" },
    nStr("'", nApply(nLib("replaceStrings"), nList([nStr("'")]), nList([nStr("''")]), nVar("s")), "'"),
  ),
  // SQL identifier: "…" with " doubled.
  sqlIdentifier: nLambda(
    { kind: "ident", name: "s" },
    nStr('"', nApply(nLib("replaceStrings"), nList([nStr('"')]), nList([nStr('""')]), nVar("s")), '"'),
  ),
};

/** The result of lowering one service. */
export interface LoweredService {
  readonly service: AnyService;
  /** The module, ready for `printNix`. */
  readonly module: NixNode;
  /** Names of other services whose instances this one declares (their files are imported). */
  readonly dependencies: readonly string[];
  /** Every option of an instance (the service's and its parts'), for docs. */
  readonly options: Shape;
  /** Derived (read-only) options, for docs. */
  readonly derived: Shape;
  /** The instance module's `let` bindings and body, for checks over the output (compiler/cse.ts). */
  readonly instance: { readonly lets: readonly Binding[]; readonly body: NixNode; readonly fixed: ReadonlySet<string> };
}

/** The context option defaults get: `cfg` reads the instance's options, by name. */
function defaultContext(shape?: Shape): DefaultContext {
  const known = shape ? configRef({ ...builtinOptions, ...shape }, nVar("config")) : undefined;
  const cfg = new Proxy({} as DefaultContext["cfg"], {
    get: (_, key) => {
      if (typeof key !== "string") return undefined;
      const ref = known ? (known as Record<string, unknown>)[key] : expr(nSelect(nVar("config"), key), "any");
      if (ref === undefined) throw new Error(`default: cfg.${key}: the instance has no option "${key}"`);
      return ref;
    },
  });
  return { name: expr<string>(nVar("name"), "string"), pkgs, cfg };
}

const defaultCtx: DefaultContext = defaultContext();
let currentDefaultCtx: DefaultContext = defaultCtx;

/** The options of an instance of `svc`: its parts' then its own. */
export function serviceOptions(svc: AnyService): Shape {
  const out: Record<string, OptionType<unknown>> = {};
  for (const part of svc.parts) {
    for (const [k, o] of Object.entries(part.options as Shape)) {
      if (k in out) throw new DefinitionError(`option "${k}" is declared by two parts (the second is ${part.name})`, o.location ?? part.location);
      out[k] = o;
    }
  }
  for (const [k, o] of Object.entries(svc.options)) {
    if (k in out) throw new DefinitionError(`option "${k}" is already declared by a part of the service`, o.location ?? svc.location);
    out[k] = o;
  }
  return out;
}

/** A context for module code: `let` bindings go to `lets`. */
function makeCtx(shape: Shape, lets: LetBinding[], root = "services"): ServiceContext<Shape> {
  return {
    name: defaultCtx.name,
    cfg: configRef({ ...builtinOptions, ...shape }, nVar("config")) as never,
    pkgs,
    let<T>(hint: string, value: Expr<T>) {
      const location = callSite();
      if (!isNixIdentifier(hint)) throw new DefinitionError(`let name "${hint}" is not a Nix identifier`, location);
      if (!isExpr(value)) throw new DefinitionError(`let "${hint}": value must be an expression`, location);
      const b = binder(hint);
      lets.push({ binder: b, value, location });
      return rebind(value, nFresh(b));
    },
    instanceOf(other, instanceName) {
      const otherShape = { ...serviceOptions(other), ...derivedShapeOf(other) };
      return configRef({ ...builtinOptions, ...otherShape }, nSelect(nVar("rootConfig"), root, other.name, keyOf(lower(instanceName)))) as never;
    },
    hasInstance(other, instanceName) {
      return expr<boolean>({ kind: "select", expr: nVar("rootConfig"), path: [root, other.name, keyOf(lower(instanceName)), "enable"], default: nBool(false) } as NixNode, "bool");
    },
  };
}

/** Checks option names: not reserved, Nix identifiers, and (inside submodules) not shadowing `Expr` members. */
function checkOptionNames(shape: Shape, where: SourceLocation | undefined, top: boolean): void {
  for (const [key, opt] of Object.entries(shape)) {
    const at = opt.location ?? where;
    if (top && reservedOptionNames.has(key)) throw new DefinitionError(`option name "${key}" is reserved (every instance has it already)`, at);
    if (top && !isNixIdentifier(key)) throw new DefinitionError(`option name "${key}" is not a Nix identifier`, at);
    if (!top && EXPR_MEMBERS.has(key)) {
      throw new DefinitionError(`sub-option name "${key}" would hide a member of the expression handle; choose another name`, at);
    }
    let t: OptionType<unknown> | undefined = opt;
    while (t) {
      const c: OptionType<unknown>["ctor"] = t.ctor;
      if (c.name === "submodule") {
        checkOptionNames(c.shape, at, false);
        break;
      }
      t = c.name === "nullOr" || c.name === "listOf" || c.name === "attrsOf" ? c.of : undefined;
    }
  }
}

/** Options of {@link lowerService} and {@link lowerTest}. */
export interface LowerOptions {
  /** The backend processes are lowered for (default process-compose). */
  readonly backend?: Backend;
  /** The project root: source comments name files relative to it (default: the working directory). */
  readonly root?: string;
  /** nixpkgs attribute names the project knows: a `pkgs.<attr>` close to one of them but not in it is a typo. */
  readonly knownPackages?: ReadonlySet<string>;
}

/**
 * What a service's callbacks (and its parts') declare, run once per service in a throwaway
 * context and remembered: the checks ask for composed services again and again.
 */
export const itemsOf: ItemsOf = (svc) => {
  const known = declaredItems.get(svc);
  if (known) return known;
  const ctx = makeCtx({ ...serviceOptions(svc), ...derivedShapeOf(svc) }, []);
  const items: ProcessItem[] = [];
  const instances: InstanceDecl[] = [];
  for (const part of svc.parts) {
    if (part.processes) items.push(...(part.processes(ctx) as ProcessItem[]));
    if (part.instances) instances.push(...(part.instances(ctx) as InstanceDecl[]));
  }
  if (svc.processes) items.push(...svc.processes(ctx));
  if (svc.instances) instances.push(...svc.instances(ctx));
  const declared = { items, instances };
  declaredItems.set(svc, declared);
  return declared;
};
const declaredItems = new WeakMap<AnyService, ReturnType<ItemsOf>>();

/** `modules/redis.ts:57`, for a comment above what a TS line made. */
export function sourceComment(loc: SourceLocation | undefined, root: string): string | undefined {
  if (!loc) return undefined;
  const file = loc.file.startsWith(root + "/") ? loc.file.slice(root.length + 1) : loc.file;
  return `${file}:${loc.line}`;
}

/**
 * Lowers `svc` to a module for a backend (process-compose-flake by default).
 * @throws DefinitionError naming the TS source location of the faulty definition.
 */
export function lowerService(svc: AnyService, opts: LowerOptions = {}): LoweredService {
  const backend = opts.backend ?? processCompose;
  /** Where instances live: `services` (process-compose-flake) or the backend's own prefix. */
  const at = backend.optionRoot;
  const root = opts.root ?? globalThis.process.cwd();
  const comment = (loc: SourceLocation | undefined) => sourceComment(loc, root);
  if (!/^[a-z][a-z0-9-]*$/.test(svc.name)) {
    throw new DefinitionError(
      `service name ${JSON.stringify(svc.name)} must be lowercase letters, digits and dashes, starting with a letter`,
      svc.location,
    );
  }
  if (backend.reservedServiceNames?.includes(svc.name)) {
    throw new DefinitionError(`service name "${svc.name}" is taken: ${at}.${svc.name} is an option of the ${backend.name} backend`, svc.location);
  }
  const options = serviceOptions(svc);
  checkOptionNames(options, svc.location, true);

  const lets: LetBinding[] = [];
  const derived: Record<string, OptionType<unknown>> = {};
  const addDerived = (d: Shape) => {
    for (const [key, opt] of Object.entries(d)) {
      if (reservedOptionNames.has(key) || key in options || key in derived) {
        throw new DefinitionError(`derived option "${key}" clashes with another option`, opt.location);
      }
      derived[key] = opt;
    }
  };
  for (const part of svc.parts) {
    if (part.derived) addDerived(guard(svc, `part ${part.name}: derived`, () => part.derived!(makeCtx(options, lets, at)) as Shape, part.location));
  }
  if (svc.derived) addDerived(guard(svc, "derived", () => svc.derived!(makeCtx(options, lets, at))));
  for (const part of svc.parts) {
    for (const key of Object.keys((part.requires ?? {}) as Shape)) {
      if (!(key in options) && !(key in derived)) {
        throw new DefinitionError(`part ${part.name} requires the option "${key}", which ${svc.name} does not declare`, part.location ?? svc.location);
      }
    }
  }
  const ctx = makeCtx({ ...options, ...derived }, lets, at);
  const fromParts = <T>(what: "processes" | "instances"): T[] =>
    svc.parts.flatMap((part: AnyPart) => {
      const f = part[what] as ((c: ServiceContext<Shape>) => readonly T[]) | undefined;
      return f ? guard(svc, `part ${part.name}: ${what}`, () => [...f(ctx)], part.location) : [];
    });
  const items: ProcessItem[] = [
    ...fromParts<ProcessItem>("processes"),
    ...(svc.processes ? guard(svc, "processes", () => svc.processes!(ctx)) : []),
  ];
  const instances: InstanceDecl[] = [
    ...fromParts<InstanceDecl>("instances"),
    ...(svc.instances ? guard(svc, "instances", () => svc.instances!(ctx)) : []),
  ];
  const assertions: Assertion[] = [
    ...svc.parts.flatMap((part: AnyPart) => (part.assertions ? guard(svc, `part ${part.name}: assertions`, () => [...part.assertions!(ctx)], part.location) : [])),
    ...(svc.assertions ? guard(svc, "assertions", () => [...svc.assertions!(ctx)]) : []),
  ];
  const portLists = [
    ...svc.parts.flatMap((part: AnyPart) => (part.ports ? [guard(svc, `part ${part.name}: ports`, () => part.ports!(ctx), part.location)] : [])),
    ...(svc.ports ? [guard(svc, "ports", () => svc.ports!(ctx))] : []),
  ];
  checkProcesses(items.filter((p): p is ProcessDecl => p.kind === "process"), svc);
  checkDependencies(svc, items, itemsOf);

  const dependencies = [...new Set(instances.map((i) => i.service.name))].sort();

  const outputsOptions: Binding[] = [
    ...backend.instanceOptions(),
    nBind(
      "portOwners",
      mkOption([
        // raw: the value is the compiler's own (an attrset of lists of strings), and a typed merge costs every instance.
        nBind("type", nLib("types", "raw")),
        nBind("internal", nBool(true)),
        nBind("readOnly", nBool(true)),
        nBind("description", nStr("The TCP ports this instance listens on, each with the option setting it (for the port clash check).")),
      ]),
    ),
  ];
  if (dependencies.length > 0) {
    outputsOptions.push(
      nBind(
        "services",
        mkOption([
          nBind("type", nApply(nLib("types", "lazyAttrsOf"), nApply(nLib("types", "lazyAttrsOf"), nLib("types", "deferredModule")))),
          nBind("internal", nBool(true)),
          nBind("default", nAttrs([])),
          nBind("description", nStr("Instances of other services this instance declares when enabled.")),
        ]),
      ),
    );
  }

  currentDefaultCtx = defaultContext({ ...options, ...derived });
  const optionBindings: Binding[] = [
    nBind("enable", nApply(nLib("mkEnableOption"), nStr(`the ${svc.name} instance`))),
    nBind("dataDir", lowerOption(builtinOptions.dataDir, "dataDir")),
    nBind(
      "namespace",
      mkOption([
        nBind("type", nLib("types", "str")),
        nBind("default", nStr(`${svc.name}.`, nVar("name"))),
        nBind("defaultText", nApply(nLib("literalExpression"), nStr(`"${svc.name}.\${name}"`))),
        nBind("description", nStr(builtinOptions.namespace.meta.description ?? "")),
      ]),
    ),
    nBind(
      "declaredBy",
      mkOption([
        nBind("type", nApply(nLib("types", "listOf"), nLib("types", "str"))),
        nBind("default", nList([])),
        nBind("internal", nBool(true)),
        nBind("description", nStr("The composite instances that declare this one (they set it), for the collision check.")),
      ]),
    ),
    ...Object.entries(options).map(([k, o]) => withComment(nBind(k, lowerOption(o, k)), comment(o.location))),
    ...Object.entries(derived).map(([k, o]) => withComment(nBind(k, lowerOption(o, k)), comment(o.location))),
    nBind("outputs", nAttrs(outputsOptions)),
  ];

  currentDefaultCtx = defaultCtx;
  // An instance a composite declares must not also be one the user declares: their
  // definitions would merge silently. The user's are those from files outside generated/.
  const ownEnables: NixNode = {
    ...nApply(
      nSelect(nVar("builtins"), "filter"),
      nLambda({ kind: "ident", name: "def" }, nNot(nApply(nLib("hasPrefix"), nApply(nVar("toString"), nPath("./.")), nSelect(nVar("def"), "file")))),
      nSelect(nVar("options"), "enable", "definitionsWithLocations"),
    ),
    hint: "userEnableDefinitions",
  };
  /** `lib.throwIf <when> <message> value`, condition and message bound in the instance's `let` as `<hint>` and `<hint>Message`. */
  const refuseIf = (hint: string, when: NixNode, message: NixNode) => (value: NixNode): NixNode =>
    nApply(nLib("throwIf"), { ...when, hint }, { ...message, hint: `${hint}Message` }, value);
  const instanceTitle = [`${at}.${svc.name}."`, nVar("name")] as const;
  const notDeclaredTwice = refuseIf(
    "declaredTwice",
    nBinop("&&", nBinop("!=", nSelect(nVar("config"), "declaredBy"), nList([])), nBinop("!=", ownEnables, nList([]))),
    nStr(
      ...instanceTitle,
      '" is declared by ',
      nApply(nLib("concatStringsSep"), nStr(" and "), nSelect(nVar("config"), "declaredBy")),
      ", and defined as an instance of its own in ",
      nApply(nLib("concatMapStringsSep"), nStr(", "), nLambda({ kind: "ident", name: "def" }, nSelect(nVar("def"), "file")), ownEnables),
      ": the two would merge into one. Give your instance another name, or configure this one through the service that declares it.",
    ),
  );
  // An instance name is a path component of the default dataDir and of process names:
  // "..", "." or a "/" would put data outside ./data.
  const safeName = refuseIf(
    "unsafeName",
    [nBinop("==", nVar("name"), nStr("")), nBinop("==", nVar("name"), nStr(".")), nBinop("==", nVar("name"), nStr("..")), nApply(nLib("hasInfix"), nStr("/"), nVar("name"))].reduce(
      (x, y) => nBinop("||", x, y),
    ),
    nStr(...instanceTitle, '": an instance name is part of its data directory and process names; it cannot be empty, "." or "..", nor contain "/".'),
  );
  // dataDir reaches every script as one shell word, `"$(realpath -m -- <dataDir>)"`: a command
  // substitution drops trailing newlines, and an empty path has no directory.
  const safeDataDir = refuseIf(
    "unsafeDataDir",
    nBinop("||", nBinop("==", nSelect(nVar("config"), "dataDir"), nStr("")), nApply(nLib("hasInfix"), nStr("\n"), nSelect(nVar("config"), "dataDir"))),
    nStr(...instanceTitle, '".dataDir is empty or holds a newline: give the instance a directory path on one line.'),
  );
  // Assertions guard what the instance contributes: forcing its processes checks them.
  const checked = (value: NixNode): NixNode =>
    assertions.reduceRight(
      (inner, a) => {
        const cond = lower(a.assertion);
        return nApply(
          nLib("throwIfNot"),
          { ...cond, hint: cond.hint ?? "invariant" },
          { ...nStr(...instanceTitle, '": ', ...messageParts(a.message)), hint: "invariantMessage" },
          inner,
        );
      },
      safeName(safeDataDir(notDeclaredTwice(value))),
    );
  // { "<port>" = [ "services.x.\"name\".<option>" ]; } for each port listened on (0: none).
  const portNodes = portLists.map((ports) =>
    isExpr(ports) ? ports.node : nList(ports.map((p) => nAttrs([nBind("port", lower(p.port)), nBind("option", lower(p.option))]))),
  );
  const portList = portNodes.length === 0 ? nList([]) : portNodes.reduce((a, b) => nBinop("++", a, b));
  const portOwners = nApply(
    nLib("zipAttrsWith"),
    nLambda({ kind: "ident", name: "_" }, nLib("concatLists")),
    nApply(
      nVar("map"),
      nLambda({ kind: "ident", name: "p" }, nAttrs([nBind([nStr(nApply(nVar("toString"), nSelect(nVar("p"), "port")))], nList([nStr(...instanceTitle, '".', nSelect(nVar("p"), "option"))]))])),
      nApply(nSelect(nVar("builtins"), "filter"), nLambda({ kind: "ident", name: "p" }, nBinop("!=", nSelect(nVar("p"), "port"), { kind: "int", value: 0 })), portList),
    ),
  );
  const outputsConfig: Binding[] = backend
    .instanceConfig(items, (at, f) => guard(svc, "process", f, at.location), comment, nStr(...instanceTitle, '"'))
    .map((b) => (b.kind === "attr" ? { ...b, value: checked(b.value) } : b));
  outputsConfig.push(nBind("portOwners", portOwners));
  for (const dep of dependencies) {
    outputsConfig.push(
      nBind(
        ["services", dep],
        nAttrs(
          instances.filter((i) => i.service.name === dep).map((i) => guard(svc, "instance", () => lowerInstance(i, svc.name, at), i.location)),
        ),
      ),
    );
  }

  const fixed = new Set<string>();
  const instanceBody = nAttrs([nBind("options", nAttrs(optionBindings)), nBind(["config", "outputs"], nAttrs(outputsConfig))]);
  checkScripts([instanceBody], new Map(lets.map((l) => [l.binder, l.value.node])));
  const shared = shareRepeated(
    lets.map((l) => nFreshBind(l.binder, l.value.node)),
    instanceBody,
    new Set([...outerNames(instanceBody, lets), ...fixed]),
  );
  const instanceModule = nLambda(nPattern(["config", "name", "options"], true), nLet(shared.lets, shared.body));

  const forEnabled = (of: (instance: NixNode) => NixNode) =>
    nApply(
      nLib("mkMerge"),
      nApply(
        nLib("mapAttrsToList"),
        nLambda({ kind: "ident", name: "_" }, nLambda({ kind: "ident", name: "instance" }, nApply(nLib("mkIf"), nSelect(nVar("instance"), "enable"), of(nVar("instance"))))),
        nSelect(nVar("config"), at, svc.name),
      ),
    );

  const topConfig: Binding[] = [
    ...backend.topConfig(forEnabled),
    // One definition per service (internal.nix merges the claims), not a typed merge per instance.
    nBind(
      ["servicesTs", "owners", keyOf(nStr(svc.name))],
      nApply(
        nVar("map"),
        nLambda(
          { kind: "ident", name: "instance" },
          nAttrs([
            nBind("processes", nSelect(nVar("instance"), "outputs", "processOwners")),
            nBind("ports", nSelect(nVar("instance"), "outputs", "portOwners")),
          ]),
        ),
        nApply(
          nSelect(nVar("builtins"), "filter"),
          nLambda({ kind: "ident", name: "instance" }, nSelect(nVar("instance"), "enable")),
          nApply(nSelect(nVar("builtins"), "attrValues"), nSelect(nVar("config"), at, svc.name)),
        ),
      ),
    ),
    ...dependencies.map((dep) => nBind([at, dep], forEnabled((instance) => nSelect(instance, "outputs", "services", dep)))),
  ];

  const body = nAttrs([
    nBind("imports", nList(["internal", ...dependencies].map((d) => ({ kind: "path", value: `./${d}.nix` }) as NixNode))),
    nBind(
      ["options", at, svc.name],
      mkOption([
        // submoduleWith (shorthandOnlyDefinesConfig = false), as services-flake: an instance definition may carry `imports`.
        nBind(
          "type",
          nApply(
            nLib("types", "attrsOf"),
            nApply(
              nLib("types", "submoduleWith"),
              // `pkgs` as a module argument, as services-flake: `services.x."a" = { pkgs, ... }: { … };` works.
              nAttrs([nBind("specialArgs", nAttrs([{ kind: "inherit", names: ["pkgs"] }])), nBind("modules", nList([nVar("instanceModule")]))]),
            ),
          ),
        ),
        nBind("default", nAttrs([])),
        nBind("description", nStr(svc.description.trim())),
      ]),
    ),
    nBind("config", nAttrs(topConfig)),
  ]);

  const module = nLambda(nPattern(["config", "lib", "pkgs"], true), nLet([...fileLets(nList([instanceModule, body]), svc, backend), nBind("instanceModule", instanceModule)], body));
  if (opts.knownPackages) checkPackageNames(module, opts.knownPackages, svc.location);
  return {
    service: svc,
    module,
    dependencies,
    options,
    derived,
    instance: { lets: shared.lets, body: shared.body, fixed: outerNames(instanceBody, lets) },
  };
}

function messageParts(m: unknown): (string | NixNode)[] {
  const n = lower(m);
  return n.kind === "string" ? n.parts : [n];
}

function withScriptOrigin(n: NixNode, origin: SourceLocation | undefined): NixNode {
  return origin ? ({ ...n, [SCRIPT_ORIGIN]: origin } as unknown as NixNode) : n;
}

function withComment(b: Binding, comment: string | undefined): Binding {
  return comment === undefined || b.kind !== "attr" ? b : { ...b, comment };
}

/** Names the file's outer `let` binds for the instance module (helpers, primitives, prelude). */
function outerNames(node: NixNode, lets: readonly LetBinding[]): Set<string> {
  const out = new Set<string>(Object.keys(PRELUDE));
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(visit);
    if (n === null || typeof n !== "object") return;
    const o = n as Record<string, unknown>;
    if (o.kind === "var" && (o[HELPER] || o[BACKEND_PRIMITIVE])) out.add(o.name as string);
    for (const [k, v] of Object.entries(o)) if (k !== HELPER && typeof v === "object") visit(v);
  };
  visit(node);
  for (const l of lets) visit(l.value.node);
  return out;
}

/** The file-level `let` bindings `node` needs: helpers, backend primitives, `rootConfig`, prelude functions. */
function fileLets(node: NixNode, svc: AnyService | ServiceTest, backend: Backend): Binding[] {
  const out: Binding[] = [];
  for (const h of collectHelpers(node, svc)) out.push(nBind(h.name, h.lambda));
  const used = referencedVars(node);
  for (const [name, def] of Object.entries({ ...backend.primitives, ...backend.fileLets })) if (used.has(name)) out.push(nBind(name, def));
  if (used.has("optionRoot")) out.push(nBind("optionRoot", nStr(backend.optionRoot)));
  if (used.has("projectRoot")) {
    // The project root, relative to the emitted file: generated/[<backend dir>/][tests/]<name>.nix.
    const depth = 1 + (backend.generatedDir === "" ? 0 : backend.generatedDir.split("/").length) + (isServiceTest(svc) ? 1 : 0);
    out.push(nBind("projectRoot", nPath(Array.from({ length: depth }, () => "..").join("/"))));
  }
  if (used.has("rootConfig")) out.push(nBind("rootConfig", nVar("config")));
  for (const [helper, def] of Object.entries(PRELUDE)) if (used.has(helper)) out.push(nBind(helper, def));
  return out;
}

/** Runs module code, turning any error it throws into a DefinitionError at the module's line. */
function guard<T>(svc: { location: SourceLocation | undefined }, what: string, f: () => T, at?: SourceLocation): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DefinitionError) throw e;
    const err = e instanceof Error ? e : new Error(String(e));
    throw new DefinitionError(`${what}: ${err.message}`, firstUserFrame(err.stack) ?? at ?? svc.location);
  }
}

function mkOption(bindings: Binding[]): NixNode {
  return nApply(nLib("mkOption"), nAttrs(bindings));
}

function checkProcesses(processes: readonly ProcessDecl[], svc: AnyService): void {
  const seen = new Map<string, SourceLocation | undefined>();
  for (const p of processes) {
    const n = lower(p.name);
    const key = printNix(n.kind === "string" ? n : nStr(n)).trim();
    if (seen.has(key) && p.condition === undefined) throw new DefinitionError(`process ${key} is declared twice`, p.location);
    seen.set(key, p.location);
    if (p.command === undefined) throw new DefinitionError(`process ${key} has no command`, p.location ?? svc.location);
  }
}

/** An instance declaration's definitions; `by`: the declaring composite service, recorded in `declaredBy`. */
function lowerInstance(i: InstanceDecl, by?: string, at = "services"): Binding {
  const bindings: Binding[] = [];
  if (by !== undefined) bindings.push(nBind("declaredBy", nList([nStr(`${at}.${by}."`, nVar("name"), '"')])));
  if (i.imports.length > 0) bindings.push(nBind("imports", nList(i.imports.map((m) => m.node))));
  const known = { ...builtinOptions, ...serviceOptions(i.service) };
  for (const [k, v] of Object.entries(i.config)) {
    if (v === undefined) continue;
    const opt = (known as Shape)[k];
    if (!opt) throw new DefinitionError(`instance of ${i.service.name}: unknown option "${k}"`, i.location);
    if (!isExpr(v)) {
      const msg = opt.check(v);
      if (msg) throw new DefinitionError(`instance of ${i.service.name}: option ${k}: ${msg}`, i.location);
    }
    bindings.push(nBind(k, lower(v)));
  }
  return nBind(keyOf(lower(i.name)), nAttrs(bindings));
}

const derivedCache = new WeakMap<AnyService, Shape>();
/** The derived options of `svc` (its parts' and its own), for their types. */
function derivedShapeOf(svc: AnyService): Shape {
  let d = derivedCache.get(svc);
  if (!d) {
    // Evaluate the other service's derived options with a throwaway context: only their types matter here.
    const throwaway: LetBinding[] = [];
    const ctx = makeCtx(serviceOptions(svc), throwaway);
    d = {};
    for (const part of svc.parts) if (part.derived) Object.assign(d, part.derived(ctx));
    if (svc.derived) Object.assign(d, svc.derived(ctx));
    derivedCache.set(svc, d);
  }
  return d;
}

/** Lowers the type constructor of an option to a `lib.types` expression. */
export function lowerType(opt: OptionType<unknown>): NixNode {
  const c = opt.ctor;
  switch (c.name) {
    case "enum":
      return nApply(nLib("types", "enum"), lower(c.values));
    case "nullOr":
    case "listOf":
    case "attrsOf":
    case "functionTo":
      return nApply(nLib("types", c.name), lowerType(c.of));
    case "oneOf":
      return nApply(nLib("types", "oneOf"), nList(c.of.map(lowerType)));
    case "submodule":
      return nApply(
        nLib("types", "submodule"),
        nAttrs([
          ...(c.freeform ? [nBind("freeformType", lowerType(c.freeform))] : []),
          nBind("options", nAttrs(Object.entries(c.shape).map(([k, o]) => nBind(k, lowerOption(o, k))))),
        ]),
      );
    default:
      return nLib("types", c.name);
  }
}

/** The option's default as a Nix node, or undefined when it has none. */
export function defaultNode(opt: OptionType<unknown>, path: string): NixNode | undefined {
  const d = opt.meta.default;
  if (d === undefined) return undefined;
  let value: unknown;
  try {
    value = typeof d === "function" ? (d as (c: DefaultContext) => unknown)(currentDefaultCtx) : d;
  } catch (e) {
    throw new DefinitionError(`option ${path}: ${(e as Error).message}`, opt.location);
  }
  if (!isExpr(value)) {
    const msg = opt.check(value);
    if (msg) throw new DefinitionError(`option ${path}: default: ${msg}`, opt.location);
  }
  try {
    return lower(value);
  } catch (e) {
    throw new DefinitionError(`option ${path}: default: ${(e as Error).message}`, opt.location);
  }
}

/** Lowers one option to `lib.mkOption { … }` (or `lib.mkPackageOption` for packages). */
export function lowerOption(opt: OptionType<unknown>, path: string): NixNode {
  const m = opt.meta;
  // A package option with a default of its own (`config.package.jre`) is a plain mkOption of type package.
  if (opt.ctor.name === "package" && opt.packageAttr && m.default === undefined) {
    const extra: Binding[] = [];
    if (m.description) extra.push(nBind("extraDescription", nStr(m.description)));
    if (m.example !== undefined) extra.push(nBind("example", exampleNode(opt, path)));
    const attr = opt.packageAttr.length === 1 ? nStr(opt.packageAttr[0]!) : lower(opt.packageAttr);
    const option = nApply(nLib("mkPackageOption"), nVar("pkgs"), attr, nAttrs(extra));
    // mkPackageOption takes no `apply`: it is added to the option it returns.
    const apply = applyNode(opt, path);
    return apply ? nBinop("//", option, nAttrs([nBind("apply", apply)])) : option;
  }
  const bindings: Binding[] = [nBind("type", lowerType(opt))];
  const def = defaultNode(opt, path);
  if (def) {
    bindings.push(nBind("default", def));
    const literal = !isExpr(typeof m.default === "function" ? null : m.default) && typeof m.default !== "function";
    if (typeof m.defaultText === "string") bindings.push(nBind("defaultText", nApply(nLib("literalExpression"), nStr(m.defaultText))));
    else if (m.defaultText !== undefined) bindings.push(nBind("defaultText", nApply(nLib("literalMD"), nStr(m.defaultText.md))));
    else if (!literal) bindings.push(nBind("defaultText", nApply(nLib("literalExpression"), nStr(printNix(def).trim()))));
  }
  if (m.example !== undefined) bindings.push(nBind("example", exampleNode(opt, path)));
  if (m.readOnly) bindings.push(nBind("readOnly", nBool(true)));
  if (m.internal) bindings.push(nBind("internal", nBool(true)));
  if (m.description) bindings.push(nBind("description", nStr(m.description)));
  const apply = applyNode(opt, path);
  if (apply) bindings.push(nBind("apply", apply));
  return nApply(nLib("mkOption"), nAttrs(bindings));
}

/** The option's `apply` function (`value: …`), or undefined when it has none. */
function applyNode(opt: OptionType<unknown>, path: string): NixNode | undefined {
  const f = opt.meta.apply;
  if (f === undefined) return undefined;
  try {
    return nLambda({ kind: "ident", name: "value" }, lower(f(expr(nVar("value"), opt.kind), currentDefaultCtx)));
  } catch (e) {
    throw new DefinitionError(`option ${path}: apply: ${(e as Error).message}`, opt.location);
  }
}

function exampleNode(opt: OptionType<unknown>, path: string): NixNode {
  const ex = opt.meta.example;
  if (ex !== null && typeof ex === "object" && !Array.isArray(ex) && !isExpr(ex) && "nix" in ex && typeof ex.nix === "string") {
    return nApply(nLib("literalExpression"), nStr(ex.nix));
  }
  if (!isExpr(ex)) {
    const msg = opt.check(ex);
    if (msg) throw new DefinitionError(`option ${path}: example: ${msg}`, opt.location);
  }
  return lower(ex);
}

const HELPER_SCOPE = new Set(["lib", "pkgs", "builtins", "toString", "map", "true", "false", "null", ...Object.keys(PRELUDE)]);

/**
 * The module-defined helper functions (`helper(...)`) that `node` calls, transitively,
 * sorted by name.
 * @throws DefinitionError when two helpers share a name or a body uses instance values.
 */
function collectHelpers(node: NixNode, svc: { location: SourceLocation | undefined }): HelperDef[] {
  const found = new Map<string, HelperDef>();
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(visit);
    if (n === null || typeof n !== "object") return;
    const obj = n as Record<string, unknown>;
    const def = obj[HELPER] as HelperDef | undefined;
    if (obj.kind === "var" && def) {
      const seen = found.get(def.name);
      if (seen && seen !== def) throw new DefinitionError(`two different helpers are named "${def.name}"`, def.location);
      if (!seen) {
        found.set(def.name, def);
        const param = (def.lambda as { param: { name: string } }).param.name;
        for (const v of referencedVars(def.lambda)) {
          if (v !== param && !HELPER_SCOPE.has(v) && !isHelperName(def.lambda, v)) {
            throw new DefinitionError(`helper "${def.name}" uses "${v}": a helper may use only its argument`, def.location ?? svc.location);
          }
        }
        visit(def.lambda);
      }
      return;
    }
    for (const [k, v] of Object.entries(obj)) if (k !== HELPER && typeof v === "object") visit(v);
  };
  visit(node);
  return [...found.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Whether `name` is bound inside `node` by a lambda (the body's own fresh names) or is a helper it calls. */
function isHelperName(node: NixNode, name: string): boolean {
  let bound = false;
  const visit = (n: unknown): void => {
    if (bound || n === null || typeof n !== "object") return;
    if (Array.isArray(n)) return n.forEach(visit);
    const obj = n as Record<string, unknown>;
    if (obj.kind === "lambda" && (obj.param as { name?: string }).name === name) bound = true;
    if (obj.kind === "var" && obj.name === name && obj[HELPER]) bound = true;
    for (const v of Object.values(obj)) visit(v);
  };
  visit(node);
  return bound;
}

/** Every variable name referenced anywhere in `node` (over-approximates: ignores shadowing). */
export function referencedVars(node: NixNode, out = new Set<string>()): Set<string> {
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(visit);
    if (n === null || typeof n !== "object") return;
    const obj = n as Record<string, unknown>;
    if (obj.kind === "var" && typeof obj.name === "string") out.add(obj.name);
    for (const v of Object.values(obj)) if (typeof v === "object") visit(v);
  };
  visit(node);
  return out;
}

/**
 * Lowers a service test to a process-compose-flake module: the services' modules,
 * the instances (enabled), and the `test` process.
 * @throws DefinitionError at the test's source location.
 */
export function lowerTest(test: ServiceTest, opts: LowerOptions = {}): NixNode {
  const backend = opts.backend ?? processCompose;
  const bindings: Binding[] = [];
  const imports = Object.values(test.services)
    .map((svc) => svc.name)
    .sort()
    .map((n) => ({ kind: "path", value: `../${n}.nix` }) as NixNode);
  bindings.push(nBind("imports", nList(imports)));
  for (const [key, svc] of Object.entries(test.services)) {
    if (key !== svc.name) {
      throw new DefinitionError(`services: key "${key}" must be the service's name "${svc.name}"`, test.location);
    }
  }
  for (const [svcName, insts] of Object.entries(test.instances)) {
    const svc = test.services[svcName];
    if (!svc) throw new DefinitionError(`instances: "${svcName}" is not listed in services`, test.location);
    for (const [inst, config] of Object.entries(insts ?? {})) {
      const decl: InstanceDecl = { service: svc, name: inst, config: { enable: true, ...config }, imports: [], location: test.location };
      const lowered = guard(svc, "instances", () => lowerInstance(decl), test.location);
      bindings.push(nBind([backend.optionRoot, svc.name, inst], (lowered as { value: NixNode }).value));
    }
  }
  const proc = guard(test, "test", () => test.test(testContext(test, (svc) => ({ ...serviceOptions(svc), ...derivedShapeOf(svc) }), backend.optionRoot)), test.location);
  const command = withScriptOrigin(nApply(
    nSelect(nVar("pkgs"), "writeShellApplication"),
    nAttrs([
      nBind("name", nStr(`${test.name}-test`)),
      nBind("runtimeInputs", lower(proc.runtimeInputs ?? [])),
      nBind("excludeShellChecks", lower(SHELLCHECK_EXCLUDES)),
      nBind("text", proc.text.node),
    ]),
  ), proc.text.info.origin ?? test.location);
  checkScripts([command], new Map());
  const ctx = testContext(test, (svc) => ({ ...serviceOptions(svc), ...derivedShapeOf(svc) }), backend.optionRoot);
  const extra = test.processes ? guard(test, "processes", () => [...test.processes!(ctx)], test.location) : [];
  for (const p of extra) {
    if (lower(p.name).kind !== "string") throw new DefinitionError("a test's processes need literal names", p.location ?? test.location);
    const n = (lower(p.name) as { parts: unknown[] }).parts.join("");
    if (n === "test") throw new DefinitionError('"test" is the name of the test process itself; choose another', p.location ?? test.location);
  }
  checkScripts(extra.map((p) => lower(p.command)), new Map());
  const extraNames = extra.map((p) => (lower(p.name) as { parts: string[] }).parts.join(""));
  checkTest(test, proc.dependsOn, itemsOf, serviceOptions, extraNames);
  for (const p of extra) bindings.push(guard(test, "processes", () => backend.testProcess(p), p.location));
  bindings.push(backend.testProcess(process("test", { command: expr<Pkg>(command, "package"), dependsOn: proc.dependsOn, oneshot: true })));
  const body = nAttrs(bindings);
  if (opts.knownPackages) checkPackageNames(body, opts.knownPackages, test.location);
  return nLambda(nPattern(["config", "lib", "pkgs"], true), nLet(fileLets(body, test, backend), body));
}
