/**
 * Build-time checks of what a service or a test refers to, so that a mistake is
 * reported at its TS line instead of when process-compose loads the project:
 * - `dependsOn` / `extendProcess` naming a process that neither the service nor
 *   the instances it composes declare;
 * - a test waiting on a process its instances do not have;
 * - two instances of a test on the same literal port;
 * - a `pkgs.<attr>` that is not known but close to a known one ("did you mean").
 *
 * Process names are Nix expressions of the instance `name` (`"${name}-init"`);
 * they are compared as patterns: literal text, `{name}`, and `{*}` for anything
 * computed (a cluster node's name), which matches any text.
 */
import {
  type AnyService,
  DefinitionError,
  type InstanceDecl,
  isExpr,
  lower,
  PKG_LOCATION,
  type ProcessDecl,
  type ProcessExtension,
  type ProcessFamily,
  type ProcessItem,
  type ServiceTest,
  type Shape,
  type SourceLocation,
} from "../dsl";
import type { NixNode } from "../nix/ast";

/** A process name as a pattern: literal text, `\u0001` for the instance name, `\u0002` for anything. */
export type NamePattern = string;
const NAME = "\u0001";
const ANY = "\u0002";

/** The pattern of a process-name expression. */
export function namePattern(node: NixNode): NamePattern {
  if (node.kind === "string") {
    return node.parts.map((p) => (typeof p === "string" ? p : namePattern(p))).join("");
  }
  if (node.kind === "var" && node.name === "name" && !node.binder) return NAME;
  return ANY;
}

/** `pattern` with the instance name replaced by `by` (another pattern). */
const substitute = (pattern: NamePattern, by: NamePattern): NamePattern => pattern.split(NAME).join(by);

/** Readable form for messages: `${name}-init`, `${…}` for computed parts. */
export const showPattern = (p: NamePattern): string => JSON.stringify(p.split(NAME).join("${name}").split(ANY).join("${…}"));

/** Whether declared pattern `d` can name the process `target` names. */
function matches(d: NamePattern, target: NamePattern): boolean {
  if (target.includes(ANY)) return true; // computed: cannot tell at build time
  const re = new RegExp(`^${d.split(ANY).map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("[^]+")}$`);
  return re.test(target);
}

/** What a service's callbacks declare, run in a throwaway context. */
export type ItemsOf = (svc: AnyService) => { readonly items: readonly ProcessItem[]; readonly instances: readonly InstanceDecl[] };

/**
 * The processes an instance of `svc` makes, as patterns of its `name`: its own
 * (static, conditional, families) and those of the instances it composes.
 */
export function declaredProcesses(svc: AnyService, itemsOf: ItemsOf, seen = new Set<AnyService>()): NamePattern[] {
  if (seen.has(svc)) return [];
  seen.add(svc);
  const { items, instances } = itemsOf(svc);
  const out: NamePattern[] = [];
  for (const p of items) {
    if (p.kind === "process") out.push(namePattern(lower(p.name)));
    else if (p.kind === "process-family") out.push(namePattern(lower(p.decl.name)));
  }
  for (const i of instances) {
    const at = namePattern(lower(i.name));
    for (const d of declaredProcesses(i.service, itemsOf, new Set(seen))) out.push(substitute(d, at));
  }
  return out;
}

/** The targets of one item's `dependsOn` (static ones), with where the item was declared. */
function dependencyTargets(p: ProcessDecl | ProcessExtension | ProcessFamily): { target: NamePattern; at: SourceLocation | undefined }[] {
  const decl = p.kind === "process-family" ? p.decl : p;
  const out: { target: NamePattern; at: SourceLocation | undefined }[] = [];
  for (const d of decl.dependsOn ?? []) {
    if ("kind" in d && d.kind === "depends-on-each") continue;
    const t = (d as { process: unknown }).process;
    const name = typeof t === "object" && t !== null && !isExpr(t) ? (t as ProcessDecl).name : (t as string);
    out.push({ target: namePattern(lower(name)), at: decl.location ?? p.location });
  }
  return out;
}

/**
 * Checks that every process a service's processes depend on (and every process
 * it extends) is declared by the service or an instance it composes.
 * @throws DefinitionError at the depending process's TS line, listing what exists.
 */
export function checkDependencies(svc: AnyService, items: readonly ProcessItem[], itemsOf: ItemsOf): void {
  const declared = declaredProcesses(svc, itemsOf);
  const known = () => [...new Set(declared)].map(showPattern).join(", ");
  for (const p of items) {
    const refs = dependencyTargets(p);
    if (p.kind === "process-extension") refs.push({ target: namePattern(lower(p.name)), at: p.location });
    for (const { target, at } of refs) {
      if (!declared.some((d) => matches(d, target))) {
        throw new DefinitionError(
          `${p.kind === "process-extension" && target === namePattern(lower(p.name)) ? "extends" : "depends on"} the process ${showPattern(target)}, ` +
            `which neither ${svc.name} nor an instance it declares has; its processes: ${known()}`,
          at,
        );
      }
    }
  }
}

/** The processes the enabled instances of a test make, by literal name pattern. */
function testProcesses(test: ServiceTest, itemsOf: ItemsOf): NamePattern[] {
  const out: NamePattern[] = [];
  for (const [svcName, insts] of Object.entries(test.instances)) {
    const svc = test.services[svcName];
    if (!svc) continue;
    const declared = declaredProcesses(svc, itemsOf);
    for (const inst of Object.keys(insts ?? {})) for (const d of declared) out.push(substitute(d, inst));
  }
  return out;
}

/**
 * Checks a test: its `dependsOn` names processes its instances have, and no two of
 * its instances use the same literal port (an option of type port, given or default).
 * @throws DefinitionError at the test's TS line.
 */
export function checkTest(
  test: ServiceTest,
  dependsOn: readonly { readonly process: unknown }[],
  itemsOf: ItemsOf,
  optionsOf: (s: AnyService) => Shape,
  own: readonly string[] = [],
): void {
  const declared = [...testProcesses(test, itemsOf), ...own];
  for (const d of dependsOn) {
    const target = typeof d.process === "string" ? d.process : namePattern(lower(d.process));
    if (!declared.some((p) => matches(p, target))) {
      throw new DefinitionError(
        `the test waits for the process ${JSON.stringify(target)}, which none of its instances has; they have: ` +
          [...new Set(declared)].map((p) => JSON.stringify(p.split(ANY).join("…"))).join(", "),
        test.location,
      );
    }
  }
  const ports = new Map<number, string>();
  for (const [svcName, insts] of Object.entries(test.instances)) {
    const svc = test.services[svcName];
    if (!svc) continue;
    const shape = optionsOf(svc);
    for (const [inst, config] of Object.entries(insts ?? {})) {
      for (const [opt, type] of Object.entries(shape)) {
        if (type.ctor.name !== "port") continue;
        const given = (config as Record<string, unknown>)[opt];
        const value = given !== undefined ? given : type.meta.default;
        if (typeof value !== "number" || value === 0) continue;
        const where = `${svcName}."${inst}".${opt}`;
        const other = ports.get(value);
        if (other) throw new DefinitionError(`port ${value} is used twice: ${other} and ${where}; give one instance another port`, test.location);
        ports.set(value, where);
      }
    }
  }
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/**
 * Checks every `pkgs.<attr>` in `node` against `known` attribute names: an unknown
 * one within two edits of a known one is taken for a typo.
 * @throws DefinitionError at the TS line that named the attribute, with the suggestion.
 */
export function checkPackageNames(node: NixNode, known: ReadonlySet<string>, fallback: SourceLocation | undefined): void {
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(visit);
    if (n === null || typeof n !== "object") return;
    const o = n as Record<string, unknown>;
    if (o.kind === "select" && (o.expr as { kind?: string; name?: string }).kind === "var" && (o.expr as { name?: string }).name === "pkgs") {
      const attr = (o.path as unknown[])[0];
      if (typeof attr === "string" && !known.has(attr)) {
        const close = [...known].filter((k) => editDistance(k, attr) <= Math.min(2, Math.floor(attr.length / 3)) || k.toLowerCase() === attr.toLowerCase());
        if (close.length > 0) {
          throw new DefinitionError(
            `pkgs.${attr} is not a package this project knows; did you mean ${close.map((c) => `pkgs.${c}`).join(" or ")}? ` +
              "(A new package: add it to test/packages.json.)",
            (o[PKG_LOCATION] as SourceLocation | undefined) ?? fallback,
          );
        }
      }
    }
    for (const [k, v] of Object.entries(o)) if (k !== PKG_LOCATION && typeof v === "object") visit(v);
  };
  visit(node);
}
