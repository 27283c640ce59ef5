/**
 * Automatic sharing: an expression that occurs more than once in an instance
 * module is bound once in the instance's `let` and referred to by name, so Nix
 * evaluates it once per instance and a reader sees it once.
 *
 * Only expressions that depend on the instance (its `config`, `name`, `pkgs`, or
 * an instance-level `let` binding) and that are closed at instance level (no
 * variable of an enclosing lambda) are shared; tiny ones (`toString config.port`)
 * stay inline, where they read better. Nix is lazy, so a binding that a branch
 * never uses is never evaluated: sharing cannot change what a module means.
 */
import { type Binder, binder, type Binding, nFresh, nFreshBind, nLet, type NixNode } from "../nix/ast";
import { printNix } from "../nix/print";

/** Expressions smaller than this many AST nodes stay inline (unless `named`, which asks for a binding). */
export const MIN_SHARED_SIZE = 6;

const isNamed = (n: NixNode): boolean => typeof (n as { hint?: unknown }).hint === "string";

/** Names bound outside the instance module, usable from its `let`. */
const OUTER = new Set(["lib", "pkgs", "builtins", "toString", "map", "true", "false", "null", "rootConfig", "sqlLiteral", "sqlIdentifier"]);
/** Names that make an expression instance-dependent. */
const INSTANCE = new Set(["config", "name", "options", "pkgs", "rootConfig"]);

interface Info {
  readonly key: string;
  readonly size: number;
  /** Free fixed names and free binders. */
  readonly free: ReadonlySet<string | Binder>;
}

/** A repeated expression found by {@link findRepeated}. */
export interface Repeated {
  readonly node: NixNode;
  readonly count: number;
  readonly size: number;
}

class Analyzer {
  private readonly cache = new WeakMap<object, Info>();
  private readonly ids = new Map<Binder, number>();

  constructor(private readonly fixed: ReadonlySet<string>) {}

  info(n: NixNode): Info {
    const hit = this.cache.get(n);
    if (hit) return hit;
    const out = this.compute(n);
    this.cache.set(n, out);
    return out;
  }

  private id(b: Binder): number {
    let i = this.ids.get(b);
    if (i === undefined) this.ids.set(b, (i = this.ids.size));
    return i;
  }

  private compute(n: NixNode): Info {
    const free = new Set<string | Binder>();
    let size = 1;
    const keys: string[] = [];
    const child = (c: NixNode, bound?: ReadonlySet<string | Binder>) => {
      const i = this.info(c);
      size += i.size;
      keys.push(i.key);
      for (const f of i.free) if (!bound?.has(f)) free.add(f);
    };
    const attrKey = (k: string | NixNode) => (typeof k === "string" ? keys.push(JSON.stringify(k)) : child(k));
    switch (n.kind) {
      case "var":
        if (n.binder) free.add(n.binder);
        else free.add(n.name);
        return { key: n.binder ? `#${this.id(n.binder)}` : `$${n.name}${(n as Record<string, unknown>).helper ? "!h" : ""}`, size: 1, free };
      case "null":
        return { key: "null", size, free };
      case "bool":
      case "int":
      case "float":
        return { key: `${n.kind}:${n.value}`, size, free };
      case "path":
        return { key: `path:${n.value}`, size, free };
      case "string":
        for (const p of n.parts) typeof p === "string" ? keys.push(JSON.stringify(p)) : child(p);
        break;
      case "raw":
        for (const p of n.parts) typeof p === "string" ? keys.push(JSON.stringify(p)) : child(p);
        break;
      case "select":
        child(n.expr);
        n.path.forEach(attrKey);
        if (n.default) child(n.default);
        break;
      case "hasAttr":
        child(n.expr);
        n.path.forEach(attrKey);
        break;
      case "apply":
        child(n.fn);
        n.args.forEach((a) => child(a));
        break;
      case "list":
        n.items.forEach((a) => child(a));
        break;
      case "attrs":
        for (const b of n.bindings) {
          if (b.kind === "inherit") {
            keys.push(`inherit:${b.names.join(",")}`);
            if (b.from) child(b.from);
            else b.names.forEach((x) => free.add(x));
          } else {
            keys.push("=");
            b.path.forEach(attrKey);
            child(b.value);
          }
        }
        break;
      case "let": {
        const bound = new Set<string | Binder>();
        for (const b of n.bindings) {
          if (b.kind === "attr") bound.add(b.binder ?? (typeof b.path[0] === "string" ? b.path[0] : ""));
          else b.names.forEach((x) => bound.add(x));
        }
        for (const b of n.bindings) {
          if (b.kind === "attr") {
            keys.push(b.binder ? `#${this.id(b.binder)}=` : `${String(b.path[0])}=`);
            child(b.value, bound);
          }
        }
        child(n.body, bound);
        break;
      }
      case "lambda": {
        const bound = new Set<string | Binder>();
        if (n.param.kind === "ident") {
          bound.add(n.param.binder ?? n.param.name);
          keys.push(n.param.binder ? `λ#${this.id(n.param.binder)}` : `λ${n.param.name}`);
        } else {
          n.param.names.forEach((x) => bound.add(x));
          if (n.param.bind) bound.add(n.param.bind);
          keys.push(`λ{${n.param.names.join(",")}${n.param.ellipsis ? ",..." : ""}}@${n.param.bind ?? ""}`);
        }
        child(n.body, bound);
        break;
      }
      case "if":
        child(n.cond);
        child(n.then);
        child(n.else);
        break;
      case "binop":
        keys.push(n.op);
        child(n.left);
        child(n.right);
        break;
      case "not":
        child(n.expr);
        break;
    }
    return { key: `${n.kind}(${keys.join(" ")})`, size, free };
  }

  /** Whether `n` may be bound at instance level, and is worth it. */
  shareable(n: NixNode, instanceLets: ReadonlySet<Binder>): boolean {
    if (n.kind === "var" || n.kind === "lambda") return false;
    const i = this.info(n);
    if (i.size < (isNamed(n) ? 2 : MIN_SHARED_SIZE)) return false;
    let dependsOnInstance = false;
    for (const f of i.free) {
      if (typeof f === "string") {
        if (INSTANCE.has(f)) dependsOnInstance = true;
        else if (!OUTER.has(f) && !this.fixed.has(f)) return false;
      } else if (instanceLets.has(f)) dependsOnInstance = true;
      else return false;
    }
    return dependsOnInstance;
  }
}

/** Objects in the AST that are parts of a node rather than expressions of their own. */
const NOT_EXPRESSIONS = new Set(["attr", "inherit", "ident", "pattern"]);

/** Every subexpression position of `n` (pre-order), the node itself included. */
function forEachNode(n: NixNode, f: (x: NixNode) => void): void {
  f(n);
  visitFields(n as unknown as Record<string, unknown>, f);
}

function visitFields(o: Record<string, unknown>, f: (x: NixNode) => void): void {
  for (const k in o) {
    if (k === "binder") continue;
    const v = o[k];
    if (v !== null && typeof v === "object") visitValue(v, f);
  }
}

function visitValue(x: object, f: (x: NixNode) => void): void {
  if (Array.isArray(x)) {
    for (const v of x) if (v !== null && typeof v === "object") visitValue(v as object, f);
    return;
  }
  const o = x as Record<string, unknown>;
  if (typeof o.kind === "string" && !NOT_EXPRESSIONS.has(o.kind)) forEachNode(o as unknown as NixNode, f);
  else visitFields(o, f);
}

function replaceKey(n: NixNode, a: Analyzer, key: string, by: NixNode): NixNode {
  const go = (x: unknown): unknown => {
    if (Array.isArray(x)) {
      const items = x.map(go);
      return items.every((v, i) => v === x[i]) ? x : items;
    }
    if (x === null || typeof x !== "object") return x;
    const o = x as Record<string, unknown>;
    const isNode = typeof o.kind === "string" && !["attr", "inherit", "ident", "pattern"].includes(o.kind);
    if (isNode && a.info(o as unknown as NixNode).key === key) return by;
    let changed = false;
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      const nv = k === "binder" || typeof v !== "object" ? v : go(v);
      copy[k] = nv;
      if (nv !== v) changed = true;
    }
    return changed ? copy : x;
  };
  return go(n) as NixNode;
}

function hintFor(n: NixNode): string {
  const given = (n as { hint?: unknown }).hint;
  if (typeof given === "string") return given;
  const camel = (s: string) => {
    const words = s.split(/[^A-Za-z0-9]+/).filter(Boolean);
    const out = words.map((w, i) => (i === 0 ? w.charAt(0).toLowerCase() + w.slice(1) : w.charAt(0).toUpperCase() + w.slice(1))).join("");
    return /^[A-Za-z_]/.test(out) ? out : `_${out}`;
  };
  if (n.kind === "apply") {
    const fn = n.fn.kind === "select" ? n.fn.path.at(-1) : n.fn.kind === "var" ? n.fn.name : undefined;
    const last = n.args.at(-1);
    if (fn === "getExe'" && last?.kind === "string" && typeof last.parts[0] === "string") return camel(last.parts[0]);
    if (fn === "escapeShellArg" || fn === "toString") {
      const inner = hintFor(n.args[0]!);
      return inner === "shared" ? "shared" : `${inner}Arg`;
    }
    if (fn === "concatStrings" || fn === "concatStringsSep") return "text";
    if (typeof fn === "string" && fn !== "") return camel(fn);
  }
  if (n.kind === "select" && typeof n.path.at(-1) === "string") return camel(n.path.at(-1) as string);
  if (n.kind === "binop" && (n.op === "==" || n.op === "!=" || n.op === "&&" || n.op === "||")) return "condition";
  if (n.kind === "if") return "value";
  if (n.kind === "string") return "text";
  if (n.kind === "attrs") return "settings";
  return "shared";
}

/** Interpolations longer than this many characters (printed flat) are bound in a `let`, to keep lines readable. */
export const MAX_INTERPOLATION = 72;

/** The longest interpolation (`${…}` in a string) over {@link MAX_INTERPOLATION} characters that `ok` accepts. */
function longest(
  roots: readonly NixNode[],
  ok: (n: NixNode) => boolean,
  lengths: WeakMap<NixNode, number>,
): { node: NixNode } | undefined {
  let best: { node: NixNode; length: number } | undefined;
  const consider = (n: NixNode) => {
    if (n.kind === "var" || !ok(n)) return;
    let length = lengths.get(n);
    if (length === undefined) lengths.set(n, (length = printNix(n).replace(/\s+/g, " ").trim().length));
    if (length > MAX_INTERPOLATION && (!best || length > best.length)) best = { node: n, length };
  };
  for (const r of roots) {
    forEachNode(r, (n) => {
      if (n.kind !== "string") return;
      const parts = (ps: readonly (string | NixNode)[]): void => {
        for (const p of ps) {
          if (typeof p === "string") continue;
          if (p.kind === "string" && !isNamed(p)) parts(p.parts);
          else consider(p);
        }
      };
      parts(n.parts);
    });
  }
  return best;
}

function shareLoop(
  fixed: ReadonlySet<string>,
  lets: readonly Binding[],
  body: NixNode,
  shareable: (a: Analyzer, n: NixNode, letBinders: ReadonlySet<Binder>) => boolean,
  mode: "repeated" | "long" = "repeated",
): { lets: Binding[]; body: NixNode } {
  let bindings = [...lets];
  let current = body;
  // One analyzer for every round: a replacement rebuilds only the nodes above what it replaced,
  // so the analysis of every other subtree is still known.
  const a = new Analyzer(fixed);
  const lengths = new WeakMap<NixNode, number>();
  for (;;) {
    const letBinders = new Set(bindings.flatMap((b) => (b.kind === "attr" && b.binder ? [b.binder] : [])));
    const roots = [...bindings.flatMap((b) => (b.kind === "attr" ? [b.value] : [])), current];
    const ok = (x: NixNode) => shareable(a, x, letBinders);
    const best = mode === "repeated" ? repeated(a, roots, ok)[0] : longest(roots, ok, lengths);
    if (!best) return { lets: bindings, body: current };
    const key = a.info(best.node).key;
    const b = binder(hintFor(best.node));
    const ref = nFresh(b);
    bindings = bindings.map((x) => (x.kind === "attr" ? { ...x, value: replaceKey(x.value, a, key, ref) } : x));
    current = replaceKey(current, a, key, ref);
    bindings.push(nFreshBind(b, best.node));
  }
}

/**
 * Inside every lambda `x: body` (innermost first), binds once what `body` repeats
 * and depends on `x`: `x: let clauses = …; in …`.
 */
function shareInLambdas(n: NixNode, scope: ReadonlySet<Binder>, fixed: ReadonlySet<string>): NixNode {
  const go = (x: unknown, sc: ReadonlySet<Binder>): unknown => {
    if (Array.isArray(x)) {
      const items = x.map((i) => go(i, sc));
      return items.every((v, i) => v === x[i]) ? x : items;
    }
    if (x === null || typeof x !== "object") return x;
    const o = x as Record<string, unknown>;
    if (o.kind === "lambda") {
      const lam = o as unknown as Extract<NixNode, { kind: "lambda" }>;
      if (lam.param.kind !== "ident" || !lam.param.binder) {
        const body = go(lam.body, sc) as NixNode;
        return body === lam.body ? lam : { ...lam, body };
      }
      const p = lam.param.binder;
      const inner = new Set([...sc, p]);
      const body = go(lam.body, inner) as NixNode;
      const inLambda = (a: Analyzer, node: NixNode, local: ReadonlySet<Binder>) => {
        if (node.kind === "var" || node.kind === "lambda") return false;
        const i = a.info(node);
        if (i.size < (isNamed(node) ? 2 : MIN_SHARED_SIZE)) return false;
        let ownParam = false;
        for (const f of i.free) {
          if (typeof f === "string") {
            if (!INSTANCE.has(f) && !OUTER.has(f) && !fixed.has(f)) return false;
          } else if (f === p || local.has(f)) ownParam = true;
          else if (!inner.has(f)) return false;
        }
        return ownParam;
      };
      const once = shareLoop(fixed, [], body, inLambda);
      const shared = shareLoop(fixed, once.lets, once.body, inLambda, "long");
      const out = shared.lets.length > 0 ? nLet(shared.lets, shared.body) : body;
      return out === lam.body ? lam : { ...lam, body: out };
    }
    if (o.kind === "let") {
      const l = o as unknown as Extract<NixNode, { kind: "let" }>;
      const inner = new Set([...sc, ...l.bindings.flatMap((b) => (b.kind === "attr" && b.binder ? [b.binder] : []))]);
      const bindings = l.bindings.map((b) => (b.kind === "attr" ? { ...b, value: go(b.value, inner) as NixNode } : b));
      return { ...l, bindings, body: go(l.body, inner) };
    }
    let changed = false;
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) {
      const nv = k === "binder" || typeof v !== "object" ? v : go(v, sc);
      copy[k] = nv;
      if (nv !== v) changed = true;
    }
    return changed ? copy : x;
  };
  return go(n, scope) as NixNode;
}

/**
 * Binds every repeated, shareable expression of an instance module once: at
 * instance level in its `let`, and inside lambdas (`map (db: …)`) in a `let` of
 * the lambda's body for what depends on its parameter.
 * @param lets the instance's `let` bindings (fresh binders).
 * @param body the instance module's attribute set.
 * @param fixed names bound around the instance module (helpers, backend primitives).
 * @returns the new bindings and body; new bindings come after `lets`.
 */
export function shareRepeated(
  lets: readonly Binding[],
  body: NixNode,
  fixed: ReadonlySet<string>,
): { lets: Binding[]; body: NixNode } {
  const atTop = (a: Analyzer, n: NixNode, letBinders: ReadonlySet<Binder>) => a.shareable(n, letBinders);
  const once = shareLoop(fixed, lets, body, atTop);
  const top = shareLoop(fixed, once.lets, once.body, atTop, "long");
  const scope = new Set(top.lets.flatMap((b) => (b.kind === "attr" && b.binder ? [b.binder] : [])));
  return {
    lets: top.lets.map((b) => (b.kind === "attr" ? { ...b, value: shareInLambdas(b.value, scope, fixed) } : b)),
    body: shareInLambdas(top.body, scope, fixed),
  };
}

function repeated(a: Analyzer, roots: readonly NixNode[], ok: (n: NixNode) => boolean): Repeated[] {
  const byKey = new Map<string, { node: NixNode; count: number; size: number }>();
  for (const r of roots) {
    forEachNode(r, (n) => {
      if (!ok(n)) return;
      const i = a.info(n);
      const e = byKey.get(i.key);
      if (e) e.count += 1;
      else byKey.set(i.key, { node: n, count: 1, size: i.size });
    });
  }
  return [...byKey.values()].filter((e) => e.count > 1).sort((x, y) => y.size - x.size || (a.info(x.node).key < a.info(y.node).key ? -1 : 1));
}

/**
 * What {@link shareRepeated} would still bind in an instance module (its `let`
 * bindings and body), as printed Nix: empty for compiler output, where every
 * repeated expression is bound once already.
 */
export function findRepeated(lets: readonly Binding[], body: NixNode, fixed: ReadonlySet<string>): NixNode[] {
  const again = shareRepeated(lets, body, fixed);
  const newLets = again.lets.slice(lets.length).map((b) => (b as { value: NixNode }).value);
  const inner: NixNode[] = [];
  const collect = (x: unknown, before: unknown): void => {
    if (x === before) return;
    if (Array.isArray(x)) return x.forEach((v, i) => collect(v, Array.isArray(before) ? before[i] : undefined));
    if (x === null || typeof x !== "object") return;
    const o = x as Record<string, unknown>;
    const b = (before ?? {}) as Record<string, unknown>;
    if (o.kind === "let" && b.kind !== "let") {
      for (const bd of o.bindings as Binding[]) if (bd.kind === "attr") inner.push(bd.value);
      return;
    }
    for (const [k, v] of Object.entries(o)) if (typeof v === "object") collect(v, b[k]);
  };
  collect(again.body, body);
  again.lets.slice(0, lets.length).forEach((b, i) => collect((b as { value: NixNode }).value, (lets[i] as { value: NixNode }).value));
  return [...newLets, ...inner];
}
