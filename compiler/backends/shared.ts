/**
 * What every backend does the same way with an instance's process items: split them into
 * those it declares (plain, conditional, families) and extensions of other instances'
 * processes, record which instance declares which process (for the collision check), and
 * name coreutils programs in generated shell code.
 */
import { type Expr, lower, type ProcessDecl, type ProcessExtension, type ProcessFamily, type ProcessItem, type SourceLocation } from "../../dsl";
import {
  type AttrKey,
  type Binding,
  nApply,
  nAttrs,
  nBind,
  nBinop,
  nBool,
  nFreshLambda,
  nLambda,
  nLib,
  nList,
  nSelect,
  nStr,
  nVar,
  type NixNode,
} from "../../nix/ast";

/** A Nix attribute key for a lowered name: static when literal. */
export function keyOf(node: NixNode): AttrKey {
  if (node.kind === "string" && node.parts.every((p) => typeof p === "string")) return node.parts.join("");
  return node;
}

/** `lib.escapeShellArg (lib.getExe' pkgs.coreutils "<program>")`, for generated shell code. */
export function coreutils(program: string): NixNode {
  return nApply(nLib("escapeShellArg"), nApply(nLib("getExe'"), nSelect(nVar("pkgs"), "coreutils"), nStr(program)));
}

/**
 * The processes of one instance in a backend's form: an attribute set of those it declares
 * (`body(p, true)` for each; conditional ones and families merged in with `//`), bound as
 * `hint`, and the bindings of its extensions to other instances' processes (`body(p, false)`).
 */
export function instanceItems(
  items: readonly ProcessItem[],
  guard: <T>(at: ProcessItem, f: () => T) => T,
  comment: (loc: SourceLocation | undefined) => string | undefined,
  body: (p: ProcessDecl | ProcessExtension, own: boolean) => NixNode,
  hint: string,
): { declared: NixNode; extensions: Binding[] } {
  const bind = (p: ProcessDecl | ProcessExtension, own: boolean): Binding => {
    const c = comment(p.location);
    return { kind: "attr", path: [keyOf(lower(p.name))], value: body(p, own), ...(c === undefined ? {} : { comment: c }) };
  };
  const statics = items.filter((p): p is ProcessDecl => p.kind === "process" && p.condition === undefined);
  const conditional = items.filter((p): p is ProcessDecl & { condition: Expr<boolean> } => p.kind === "process" && p.condition !== undefined);
  const families = items.filter((p): p is ProcessFamily => p.kind === "process-family");
  const extensions = items.filter((p): p is ProcessExtension => p.kind === "process-extension");
  const declared = [
    nAttrs(statics.map((p) => guard(p, () => bind(p, true)))),
    ...conditional.map((p) => guard(p, () => nApply(nLib("optionalAttrs"), p.condition.node, nAttrs([bind(p, true)])))),
    ...families.map((f) =>
      guard(f, () =>
        nApply(
          nLib("mapAttrs'"),
          nFreshLambda(f.keyVar, nFreshLambda(f.valueVar, nApply(nLib("nameValuePair"), lower(f.decl.name), body(f.decl, true)))),
          f.over.node,
        ),
      ),
    ),
  ].reduce((l, r) => nBinop("//", l, r));
  return { declared: { ...declared, hint }, extensions: extensions.map((p) => guard(p, () => bind(p, false))) };
}

/** The internal read-only option `processOwners` of each instance (for the collision check). */
export function processOwnersOption(): Binding {
  return nBind(
    "processOwners",
    nApply(
      nLib("mkOption"),
      nAttrs([
        // raw: the value is the compiler's own (an attrset of lists of strings), and a typed merge costs every instance.
        nBind("type", nLib("types", "raw")),
        nBind("internal", nBool(true)),
        nBind("readOnly", nBool(true)),
        nBind("description", nStr("The processes this instance declares, each with the instance's path (for the collision check).")),
      ]),
    ),
  );
}

/** `processOwners = genAttrs (attrNames <declared>) (_: [ <owner> ])`. */
export function processOwnersConfig(declared: NixNode, owner: NixNode): Binding {
  return nBind(
    "processOwners",
    nApply(nLib("genAttrs"), nApply(nSelect(nVar("builtins"), "attrNames"), declared), nLambda({ kind: "ident", name: "_" }, nList([owner]))),
  );
}
