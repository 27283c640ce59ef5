/**
 * `pnpm docs:dsl [--check] [--root DIR]`
 *
 * Renders `docs/dsl-reference.md`, the reference of the authoring language, from
 * the TSDoc of `dsl/`: every name `dsl/index.ts` exports (following its
 * re-exports), grouped by source file, in source order, each with its kind, a
 * one-line signature and its documentation. Names whose TSDoc says `@internal`
 * are left out. With `--check`, writes nothing and exits 1 when the committed
 * page differs from what this renders (the reference cannot drift from `dsl/`).
 */
import { parseCli } from "./cli-args";
import { existsSync, realpathSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type * as Morph from "ts-morph";

/** Where the page lives, relative to the project root. */
export const DSL_REFERENCE_PATH = "docs/dsl-reference.md";

/** The command that regenerates the page. */
export const DSL_REFERENCE_COMMAND = "pnpm docs:dsl";

/** Groups of the page, by file of `dsl/`, in page order. Files not listed follow, by name. */
const GROUPS: readonly { readonly file: string; readonly title: string }[] = [
  { file: "expr.ts", title: "Expressions" },
  { file: "types.ts", title: "Option types" },
  { file: "process.ts", title: "Processes" },
  { file: "service.ts", title: "Services and parts" },
  { file: "test.ts", title: "Service tests" },
  { file: "location.ts", title: "Locations" },
];

/** Type aliases longer than this (on one line) are cut with `…`. */
const MAX_TYPE_LENGTH = 200;

// ---------------------------------------------------------------------------
// TSDoc, parsed from the comment's text.

interface DocTag {
  readonly name: string;
  readonly text: string;
}

interface Doc {
  /** Markdown, lines as written (without the `*` margin). */
  readonly description: string;
  readonly tags: readonly DocTag[];
}

const emptyDoc: Doc = { description: "", tags: [] };

/** Parses a `/** … *\/` comment into its description and block tags (`@param`, `@example`, …). */
function parseDocComment(raw: string): Doc {
  const body = raw.replace(/^\/\*\*/, "").replace(/\*\/$/, "");
  const lines = body
    .split("\n")
    .map((line, i) => (i === 0 ? line.trim() : line.replace(/^\s*\*(?: |$)/, "").replace(/\s+$/, "")));
  let description: string[] = [];
  const tags: { name: string; lines: string[] }[] = [];
  let current = description;
  let inFence = false;
  for (const line of lines) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const tag = inFence ? null : /^\s*@([A-Za-z]+)\b\s?(.*)$/.exec(line);
    if (tag) {
      const t = { name: tag[1]!, lines: [tag[2]!] };
      tags.push(t);
      current = t.lines;
    } else {
      current.push(line);
    }
  }
  description = trimBlankLines(description);
  return {
    description: description.join("\n"),
    tags: tags.map((t) => ({ name: t.name, text: trimBlankLines(t.lines).join("\n") })),
  };
}

function trimBlankLines(lines: readonly string[]): string[] {
  let a = 0;
  let b = lines.length;
  while (a < b && lines[a]!.trim() === "") a++;
  while (b > a && lines[b - 1]!.trim() === "") b--;
  return lines.slice(a, b);
}

/** Removes the indentation common to every non-blank line. */
function dedent(lines: readonly string[]): string[] {
  const indents = lines.filter((l) => l.trim() !== "").map((l) => /^ */.exec(l)![0].length);
  const min = indents.length ? Math.min(...indents) : 0;
  return lines.map((l) => l.slice(Math.min(min, /^ */.exec(l)![0].length)));
}

/** The closest TSDoc comment of a node (the last `/** … *\/` before it), parsed. */
function docOf(node: Morph.Node): Doc {
  if (Morph_isJSDocable(node)) {
    const docs = node.getJsDocs();
    const last = docs[docs.length - 1];
    return last ? parseDocComment(last.getText()) : emptyDoc;
  }
  // Parameters (a class's parameter properties) carry theirs as a leading comment.
  const comments = node.getLeadingCommentRanges().filter((r) => r.getText().startsWith("/**"));
  const last = comments[comments.length - 1];
  return last ? parseDocComment(last.getText()) : emptyDoc;
}

const isInternal = (doc: Doc) => doc.tags.some((t) => t.name === "internal");

// ---------------------------------------------------------------------------
// Signatures, on one line.

let ts: typeof Morph.ts;

/**
 * Source text on one line: comments dropped, each run of whitespace one space,
 * no space inside brackets, no trailing commas.
 */
function oneLine(text: string): string {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, text);
  const trivia = new Set([
    ts.SyntaxKind.WhitespaceTrivia,
    ts.SyntaxKind.NewLineTrivia,
    ts.SyntaxKind.SingleLineCommentTrivia,
    ts.SyntaxKind.MultiLineCommentTrivia,
  ]);
  let out = "";
  let space = false;
  for (let tok = scanner.scan(); tok !== ts.SyntaxKind.EndOfFileToken; tok = scanner.scan()) {
    if (trivia.has(tok)) {
      space = true;
      continue;
    }
    if (space && out !== "") out += " ";
    space = false;
    out += scanner.getTokenText();
  }
  return out
    .replace(/,\s*([)\]>])/g, "$1")
    .replace(/([([<])\s+/g, "$1")
    .replace(/\s+([)\]])/g, "$1")
    .replace(/;\s*}/g, " }")
    .replace(/\s*;$/, "");
}

function cut(text: string, max = MAX_TYPE_LENGTH): string {
  return text.length <= max ? text : `${text.slice(0, max).replace(/\s+\S*$/, "")} …`;
}

function typeParams(node: Morph.TypeParameteredNode): string {
  const ps = node.getTypeParameters();
  return ps.length === 0 ? "" : `<${ps.map((p) => oneLine(p.getText())).join(", ")}>`;
}

/** A parameter as written, without modifiers (`readonly`, `public`) or comments. */
function param(p: Morph.ParameterDeclaration): string {
  const type = p.getTypeNode();
  const init = p.getInitializer();
  return (
    (p.isRestParameter() ? "..." : "") +
    oneLine(p.getNameNode().getText()) +
    (p.hasQuestionToken() ? "?" : "") +
    (type ? `: ${oneLine(type.getText())}` : "") +
    (init ? ` = ${oneLine(init.getText())}` : "")
  );
}

type FunctionLike =
  | Morph.FunctionDeclaration
  | Morph.ArrowFunction
  | Morph.FunctionExpression
  | Morph.MethodDeclaration
  | Morph.MethodSignature;

const typeFormat = () => ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope;

/** `<T>(a: A, b?: B): R`: type parameters and parameters as written; the return type as written, else inferred. */
function callSignature(fn: FunctionLike): string {
  const ret = fn.getReturnTypeNode();
  const retText = ret ? oneLine(ret.getText()) : fn.getReturnType().getText(fn, typeFormat());
  return `${typeParams(fn)}(${fn.getParameters().map(param).join(", ")}): ${retText}`;
}

// ---------------------------------------------------------------------------
// Entries.

interface Member {
  readonly signature: string;
  readonly doc: Doc;
}

interface Entry {
  /** The heading: the exported name, or `t.port` for a member of `t`. */
  readonly name: string;
  readonly kind: "function" | "type" | "interface" | "const" | "class" | "enum";
  readonly signature: string;
  readonly doc: Doc;
  /** Members of an interface or class, each with its own doc. */
  readonly members?: readonly Member[];
  readonly pos: number;
  /** Set when the page is laid out. */
  anchor?: string;
}

interface Group {
  readonly file: string;
  readonly title: string;
  readonly intro: Doc;
  readonly entries: Entry[];
  anchor?: string;
}

function interfaceMembers(node: Morph.InterfaceDeclaration | Morph.TypeLiteralNode): Member[] {
  const out: Member[] = [];
  for (const m of node.getMembers()) {
    const doc = docOf(m);
    if (isInternal(doc)) continue;
    const name = "getName" in m && typeof m.getName === "function" ? (m.getName() as string) : "";
    if (name.startsWith("__")) continue;
    out.push({ signature: oneLine(m.getText(false)), doc });
  }
  return out;
}

function Morph_isJSDocable(n: Morph.Node): n is Morph.Node & Morph.JSDocableNode {
  return typeof (n as Partial<Morph.JSDocableNode>).getJsDocs === "function";
}

function classMembers(node: Morph.ClassDeclaration, morph: typeof Morph): Member[] {
  const out: Member[] = [];
  const hidden = (n: Morph.Node & Morph.ModifierableNode, name: string) =>
    name.startsWith("__") ||
    name.startsWith("#") ||
    n.hasModifier(morph.SyntaxKind.PrivateKeyword) ||
    n.hasModifier(morph.SyntaxKind.ProtectedKeyword);
  for (const ctor of node.getConstructors()) {
    const doc = docOf(ctor);
    if (isInternal(doc)) continue;
    out.push({ signature: `constructor(${ctor.getParameters().map(param).join(", ")})`, doc });
    for (const p of ctor.getParameters()) {
      if (!p.isParameterProperty() || hidden(p, p.getName())) continue;
      const readonly = p.isReadonly() ? "readonly " : "";
      const type = p.getTypeNode();
      out.push({
        signature: `${readonly}${p.getName()}${p.hasQuestionToken() ? "?" : ""}${type ? `: ${oneLine(type.getText())}` : ""}`,
        doc: docOf(p),
      });
    }
  }
  for (const m of node.getMembers()) {
    if (morph.Node.isConstructorDeclaration(m)) continue;
    const name = "getName" in m && typeof m.getName === "function" ? (m.getName() as string) : "";
    if (!morph.Node.isModifierable(m) || hidden(m, name)) continue;
    if (m.hasModifier(morph.SyntaxKind.DeclareKeyword)) continue;
    const doc = docOf(m);
    if (isInternal(doc)) continue;
    let signature: string;
    if (morph.Node.isMethodDeclaration(m)) signature = `${name}${callSignature(m)}`;
    else if (morph.Node.isGetAccessorDeclaration(m)) {
      const ret = m.getReturnTypeNode();
      signature = `get ${name}(): ${ret ? oneLine(ret.getText()) : m.getReturnType().getText(m, typeFormat())}`;
    } else if (morph.Node.isPropertyDeclaration(m)) {
      const type = m.getTypeNode();
      const init = m.getInitializer();
      signature = `${m.isReadonly() ? "readonly " : ""}${name}${m.hasQuestionToken() ? "?" : ""}${type ? `: ${oneLine(type.getText())}` : init ? ` = ${cut(oneLine(init.getText()), 60)}` : ""}`;
    } else signature = oneLine(m.getText(false).replace(/\{[\s\S]*$/, ""));
    out.push({ signature, doc });
  }
  return out;
}

function heritage(node: Morph.ClassDeclaration | Morph.InterfaceDeclaration): string {
  const clauses = node.getHeritageClauses().map((h) => oneLine(h.getText()));
  return clauses.length ? ` ${clauses.join(" ")}` : "";
}

/** `{ a, b, c }` (with `as const` / `satisfies X` kept) for an object literal const. */
function objectLiteralSummary(init: Morph.Expression, morph: typeof Morph): string | undefined {
  let e: Morph.Node = init;
  let suffix = "";
  while (morph.Node.isAsExpression(e) || morph.Node.isSatisfiesExpression(e)) {
    suffix = ` ${morph.Node.isAsExpression(e) ? "as" : "satisfies"} ${oneLine(e.getTypeNode()!.getText())}${suffix}`;
    e = e.getExpression();
  }
  if (!morph.Node.isObjectLiteralExpression(e)) return undefined;
  const names = e
    .getProperties()
    .map((p) => ("getName" in p && typeof p.getName === "function" ? (p.getName() as string) : oneLine(p.getText())));
  return `{ ${names.join(", ")} }${suffix}`;
}

/** The members of `export const t = { … } as const`, each its own entry (`t.port`). */
function objectMemberEntries(owner: string, init: Morph.Expression, morph: typeof Morph): Entry[] {
  let e: Morph.Node = init;
  while (morph.Node.isAsExpression(e) || morph.Node.isSatisfiesExpression(e)) e = e.getExpression();
  if (!morph.Node.isObjectLiteralExpression(e)) return [];
  const out: Entry[] = [];
  for (const p of e.getProperties()) {
    if (!morph.Node.isPropertyAssignment(p) && !morph.Node.isMethodDeclaration(p)) continue;
    const doc = docOf(p);
    if (isInternal(doc)) continue;
    const name = `${owner}.${p.getName()}`;
    if (morph.Node.isMethodDeclaration(p)) {
      out.push({ name, kind: "function", signature: `${name}${callSignature(p)}`, doc, pos: p.getStart() });
      continue;
    }
    const value = p.getInitializerOrThrow();
    if (morph.Node.isArrowFunction(value) || morph.Node.isFunctionExpression(value)) {
      out.push({ name, kind: "function", signature: `${name}${callSignature(value)}`, doc, pos: p.getStart() });
      continue;
    }
    const type = p.getType();
    const calls = type.getCallSignatures();
    if (calls.length === 1) {
      const sig = p
        .getProject()
        .getTypeChecker()
        .compilerObject.signatureToString(calls[0]!.compilerSignature, p.compilerNode, typeFormat());
      out.push({ name, kind: "function", signature: `${name}${sig}`, doc, pos: p.getStart() });
    } else {
      out.push({ name, kind: "const", signature: `${name}: ${type.getText(p, typeFormat())}`, doc, pos: p.getStart() });
    }
  }
  return out;
}

function entriesOf(name: string, decl: Morph.Node, morph: typeof Morph): Entry[] {
  const pos = decl.getStart();
  if (morph.Node.isFunctionDeclaration(decl)) {
    const overloads = decl.getOverloads();
    const sigs = overloads.length ? overloads : [decl];
    const doc = docOf(sigs[0]!);
    if (isInternal(doc)) return [];
    return [
      {
        name,
        kind: "function",
        signature: sigs.map((s) => `function ${name}${callSignature(s)}`).join("\n"),
        doc,
        pos,
      },
    ];
  }
  if (morph.Node.isVariableDeclaration(decl)) {
    const stmt = decl.getVariableStatement();
    const doc = stmt ? docOf(stmt) : emptyDoc;
    if (isInternal(doc)) return [];
    const keyword = stmt ? stmt.getDeclarationKind() : "const";
    const type = decl.getTypeNode();
    const init = decl.getInitializer();
    let signature: string;
    if (!type && init && (morph.Node.isArrowFunction(init) || morph.Node.isFunctionExpression(init))) {
      signature = `${keyword} ${name} = ${callSignature(init)} => …`;
    } else if (type) {
      signature = `${keyword} ${name}: ${oneLine(type.getText())}`;
    } else {
      const obj = init ? objectLiteralSummary(init, morph) : undefined;
      const initText = init ? oneLine(init.getText()) : "";
      signature =
        obj !== undefined
          ? `${keyword} ${name} = ${obj}`
          : init && initText.length <= 80 && !/=>|\bfunction\b/.test(initText)
            ? `${keyword} ${name} = ${initText}`
            : `${keyword} ${name}: ${decl.getType().getText(decl, typeFormat())}`;
    }
    const own: Entry = { name, kind: "const", signature: cut(signature), doc, pos };
    return init
      ? [own, ...objectMemberEntries(name, init, morph).filter((m) => m.doc.description !== "" || m.doc.tags.length)]
      : [own];
  }
  if (morph.Node.isTypeAliasDeclaration(decl)) {
    const doc = docOf(decl);
    if (isInternal(doc)) return [];
    const type = oneLine(decl.getTypeNodeOrThrow().getText()).replace(/^\|\s*/, "");
    return [{ name, kind: "type", signature: cut(`type ${name}${typeParams(decl)} = ${type}`), doc, pos }];
  }
  if (morph.Node.isInterfaceDeclaration(decl)) {
    const doc = docOf(decl);
    if (isInternal(doc)) return [];
    return [
      {
        name,
        kind: "interface",
        signature: `interface ${name}${typeParams(decl)}${heritage(decl)}`,
        doc,
        members: interfaceMembers(decl),
        pos,
      },
    ];
  }
  if (morph.Node.isClassDeclaration(decl)) {
    const doc = docOf(decl);
    if (isInternal(doc)) return [];
    return [
      {
        name,
        kind: "class",
        signature: `class ${name}${typeParams(decl)}${heritage(decl)}`,
        doc,
        members: classMembers(decl, morph),
        pos,
      },
    ];
  }
  if (morph.Node.isEnumDeclaration(decl)) {
    const doc = docOf(decl);
    if (isInternal(doc)) return [];
    return [
      {
        name,
        kind: "enum",
        signature: `enum ${name} { ${decl
          .getMembers()
          .map((m) => m.getName())
          .join(", ")} }`,
        doc,
        pos,
      },
    ];
  }
  throw new Error(`dsl-reference: export ${name} is a ${decl.getKindName()}, which this generator does not render`);
}

/** The comment opening a file (before its first statement), when it is about the file. */
function fileIntro(sf: Morph.SourceFile, morph: typeof Morph): Doc {
  const first = sf.getStatements()[0];
  if (!first) return emptyDoc;
  const ranges = first.getLeadingCommentRanges().filter((r) => r.getText().startsWith("/**"));
  if (ranges.length === 0) return emptyDoc;
  // A lone comment right before an export documents that declaration, not the file.
  const documentsFirst = ranges.length === 1 && (morph.Node.isExportable(first) ? first.isExported() : false);
  if (documentsFirst) return emptyDoc;
  return parseDocComment(ranges[0]!.getText());
}

// ---------------------------------------------------------------------------
// Markdown.

/** GitHub's heading anchors (github-slugger): lowercase, punctuation dropped, spaces to dashes, repeats numbered. */
function slugger(): (heading: string) => string {
  const seen = new Map<string, number>();
  return (heading) => {
    const base = heading
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    let slug = base;
    let n = seen.get(base) ?? 0;
    while (seen.has(slug)) slug = `${base}-${++n}`;
    seen.set(base, n);
    seen.set(slug, 0);
    return slug;
  };
}

/** Inline `{@link X}` → a link to X's entry (or code when X is not on the page). */
function inline(text: string, anchors: ReadonlyMap<string, string>): string {
  return text.replace(
    /\{@link(?:code|plain)?\s+([^}|\s]+)(?:\s*\|\s*|\s+)?([^}]*)\}/g,
    (_, target: string, label: string) => {
      const shown = label.trim() || target;
      const anchor = anchors.get(target) ?? anchors.get(target.split(/[.[]/)[0]!);
      return anchor ? `[\`${shown}\`](#${anchor})` : `\`${shown}\``;
    },
  );
}

/** An `@example` as a fenced ts block (kept as written when it already is fenced). */
function example(text: string): string {
  const lines = dedent(trimBlankLines(text.split("\n")));
  if (lines.some((l) => l.trimStart().startsWith("```"))) return lines.join("\n");
  return ["```ts", ...lines, "```"].join("\n");
}

const oneParagraph = (text: string) =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join(" ");

/** A `@param` tag's text as name and description (a `{type}` and a leading `-` dropped). */
function paramTag(text: string): { name: string; text: string } {
  const m = /^(?:\{[^}]*\}\s*)?(\[?[\w$.]+\]?)\s*(?:-\s+)?([\s\S]*)$/.exec(text.trim());
  return m ? { name: m[1]!, text: m[2]! } : { name: "", text };
}

/** The documentation of an entry: description, then parameters, returns, throws, examples, other tags. */
function renderDoc(doc: Doc, anchors: ReadonlyMap<string, string>): string[] {
  const out: string[] = [];
  if (doc.description) out.push(inline(doc.description, anchors));
  const params = doc.tags.filter((t) => t.name === "param").map((t) => paramTag(t.text));
  if (params.length) {
    out.push(
      ["**Parameters**", "", ...params.map((p) => `- \`${p.name}\` — ${inline(oneParagraph(p.text), anchors)}`)].join(
        "\n",
      ),
    );
  }
  for (const t of doc.tags) {
    const text = inline(oneParagraph(t.text), anchors);
    switch (t.name) {
      case "param":
      case "example":
      case "internal":
        break;
      case "returns":
      case "return":
        out.push(`**Returns:** ${text}`);
        break;
      case "throws":
      case "exception":
        out.push(`**Throws:** ${text}`);
        break;
      case "deprecated":
        out.push(`**Deprecated.** ${text}`);
        break;
      case "see":
        out.push(`**See:** ${text}`);
        break;
      default:
        out.push(`**@${t.name}** ${text}`);
    }
  }
  const examples = doc.tags.filter((t) => t.name === "example");
  examples.forEach((t, i) => out.push(`**Example${examples.length > 1 ? ` ${i + 1}` : ""}**`, example(t.text)));
  return out;
}

/** One member of an interface or class, as a list item (its doc on the same line, tags indented below). */
function renderMember(m: Member, anchors: ReadonlyMap<string, string>): string {
  const head = `- \`${m.signature}\``;
  const desc = m.doc.description ? ` — ${inline(oneParagraph(m.doc.description), anchors)}` : "";
  const rest = renderDoc({ description: "", tags: m.doc.tags }, anchors).map((block) =>
    block.replace(/^/gm, "  ").replace(/^ +$/gm, ""),
  );
  return [head + desc, ...rest].join("\n\n");
}

function renderEntry(e: Entry, anchors: ReadonlyMap<string, string>): string {
  const blocks = [
    `### \`${e.name}\``,
    `*${e.kind}*`,
    ["```ts", e.signature, "```"].join("\n"),
    ...renderDoc(e.doc, anchors),
  ];
  if (e.members && e.members.length) blocks.push(e.members.map((m) => renderMember(m, anchors)).join("\n"));
  return blocks.join("\n\n");
}

/** Reads `dsl/` (everything `dsl/index.ts` exports) with the TypeScript compiler. */
async function collect(root: string): Promise<{ intro: Doc; groups: Group[] }> {
  const morph = await import("ts-morph");
  ts = morph.ts;
  const project = new morph.Project({
    tsConfigFilePath: join(root, "tsconfig.json"),
    skipAddingFilesFromTsConfig: true,
  });
  const index = project.addSourceFileAtPath(join(root, "dsl", "index.ts"));
  project.resolveSourceFileDependencies();
  const byFile = new Map<string, { sf: Morph.SourceFile; decls: { name: string; decl: Morph.Node }[] }>();
  for (const [name, decls] of index.getExportedDeclarations()) {
    for (const decl of decls) {
      const sf = decl.getSourceFile();
      const file = basename(sf.getFilePath());
      const slot = byFile.get(file) ?? { sf, decls: [] };
      slot.decls.push({ name, decl });
      byFile.set(file, slot);
    }
  }
  const order = (file: string) => {
    const i = GROUPS.findIndex((g) => g.file === file);
    return i < 0 ? GROUPS.length : i;
  };
  const files = [...byFile.keys()].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  const groups = files.map((file): Group => {
    const { sf, decls } = byFile.get(file)!;
    const entries = decls
      .flatMap(({ name, decl }) => entriesOf(name, decl, morph))
      .sort((a, b) => a.pos - b.pos || a.name.localeCompare(b.name));
    return {
      file,
      title: GROUPS.find((g) => g.file === file)?.title ?? `dsl/${file}`,
      intro: fileIntro(sf, morph),
      entries,
    };
  });
  return { intro: fileIntro(index, morph), groups };
}

/** Renders `docs/dsl-reference.md` from the TSDoc of `dsl/` under `root`. */
export async function renderDslReference(root: string): Promise<string> {
  const { intro, groups } = await collect(root);
  const slug = slugger();
  const anchors = new Map<string, string>();
  slug("DSL reference");
  slug("Contents");
  for (const g of groups) {
    g.anchor = slug(g.title);
    for (const e of g.entries) {
      e.anchor = slug(`\`${e.name}\``);
      if (!anchors.has(e.name)) anchors.set(e.name, e.anchor);
    }
  }
  const out: string[] = [
    `<!-- Generated by compiler/dsl-reference.ts from the TSDoc of dsl/; do not edit. Run \`${DSL_REFERENCE_COMMAND}\`. -->`,
    "# DSL reference",
    "Everything a module in `modules/` can import from `dsl/` (`dsl/index.ts`), generated from the TSDoc " +
      "comments in `dsl/`: grouped by source file, in source order. For a guided tour, see " +
      "[the README](../README.md#the-language-in-dsl).",
    ...renderDoc(intro, anchors),
    "## Contents",
    groups
      .map(
        (g) =>
          `- [${g.title}](#${g.anchor}) (\`dsl/${g.file}\`): ${g.entries.map((e) => `[\`${e.name}\`](#${e.anchor})`).join(", ")}`,
      )
      .join("\n"),
  ];
  for (const g of groups) {
    out.push(`## ${g.title}`, `Source: [\`dsl/${g.file}\`](../dsl/${g.file})`, ...renderDoc(g.intro, anchors));
    for (const e of g.entries) out.push(renderEntry(e, anchors));
  }
  return `${out.join("\n\n")}\n`;
}

/** Compares the page on disk under `root` with what {@link renderDslReference} renders. */
export async function checkDslReference(
  root: string,
): Promise<{ upToDate: boolean; expected: string; actual: string | undefined }> {
  const expected = await renderDslReference(root);
  const path = join(root, DSL_REFERENCE_PATH);
  const actual = existsSync(path) ? await readFile(path, "utf8") : undefined;
  return { upToDate: actual === expected, expected, actual };
}

// ---------------------------------------------------------------------------
// CLI.

const usage = `usage: pnpm docs:dsl [--check] [--root DIR]

  --check     compare ${DSL_REFERENCE_PATH} with what dsl/'s TSDoc renders; write nothing; exit 1 if they differ
  --root DIR  project directory holding dsl/ and docs/ (default: this checkout)
`;

async function main(): Promise<number> {
  const cli = parseCli(usage, {
    check: { type: "boolean", default: false },
  });
  if (typeof cli === "number") return cli;
  const args = cli.values;
  const root = cli.root;
  if (args.check) {
    const { upToDate } = await checkDslReference(root);
    if (!upToDate) {
      process.stderr.write(`${DSL_REFERENCE_PATH} is out of date; run ${DSL_REFERENCE_COMMAND}\n`);
      return 1;
    }
    process.stderr.write(`${DSL_REFERENCE_PATH} is up to date\n`);
    return 0;
  }
  const text = await renderDslReference(root);
  const path = join(root, DSL_REFERENCE_PATH);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  process.stderr.write(`wrote ${DSL_REFERENCE_PATH}\n`);
  return 0;
}

const invokedDirectly = (() => {
  try {
    return (
      process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))
    );
  } catch {
    return false;
  }
})();
if (invokedDirectly) process.exitCode = await main();
