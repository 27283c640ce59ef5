/**
 * Lowers a service definition (dsl/) to the Nix AST of a process-compose-flake
 * module that declares `services.<service>` as `attrsOf (submodule …)`.
 *
 * Nothing here knows any particular service: everything service-specific comes
 * from the definition in `modules/`.
 */
import {
  configRef,
  type DefaultContext,
  DefinitionError,
  Expr,
  expr,
  type InstanceDecl,
  isExpr,
  type LetBinding,
  lower,
  pkgs,
  type ProcessDecl,
  type ProcessExtension,
  type ProcessFamily,
  resetFreshNames,
  type AnyService,
  type OptionType,
  type ServiceContext,
  type Shape,
  builtinOptions,
  reservedOptionNames,
  type ServiceTest,
  HELPER,
  type HelperDef,
  isolatedFreshNames,
  SHELLCHECK_EXCLUDES,
  testContext,
} from "../dsl";
import { callSite, firstUserFrame, type SourceLocation } from "../dsl/location";
import {
  type AttrKey,
  type Binding,
  isNixIdentifier,
  nApply,
  nAttrs,
  nBinop,
  nBind,
  nBool,
  nLambda,
  nLet,
  nLib,
  nList,
  nPattern,
  nSelect,
  nStr,
  nVar,
  type NixNode,
} from "../nix/ast";
import { printNix } from "../nix/print";

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

const RESERVED_LET_NAMES = new Set(["config", "name", "lib", "pkgs", "rootConfig", "options", ...Object.keys(PRELUDE)]);

/** The result of lowering one service. */
export interface LoweredService {
  readonly service: AnyService;
  /** The module, ready for `printNix`. */
  readonly module: NixNode;
  /** Names of other services whose instances this one declares (their files are imported). */
  readonly dependencies: readonly string[];
  /** Derived (read-only) options, for docs. */
  readonly derived: Shape;
}

const defaultCtx: DefaultContext = { name: expr<string>(nVar("name"), "string"), pkgs };

/**
 * Lowers `svc` to a process-compose-flake module.
 * @throws DefinitionError naming the TS source location of the faulty definition.
 */
export function lowerService(svc: AnyService): LoweredService {
  resetFreshNames();
  if (!/^[a-z][a-z0-9-]*$/.test(svc.name)) {
    throw new DefinitionError(
      `service name ${JSON.stringify(svc.name)} must be lowercase letters, digits and dashes, starting with a letter`,
      svc.location,
    );
  }
  for (const key of Object.keys(svc.options)) {
    if (reservedOptionNames.has(key)) {
      throw new DefinitionError(`option name "${key}" is reserved (every instance has it already)`, svc.options[key]?.location ?? svc.location);
    }
    if (!isNixIdentifier(key)) throw new DefinitionError(`option name "${key}" is not a Nix identifier`, svc.options[key]?.location ?? svc.location);
  }

  const lets: LetBinding[] = [];
  const makeCtx = <S extends Shape>(shape: S, letSink: LetBinding[]): ServiceContext<S> => ({
    name: defaultCtx.name,
    cfg: configRef({ ...builtinOptions, ...shape }, nVar("config")),
    pkgs,
    let<T>(name: string, value: Expr<T>): Expr<T> {
      const location = callSite();
      if (!isNixIdentifier(name) || RESERVED_LET_NAMES.has(name)) {
        throw new DefinitionError(`let name "${name}" is reserved or not a Nix identifier`, location);
      }
      if (letSink.some((l) => l.name === name)) throw new DefinitionError(`let name "${name}" is bound twice`, location);
      if (!isExpr(value)) throw new DefinitionError(`let "${name}": value must be an expression`, location);
      letSink.push({ name, value, location });
      return expr<T>(nVar(name), value.kind);
    },
    instanceOf(other, instanceName) {
      const otherShape = { ...other.options, ...derivedShapeOf(other) };
      return configRef({ ...builtinOptions, ...otherShape }, nSelect(nVar("rootConfig"), "services", other.name, keyOf(lower(instanceName)))) as never;
    },
  });

  const derived: Shape = svc.derived ? guard(svc, "derived", () => svc.derived!(makeCtx(svc.options, lets))) : {};
  for (const [key, opt] of Object.entries(derived)) {
    if (reservedOptionNames.has(key) || key in svc.options) {
      throw new DefinitionError(`derived option "${key}" clashes with another option`, opt.location);
    }
  }
  const ctx = makeCtx({ ...svc.options, ...derived }, lets);
  const processes = svc.processes ? guard(svc, "processes", () => svc.processes!(ctx)) : [];
  const instances = svc.instances ? guard(svc, "instances", () => svc.instances!(ctx)) : [];
  const statics = processes.filter((p): p is ProcessDecl => !("kind" in p));
  const families = processes.filter((p): p is ProcessFamily => "kind" in p && p.kind === "process-family");
  const extensions = processes.filter((p): p is ProcessExtension => "kind" in p && p.kind === "process-extension");
  checkProcesses(statics, svc);

  const dependencies = [...new Set(instances.map((i) => i.service.name))].sort();

  const outputsOptions: Binding[] = [];
  outputsOptions.push(nBind(
    "settings",
    mkOption([
      nBind("type", nApply(nLib("types", "lazyAttrsOf"), nLib("types", "raw"))),
      nBind("internal", nBool(true)),
      nBind("readOnly", nBool(true)),
      nBind("description", nStr("The process-compose settings (`processes`) this instance contributes when enabled.")),
    ]),
  ));
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
    ...Object.entries(svc.options as Shape).map(([k, o]) => nBind(k, lowerOption(o, k))),
    ...Object.entries(derived).map(([k, o]) => nBind(k, lowerOption(o, k))),
    nBind("outputs", nAttrs(outputsOptions)),
  ];

  const outputsConfig: Binding[] = [
    nBind(
      ["settings", "processes"],
      updateAll([
        nAttrs([
          ...statics.map((p) => guard(svc, "process", () => lowerProcess(p), p.location)),
          ...extensions.map((p) => guard(svc, "process", () => nBind(keyOf(lower(p.name)), processBody(p, false)), p.location)),
        ]),
        ...families.map((f) => guard(svc, "process", () => lowerFamily(f), f.location)),
      ]),
    ),
  ];
  for (const dep of dependencies) {
    outputsConfig.push(
      nBind(
        ["services", dep],
        nAttrs(
          instances.filter((i) => i.service.name === dep).map((i) => guard(svc, "instance", () => lowerInstance(i), i.location)),
        ),
      ),
    );
  }

  const instanceModule = nLambda(
    nPattern(["config", "name"], true),
    nLet(
      lets.map((l) => nBind(l.name, l.value.node)),
      nAttrs([nBind("options", nAttrs(optionBindings)), nBind(["config", "outputs"], nAttrs(outputsConfig))]),
    ),
  );

  const forEnabled = (what: NixNode) =>
    nApply(
      nLib("mkMerge"),
      nApply(
        nLib("mapAttrsToList"),
        nLambda({ kind: "ident", name: "_" }, nLambda({ kind: "ident", name: "instance" }, nApply(nLib("mkIf"), nSelect(nVar("instance"), "enable"), what))),
        nSelect(nVar("config"), "services", svc.name),
      ),
    );

  const topConfig: Binding[] = [
    nBind(["settings", "processes"], forEnabled(nSelect(nVar("instance"), "outputs", "settings", "processes"))),
    ...dependencies.map((dep) => nBind(["services", dep], forEnabled(nSelect(nVar("instance"), "outputs", "services", dep)))),
  ];

  const body = nAttrs([
    ...(dependencies.length > 0 ? [nBind("imports", nList(dependencies.map((d) => ({ kind: "path", value: `./${d}.nix` }) as NixNode)))] : []),
    nBind(
      ["options", "services", svc.name],
      mkOption([
        // submoduleWith (shorthandOnlyDefinesConfig = false), as services-flake: an instance definition may carry `imports`.
        nBind(
          "type",
          nApply(nLib("types", "attrsOf"), nApply(nLib("types", "submoduleWith"), nAttrs([nBind("modules", nList([nVar("instanceModule")]))]))),
        ),
        nBind("default", nAttrs([])),
        nBind("description", nStr(svc.description.trim())),
      ]),
    ),
    nBind("config", nAttrs(topConfig)),
  ]);

  const outerLets: Binding[] = [];
  for (const h of collectHelpers(instanceModule, svc)) outerLets.push(nBind(h.name, h.lambda));
  const used = referencedVars(instanceModule);
  if (used.has("rootConfig")) outerLets.push(nBind("rootConfig", nVar("config")));
  for (const [helper, def] of Object.entries(PRELUDE)) if (used.has(helper)) outerLets.push(nBind(helper, def));
  outerLets.push(nBind("instanceModule", instanceModule));

  const module = nLambda(nPattern(["config", "lib", "pkgs"], true), nLet(outerLets, body));
  return { service: svc, module, dependencies, derived };
}

/** Runs module code, turning any error it throws into a DefinitionError at the module's line. */
function guard<T>(svc: AnyService, what: string, f: () => T, at?: SourceLocation): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DefinitionError) throw e;
    const err = e instanceof Error ? e : new Error(String(e));
    throw new DefinitionError(`${what}: ${err.message}`, at ?? firstUserFrame(err.stack) ?? svc.location);
  }
}

function mkOption(bindings: Binding[]): NixNode {
  return nApply(nLib("mkOption"), nAttrs(bindings));
}

/** A Nix attribute key for a lowered name: static when literal. */
function keyOf(node: NixNode): AttrKey {
  if (node.kind === "string" && node.parts.every((p) => typeof p === "string")) return node.parts.join("");
  return node;
}

function checkProcesses(processes: readonly ProcessDecl[], svc: AnyService): void {
  const seen = new Map<string, SourceLocation | undefined>();
  for (const p of processes) {
    const n = lower(p.name);
    const key = printNix(n.kind === "string" ? n : nStr(n)).trim();
    if (seen.has(key)) throw new DefinitionError(`process ${key} is declared twice`, p.location);
    seen.set(key, p.location);
    if (p.command === undefined) throw new DefinitionError(`process ${key} has no command`, p.location ?? svc.location);
  }
}

/** `lib.mapAttrs' (key: value: lib.nameValuePair name body) over`. */
function mapAttrsPrime(over: NixNode, keyVar: string, valueVar: string, name: NixNode, body: NixNode): NixNode {
  return nApply(
    nLib("mapAttrs'"),
    nLambda({ kind: "ident", name: keyVar }, nLambda({ kind: "ident", name: valueVar }, nApply(nLib("nameValuePair"), name, body))),
    over,
  );
}

/** `a // b // …`, or `a` alone. */
function updateAll(parts: NixNode[]): NixNode {
  return parts.length === 0 ? nAttrs([]) : parts.reduce((l, r) => nBinop("//", l, r));
}

function lowerDependsOn(depends_on: NonNullable<ProcessDecl["depends_on"]>): NixNode {
  const statics: Binding[] = [];
  const families: NixNode[] = [];
  for (const d of depends_on) {
    if ("kind" in d && d.kind === "depends-on-each") {
      families.push(mapAttrsPrime(d.over.node, d.keyVar, "_", d.process.node, nAttrs([nBind("condition", nStr(d.condition))])));
    } else {
      const dep = d as { process: ProcessDecl | Expr<string> | string; condition: string };
      const target = typeof dep.process === "object" && dep.process !== null && !isExpr(dep.process) ? dep.process.name : dep.process;
      statics.push(nBind([keyOf(lower(target)), "condition"], nStr(dep.condition)));
    }
  }
  return updateAll([...(statics.length > 0 || families.length === 0 ? [nAttrs(statics)] : []), ...families]);
}

function processBody(p: ProcessDecl | ProcessExtension, ownNamespace = true): NixNode {
  const { name: _name, location: _location, depends_on, namespace, ...all } = p;
  const { kind: _kind, ...rest } = all as typeof all & { kind?: string };
  const bindings: Binding[] = [];
  for (const [k, v] of Object.entries(rest)) {
    if (v === undefined) continue;
    bindings.push(nBind(k, lower(v)));
  }
  if (depends_on && depends_on.length > 0) bindings.push(nBind("depends_on", lowerDependsOn(depends_on)));
  if (namespace !== undefined) bindings.push(nBind("namespace", lower(namespace)));
  else if (ownNamespace) bindings.push(nBind("namespace", nApply(nLib("mkDefault"), nSelect(nVar("config"), "namespace"))));
  return nAttrs(bindings);
}

function lowerProcess(p: ProcessDecl): Binding {
  return nBind(keyOf(lower(p.name)), processBody(p));
}

function lowerFamily(f: ProcessFamily): NixNode {
  return mapAttrsPrime(f.over.node, f.keyVar, f.valueVar, lower(f.decl.name), processBody(f.decl));
}

function lowerInstance(i: InstanceDecl): Binding {
  const bindings: Binding[] = [];
  if (i.imports.length > 0) bindings.push(nBind("imports", nList(i.imports.map((m) => m.node))));
  const known = { ...builtinOptions, ...i.service.options };
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
function derivedShapeOf(svc: AnyService): Shape {
  let d = derivedCache.get(svc);
  if (!d) {
    // Evaluate the other service's derived options with a throwaway context: only their kinds matter here.
    const ctx: ServiceContext<Shape> = {
      name: defaultCtx.name,
      cfg: configRef({ ...builtinOptions, ...svc.options }, nVar("config")) as never,
      pkgs,
      let: (_n, v) => v,
      instanceOf: () => {
        throw new Error("nested instanceOf in derived options is not supported");
      },
    };
    d = svc.derived ? isolatedFreshNames(() => svc.derived!(ctx) as Shape) : {};
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
        nAttrs([nBind("options", nAttrs(Object.entries(c.shape).map(([k, o]) => nBind(k, lowerOption(o, k)))))]),
      );
    default:
      return nLib("types", c.name);
  }
}

/** The option's default as a Nix node, or undefined when it has none. */
export function defaultNode(opt: OptionType<unknown>, path: string): NixNode | undefined {
  const d = opt.meta.default;
  if (d === undefined) return undefined;
  const value = typeof d === "function" ? (d as (c: DefaultContext) => unknown)(defaultCtx) : d;
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
  if (opt.ctor.name === "package" && opt.packageAttr) {
    const extra: Binding[] = [];
    if (m.description) extra.push(nBind("extraDescription", nStr(m.description)));
    if (m.example !== undefined) extra.push(nBind("example", exampleNode(opt, path)));
    const attr = opt.packageAttr.length === 1 ? nStr(opt.packageAttr[0]!) : lower(opt.packageAttr);
    return nApply(nLib("mkPackageOption"), nVar("pkgs"), attr, nAttrs(extra));
  }
  const bindings: Binding[] = [nBind("type", lowerType(opt))];
  const def = defaultNode(opt, path);
  if (def) {
    bindings.push(nBind("default", def));
    const literal = !isExpr(typeof m.default === "function" ? null : m.default) && typeof m.default !== "function";
    if (m.defaultText !== undefined) bindings.push(nBind("defaultText", nApply(nLib("literalExpression"), nStr(m.defaultText))));
    else if (!literal) bindings.push(nBind("defaultText", nApply(nLib("literalExpression"), nStr(printNix(def).trim()))));
  }
  if (m.example !== undefined) bindings.push(nBind("example", exampleNode(opt, path)));
  if (m.readOnly) bindings.push(nBind("readOnly", nBool(true)));
  if (m.internal) bindings.push(nBind("internal", nBool(true)));
  if (m.description) bindings.push(nBind("description", nStr(m.description)));
  return nApply(nLib("mkOption"), nAttrs(bindings));
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
function collectHelpers(node: NixNode, svc: AnyService): HelperDef[] {
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
export function lowerTest(test: ServiceTest): NixNode {
  resetFreshNames();
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
      bindings.push(nBind(["services", svc.name, inst], (lowered as { value: NixNode }).value));
    }
  }
  const proc = guard(test as unknown as AnyService, "test", () => test.test(testContext(test, derivedShapeOf)), test.location);
  const command = nApply(
    nSelect(nVar("pkgs"), "writeShellApplication"),
    nAttrs([
      nBind("name", nStr(`${test.name}-test`)),
      nBind("runtimeInputs", lower(proc.runtimeInputs ?? [])),
      nBind("excludeShellChecks", lower(SHELLCHECK_EXCLUDES)),
      nBind("text", proc.text.node),
    ]),
  );
  const testBindings: Binding[] = [nBind("command", command)];
  if (proc.depends_on.length > 0) testBindings.push(nBind("depends_on", lowerDependsOn(proc.depends_on)));
  bindings.push(nBind(["settings", "processes", "test"], nAttrs(testBindings)));
  const body = nAttrs(bindings);
  const helpers = collectHelpers(body, test as unknown as AnyService).map((h) => nBind(h.name, h.lambda));
  return nLambda(nPattern(["config", "lib", "pkgs"], true), nLet(helpers, body));
}
