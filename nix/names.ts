/**
 * Naming of fresh variables ({@link Binder}s): the last step before printing.
 *
 * Module code creates lambda parameters and `let` bindings without knowing what
 * else the file binds; each carries a binder with a hint. {@link resolveNames}
 * gives every binder of a file one name, in the order binders first appear in
 * the tree: the hint itself when only one binder has that hint and no other
 * variable of the file uses it, else `<hint>1`, `<hint>2`, … skipping names
 * the file already uses. The result depends only on the tree, so a file's
 * output is deterministic and independent of other files.
 */
import type { Binder, NixNode } from "./ast";

/** Variable names every generated file may refer to without binding them. */
const AMBIENT = ["builtins", "toString", "map", "true", "false", "null", "import", "throw", "abort", "baseNameOf", "dirOf"];

/**
 * Returns a copy of `root` where every fresh variable has its final name.
 * Nodes without binders are shared, not copied.
 */
export function resolveNames(root: NixNode): NixNode {
  const order: Binder[] = [];
  const seen = new Set<Binder>();
  const taken = new Set<string>(AMBIENT);
  walk(root, (b) => {
    if (!seen.has(b)) {
      seen.add(b);
      order.push(b);
    }
  }, (name) => taken.add(name));
  if (order.length === 0) return root;

  const perHint = new Map<string, number>();
  for (const b of order) perHint.set(b.hint, (perHint.get(b.hint) ?? 0) + 1);
  const names = new Map<Binder, string>();
  const counters = new Map<string, number>();
  for (const b of order) {
    let name = b.hint;
    if (perHint.get(b.hint)! > 1 || taken.has(name)) {
      let i = counters.get(b.hint) ?? 0;
      do {
        i += 1;
        name = `${b.hint}${i}`;
      } while (taken.has(name));
      counters.set(b.hint, i);
    }
    taken.add(name);
    names.set(b, name);
  }
  return rename(root, names);
}

/** Calls `onBinder` for each binder in pre-order and `onName` for every fixed variable name. */
function walk(n: unknown, onBinder: (b: Binder) => void, onName: (name: string) => void): void {
  if (Array.isArray(n)) {
    for (const x of n) walk(x, onBinder, onName);
    return;
  }
  if (n === null || typeof n !== "object") return;
  const o = n as Record<string, unknown>;
  if (o.binder && typeof o.binder === "object") onBinder(o.binder as Binder);
  else if ((o.kind === "var" || o.kind === "ident") && typeof o.name === "string") onName(o.name);
  else if (o.kind === "pattern") for (const x of o.names as string[]) onName(x);
  for (const [k, v] of Object.entries(o)) if (k !== "binder" && typeof v === "object") walk(v, onBinder, onName);
}

function rename(n: NixNode, names: ReadonlyMap<Binder, string>): NixNode {
  const memo = new Map<object, unknown>();
  const go = (x: unknown): unknown => {
    if (x === null || typeof x !== "object") return x;
    if (memo.has(x)) return memo.get(x);
    let out: unknown;
    if (Array.isArray(x)) {
      const items = x.map(go);
      out = items.every((v, i) => v === x[i]) ? x : items;
    } else {
      const o = x as Record<string, unknown>;
      const copy: Record<string, unknown> = {};
      let changed = false;
      for (const [k, v] of Object.entries(o)) {
        const nv = k === "binder" ? v : go(v);
        copy[k] = nv;
        if (nv !== v) changed = true;
      }
      const b = o.binder as Binder | undefined;
      if (b) {
        const name = names.get(b)!;
        changed = true;
        if (o.kind === "var" || o.kind === "ident") copy.name = name;
        else if (o.kind === "attr") copy.path = [name];
        delete copy.binder;
      }
      out = changed ? copy : x;
    }
    memo.set(x, out);
    return out;
  };
  return go(n) as NixNode;
}
