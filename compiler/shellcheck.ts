/**
 * ShellCheck at build time: every script a module writes (`script({ text: sh`…` })`)
 * is rendered as a preview — interpolated values replaced by stand-ins of their
 * shell shape (a quoted word for `lib.escapeShellArg x`, a number for `toString n`,
 * the code of shell fragments) — and checked by ShellCheck as nixpkgs'
 * `writeShellApplication` would, so a finding is reported at the TS line of the
 * `sh` template instead of at the built script's line in the run tier.
 *
 * Where ShellCheck is not installed the check is skipped (the eval and run tiers,
 * which build the scripts with the test package set's ShellCheck, still apply).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DefinitionError, SCRIPT_ORIGIN, SHELLCHECK_EXCLUDES, type SourceLocation } from "../dsl";
import type { Binder, Binding, NixNode } from "../nix/ast";

/** A script found in a lowered module: its text node and where the text was written. */
interface Found {
  readonly text: NixNode;
  readonly origin: SourceLocation;
}

/** Every script (writeShellApplication call made by `script()`) in `roots`. */
function findScripts(roots: readonly NixNode[]): Found[] {
  const out: Found[] = [];
  const seen = new Set<object>();
  const visit = (n: unknown): void => {
    if (n === null || typeof n !== "object" || seen.has(n)) return;
    seen.add(n);
    if (Array.isArray(n)) return n.forEach(visit);
    const o = n as Record<string, unknown>;
    const origin = o[SCRIPT_ORIGIN] as SourceLocation | undefined;
    if (o.kind === "apply" && origin) {
      const attrs = (o.args as NixNode[])[0];
      const text = attrs?.kind === "attrs" ? attrs.bindings.find((b): b is Extract<Binding, { kind: "attr" }> => b.kind === "attr" && b.path[0] === "text") : undefined;
      if (text) out.push({ text: text.value, origin });
    }
    for (const [k, v] of Object.entries(o)) if (k !== SCRIPT_ORIGIN && typeof v === "object") visit(v);
  };
  roots.forEach(visit);
  return out;
}

const libCall = (n: NixNode): string | undefined =>
  n.kind === "apply" && n.fn.kind === "select" && n.fn.expr.kind === "var" && n.fn.expr.name === "lib" && typeof n.fn.path[0] === "string"
    ? n.fn.path[0]
    : n.kind === "apply" && n.fn.kind === "var"
      ? n.fn.name
      : undefined;

/** The preview of a script's text: what the shell would see, with stand-ins for values. */
export function preview(n: NixNode, lets: ReadonlyMap<Binder, NixNode>): string {
  const part = (p: NixNode): string => {
    if (p.kind === "string") return preview(p, lets);
    if (p.kind === "var" && p.binder) {
      const v = lets.get(p.binder);
      return v && v.kind === "string" ? preview(v, lets) : "x";
    }
    if (p.kind === "if") return p.then.kind === "string" ? preview(p.then, lets) : p.else.kind === "string" ? preview(p.else, lets) : "";
    switch (libCall(p)) {
      case "escapeShellArg":
      case "escapeShellArgs":
        return "'x'";
      case "toString":
        return "1";
      case "runtimePath":
        return '"/x"';
      case "getExe":
      case "getExe'":
        return "/x/bin/x";
      case "optionalString":
        return part((p as Extract<NixNode, { kind: "apply" }>).args[1]!);
      case "concatStrings":
      case "concatStringsSep":
        // Code made per element (e.g. one command per schema): not known at build time.
        return "";
      default:
        return "x";
    }
  };
  if (n.kind !== "string") return part(n);
  return n.parts.map((p) => (typeof p === "string" ? p : part(p))).join("");
}

/** What nixpkgs' writeShellApplication puts before the text (ShellCheck sees it: `set -e` silences some findings). */
const PRELUDE = "#!/usr/bin/env bash\nset -o errexit\nset -o nounset\nset -o pipefail\n\n";
const PRELUDE_LINES = PRELUDE.split("\n").length - 1;

let available: boolean | undefined;

/** Whether ShellCheck runs here (asked once per process). */
export function shellcheckAvailable(): boolean {
  available ??= spawnSync("shellcheck", ["--version"], { encoding: "utf8" }).status === 0;
  return available;
}

/** Script texts (with the prelude) ShellCheck found nothing in, during this process. */
const checkedClean = new Set<string>();

/**
 * Checks every script in `roots` with ShellCheck.
 * @param lets `let` bindings the scripts may refer to (their values are previewed in place).
 * @throws DefinitionError at the TS line of the first finding, with its code and message.
 */
export function checkScripts(roots: readonly NixNode[], lets: ReadonlyMap<Binder, NixNode>): void {
  if (!shellcheckAvailable()) return;
  // A script already found clean in this process (the same service lowered for another backend) is not checked again.
  const scripts = findScripts([...roots, ...lets.values()])
    .map((s) => ({ ...s, content: `${PRELUDE}${preview(s.text, lets)}` }))
    .filter((s) => !checkedClean.has(s.content));
  if (scripts.length === 0) return;
  const dir = mkdtempSync(join(tmpdir(), "services-ts-shellcheck-"));
  try {
    const files = scripts.map((s, i) => {
      const file = join(dir, `script${i}.sh`);
      writeFileSync(file, s.content);
      return file;
    });
    const r = spawnSync("shellcheck", ["-f", "json1", "-s", "bash", "-e", SHELLCHECK_EXCLUDES.join(","), ...files], { encoding: "utf8" });
    if (r.status === 0) {
      for (const s of scripts) checkedClean.add(s.content);
      return;
    }
    const comments = (JSON.parse(r.stdout || '{"comments":[]}') as { comments: { file: string; line: number; code: number; message: string }[] }).comments;
    const first = comments[0];
    if (!first) return;
    const s = scripts[files.indexOf(first.file)]!;
    const lines = preview(s.text, lets).split("\n");
    throw new DefinitionError(
      `ShellCheck SC${first.code}: ${first.message}\n    ${lines[first.line - PRELUDE_LINES - 1]?.trim() ?? ""}\n  (see https://www.shellcheck.net/wiki/SC${first.code})`,
      { ...s.origin, line: s.origin.line + first.line - PRELUDE_LINES - 1, column: 1 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
