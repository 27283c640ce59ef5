/**
 * Escaping property tests: random strings given as option values reach the
 * evaluated configuration files and scripts byte-identical.
 *
 * Every random value travels the whole way a user's value does: it is printed
 * into a Nix module by our own printer (`printNix`), read back by Nix,
 * evaluated through process-compose-flake with the service modules lowered
 * from `modules/*.ts` (and the test fixture `test/fixtures/escape-probe.ts`),
 * written to the store by the (test-only) trivial builders, and then compared
 * with what was given:
 * - verbatim text (redis `extraConfig`, postgres `initialScript.before/after`)
 *   byte for byte;
 * - quoted text (postgresql.conf strings, SQL literals and identifiers) after
 *   decoding it with a small parser of the target language's quoting rules;
 * - shell words (`sh` template: `lib.escapeShellArg`, `lib.escapeShellArgs`,
 *   and build-time quoting of literals) by running the built script with bash;
 * - instance names (attribute names) as the process names they produce.
 * Build outputs count only when Nix registered them valid.
 *
 * ShellCheck (run by writeShellApplication) rejects some correctly quoted values
 * (SC1003, SC1112): the shell property tolerates exactly those through a
 * test-package overlay, and a separate `it.fails` test pins that known bug.
 *
 * To stay fast, each property draws one batch of values (fixed seed, override
 * with ESCAPING_SEED; batch size with ESCAPING_SAMPLES), evaluates them all in
 * ONE `nix-instantiate` and builds them with ONE `nix-store --realise`. A
 * failure lists every failing sample with input, expected and actual bytes,
 * plus the seed. Shrinking re-runs Nix per step and is off unless
 * ESCAPING_SHRINK=1.
 *
 * The Nix tier is skipped by name when Nix or the seeded upstream sources are
 * missing; the decoders' own tests always run.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { internalModule } from "../compiler/build";
import { lowerService } from "../compiler/lower";
import { nAttrs, nBind, nLiteral, nStr, type NixNode } from "../nix/ast";
import { printNix } from "../nix/print";
import { type AnyService, defineService, process as proc, s, script, sh } from "../dsl";
import postgres from "../modules/postgres";
import redis from "../modules/redis";
import escapeProbe from "./fixtures/escape-probe";
import {
  evalProcessComposeFull,
  nixAvailable,
  nixEnv,
  nixPath,
  upstreamSeeded,
  type ProcessComposeEval,
} from "./support/nix";

const NIX = nixAvailable();
const SEEDED = NIX && upstreamSeeded();
const SEED = Number(process.env.ESCAPING_SEED ?? 0x5e7_c0de);
const SAMPLES = Number(process.env.ESCAPING_SAMPLES ?? 64);
const SHRINK = process.env.ESCAPING_SHRINK === "1";
const SLOW = 180_000;
if (!SEEDED)
  console.warn(
    `[nix eval] escaping properties skipped: ${NIX ? "upstream sources not seeded (pnpm seed-upstream)" : "no nix-instantiate"}`,
  );

// ---------------------------------------------------------------------------
// Random strings: any Unicode code point except NUL (Nix strings cannot hold
// it), heavily mixed with what quoting gets wrong.

// prettier-ignore
const tricky = [
  "'", '"', "\\", "$", "{", "}", "${", "$${", "''", "'''", "''$", "''${", "''\\", "'\\''", "\\'", '\\"', "\\\\",
  "\n", "\r", "\r\n", "\t", " ", "  ", "\n  ", "\n\t", "\\n", "\\r", "\\t", "\\0", "\\1", "\\101", "\\x41",
  "#", ";", "`", "!", "*", "?", "~", "&", "|", "<", ">", "(", ")", "[", "]", "%", "%s", "%I", "-", "--", "=",
  ":", "@", ",", ".", "/", "E'", "U&'", "$$", "$tag$", "\\gexec", ":foo", "\u0001", "\u0007", "\b", "\f",
  "\u000b", "\u001b", "\u007f", "\u0085", "\u00a0", "\u00e9", "e\u0301", "\u2028", "\u2029", "\ufeff",
  "\u2019", "\u201c", "\uff07", "\u{1f4a5}", "\u{10ffff}", "\ufffd",
];
const codePoint = fc.string({ unit: "binary", minLength: 1, maxLength: 1 }).filter((c) => c !== "\0");
const piece = fc.oneof(
  { arbitrary: fc.constantFrom(...tricky), weight: 5 },
  { arbitrary: codePoint, weight: 3 },
  { arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 6 }), weight: 2 },
);
const flat = fc.array(piece, { maxLength: 24 }).map((ps) => ps.join(""));
/**
 * Several lines with assorted indentation (spaces, tabs, none; blank lines, lines of
 * spaces only; with or without a final newline): the printer's `''…''` form, whose
 * indentation stripping is easy to get wrong.
 */
const multiLine = fc
  .tuple(
    fc.array(fc.tuple(fc.constantFrom("", "", " ", "  ", "    ", "\t", " \t"), fc.array(piece, { maxLength: 6 })), {
      minLength: 2,
      maxLength: 6,
    }),
    fc.constantFrom("", "\n", " ", "\n  ", "\n\n"),
  )
  .map(([lines, end]) => lines.map(([indent, ps]) => indent + ps.join("")).join("\n") + end);
/** A random string (may be empty): any code point but NUL, many of them tricky. */
const anyString = fc.oneof({ arbitrary: flat, weight: 3 }, { arbitrary: multiLine, weight: 2 });
const batchOf = <T>(arb: fc.Arbitrary<T>) => fc.array(arb, { minLength: SAMPLES, maxLength: SAMPLES });

function assertBatch<T>(arb: fc.Arbitrary<T[]>, check: (batch: T[]) => void): void {
  fc.assert(
    fc.property(arb, (batch) => {
      check(batch);
    }),
    { seed: SEED, numRuns: 1, endOnFailure: !SHRINK },
  );
}

/** Collects per-sample mismatches; throws one error listing them all. */
class Mismatches {
  private readonly items: string[] = [];
  constructor(private readonly what: string) {}
  add(sample: number, detail: Record<string, unknown>): void {
    this.items.push(`#${sample}: ${JSON.stringify(detail)}`);
  }
  check(actual: unknown, expected: unknown, sample: number, detail: Record<string, unknown>): void {
    if (!isDeepStrictEqual(actual, expected)) this.add(sample, { ...detail, expected, actual });
  }
  throwIfAny(): void {
    if (this.items.length === 0) return;
    throw new Error(
      `${this.what}: ${this.items.length} sample(s) not byte-identical (seed ${SEED}, ESCAPING_SEED=${SEED} to replay):\n` +
        this.items.join("\n"),
    );
  }
}

/** Bytes shown readably in failure messages: their UTF-8 text, or hex when they are not valid UTF-8. */
function show(b: Buffer): string {
  const text = b.toString("utf8");
  return Buffer.from(text, "utf8").equals(b) ? text : `<hex ${b.toString("hex")}>`;
}

// ---------------------------------------------------------------------------
// Decoders of the target languages' quoting (pure; tested below without Nix).

/**
 * Parses postgresql.conf text the way PostgreSQL's guc-file.l does, into
 * `[name, value]` pairs with quoted values de-escaped (DeescapeQuotedString:
 * `''` → `'`, `\b \f \n \r \t`, `\ooo` octal, `\x` → `x`). Works on bytes.
 * @throws Error at the first syntax error, naming the byte offset.
 */
function parsePostgresConf(text: Buffer): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  let i = 0;
  const at = (k = 0) => text[i + k];
  const isLetter = (c: number | undefined) =>
    c !== undefined && ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80);
  const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;
  const fail = (msg: string): never => {
    throw new Error(`postgresql.conf: ${msg} at byte ${i}: ${JSON.stringify(text.subarray(i, i + 20).toString())}`);
  };
  const skipSpace = () => {
    while (at() === 0x20 || at() === 0x09 || at() === 0x0d) i++;
    if (at() === 0x23) while (i < text.length && at() !== 0x0a) i++;
  };
  const id = (): string => {
    const start = i;
    if (!isLetter(at())) fail("expected a name");
    while (isLetter(at()) || isDigit(at())) i++;
    if (at() === 0x2e && isLetter(at(1))) {
      i++;
      while (isLetter(at()) || isDigit(at())) i++;
    }
    return text.subarray(start, i).toString("utf8");
  };
  while (i < text.length) {
    skipSpace();
    if (i >= text.length) break;
    if (at() === 0x0a) {
      i++;
      continue;
    }
    const name = id();
    skipSpace();
    if (at() === 0x3d) i++;
    skipSpace();
    let value: Buffer;
    if (at() === 0x27) {
      // STRING: \'([^'\\\n]|\\.|\'\')*\'
      const start = i;
      i++;
      for (;;) {
        const c = at();
        if (c === undefined || c === 0x0a) fail("unterminated quoted string");
        if (c === 0x27 && at(1) === 0x27) i += 2;
        else if (c === 0x27) break;
        else if (c === 0x5c) {
          if (at(1) === undefined || at(1) === 0x0a) fail("backslash before end of line");
          i += 2;
        } else i++;
      }
      i++;
      value = deescapeConfString(text.subarray(start, i));
    } else {
      // Unquoted: identifiers, numbers, paths (letters, digits, - . _ : / + and units).
      const start = i;
      while (i < text.length && /[A-Za-z0-9_.:/+\-\x80-\xff]/.test(String.fromCharCode(at()!))) i++;
      if (i === start) fail("expected a value");
      value = Buffer.from(text.subarray(start, i));
    }
    skipSpace();
    if (i < text.length) {
      if (at() !== 0x0a) fail("expected end of line");
      i++;
    }
    out.push([name, value]);
  }
  return out;
}

/** PostgreSQL's DeescapeQuotedString on a quoted token (with its quotes). */
function deescapeConfString(tok: Buffer): Buffer {
  const s = tok.subarray(1, tok.length - 1);
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === 0x5c) {
      i++;
      const e = s[i]!;
      const simple: Record<number, number> = { 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 };
      if (e in simple) out.push(simple[e]!);
      else if (e >= 0x30 && e <= 0x37) {
        let v = 0;
        let k = 0;
        for (; k < 3 && s[i + k] !== undefined && s[i + k]! >= 0x30 && s[i + k]! <= 0x37; k++)
          v = (v << 3) + (s[i + k]! - 0x30);
        i += k - 1;
        out.push(v & 0xff);
      } else out.push(e);
    } else if (c === 0x27 && s[i + 1] === 0x27) {
      out.push(0x27);
      i++;
    } else out.push(c);
  }
  return Buffer.from(out);
}

/** One token of SQL text as PostgreSQL's scanner sees quoting (standard_conforming_strings = on). */
type SqlToken = { kind: "literal"; value: string } | { kind: "ident"; value: string } | { kind: "other"; text: string };

/**
 * Splits SQL into standard string literals `'…'` (`''` → `'`, backslash literal),
 * quoted identifiers `"…"` (`""` → `"`) and the text between them. Refuses the
 * constructs that would change how a quote is read: `E'`/`U&'`/`B'`/`X'` prefixes
 * right before a quote, `$tag$` quoting, comments, and a literal continued after
 * whitespace with a newline (`'a'\n'b'`, which SQL concatenates).
 * @throws Error on an unterminated literal/identifier or a refused construct.
 */
function tokenizeSql(sql: string): SqlToken[] {
  const out: SqlToken[] = [];
  let other = "";
  let i = 0;
  const flush = () => {
    if (other !== "") out.push({ kind: "other", text: other });
    other = "";
  };
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      if (c === "'" && /[A-Za-z0-9_&]$/.test(other)) throw new Error(`prefixed string literal at ${i}`);
      const prev = out.at(-1);
      if (c === "'" && prev?.kind === "literal" && /^[ \t\r\f]*\n[ \t\r\n\f]*$/.test(other)) {
        throw new Error(`string literal continued on a new line at ${i}`);
      }
      flush();
      let v = "";
      i++;
      for (;;) {
        if (i >= sql.length) throw new Error(`unterminated ${c === "'" ? "string literal" : "identifier"}`);
        if (sql[i] === c && sql[i + 1] === c) {
          v += c;
          i += 2;
        } else if (sql[i] === c) {
          i++;
          break;
        } else v += sql[i++];
      }
      out.push({ kind: c === "'" ? "literal" : "ident", value: v });
      continue;
    }
    if (c === "$" && /^\$[A-Za-z_]?[A-Za-z0-9_]*\$/.test(sql.slice(i)) && !/[A-Za-z0-9_]$/.test(other)) {
      throw new Error(`dollar quoting at ${i}`);
    }
    if (sql.startsWith("--", i) || sql.startsWith("/*", i)) throw new Error(`comment at ${i}`);
    other += c;
    i++;
  }
  flush();
  return out;
}

/**
 * Splits one redis.conf line into arguments as Redis does when loading a config:
 * the line is trimmed of " \t\r\n", then `sdssplitargs` reads it (in double quotes
 * `\xHH`, `\n \r \t \b \a` and `\<c>` → `c`; in single quotes only `\'`; a closing
 * quote must be followed by a space or the end). Works on bytes.
 * @throws Error where Redis would report "Unbalanced quotes".
 */
function redisSplitArgs(line: Buffer): Buffer[] {
  let a = 0;
  let b = line.length;
  const trim = (c: number | undefined) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
  while (a < b && trim(line[a])) a++;
  while (b > a && trim(line[b - 1])) b--;
  const p = line.subarray(a, b);
  const isSpace = (c: number | undefined) => c !== undefined && (c === 0x20 || (c >= 0x09 && c <= 0x0d));
  const isHex = (c: number | undefined) => c !== undefined && /[0-9a-fA-F]/.test(String.fromCharCode(c));
  const args: Buffer[] = [];
  let i = 0;
  for (;;) {
    while (isSpace(p[i])) i++;
    if (i >= p.length) return args;
    const cur: number[] = [];
    let inq = false;
    let insq = false;
    for (let done = false; !done;) {
      const c = p[i];
      if (inq) {
        if (c === undefined) throw new Error("unbalanced quotes");
        if (c === 0x5c && p[i + 1] === 0x78 && isHex(p[i + 2]) && isHex(p[i + 3])) {
          cur.push(parseInt(String.fromCharCode(p[i + 2]!, p[i + 3]!), 16));
          i += 3;
        } else if (c === 0x5c && p[i + 1] !== undefined) {
          i++;
          const e = p[i]!;
          const map: Record<number, number> = { 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07 };
          cur.push(map[e] ?? e);
        } else if (c === 0x22) {
          if (p[i + 1] !== undefined && !isSpace(p[i + 1])) throw new Error("closing quote not followed by a space");
          done = true;
        } else cur.push(c);
      } else if (insq) {
        if (c === undefined) throw new Error("unbalanced quotes");
        if (c === 0x5c && p[i + 1] === 0x27) {
          i++;
          cur.push(0x27);
        } else if (c === 0x27) {
          if (p[i + 1] !== undefined && !isSpace(p[i + 1])) throw new Error("closing quote not followed by a space");
          done = true;
        } else cur.push(c);
      } else if (c === undefined || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
        done = true;
      } else if (c === 0x22) inq = true;
      else if (c === 0x27) insq = true;
      else cur.push(c);
      if (i < p.length) i++;
    }
    args.push(Buffer.from(cur));
  }
}

/** Splits output on NUL bytes; the output must end in one (printf '%s\0'). */
function splitNul(b: Buffer): Buffer[] | null {
  if (b.length === 0 || b[b.length - 1] !== 0) return null;
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0) {
      parts.push(b.subarray(start, i));
      start = i + 1;
    }
  }
  return parts;
}

// ---------------------------------------------------------------------------
// Derivations: read .drv files (ATerm) to find a script's input files.

interface Drv {
  outputs: Record<string, string>;
  inputDrvs: string[];
  env: Record<string, string>;
}

type ATerm = string | ATerm[] | { ctor: string; args: ATerm[] };

function parseATerm(src: string): ATerm {
  let i = 0;
  const value = (): ATerm => {
    const c = src[i];
    if (c === '"') {
      i++;
      let s = "";
      for (;;) {
        const d = src[i++];
        if (d === undefined) throw new Error("unterminated ATerm string");
        if (d === '"') return s;
        if (d === "\\") {
          const e = src[i++];
          s += e === "n" ? "\n" : e === "r" ? "\r" : e === "t" ? "\t" : e;
        } else s += d;
      }
    }
    if (c === "[" || c === "(") {
      const close = c === "[" ? "]" : ")";
      i++;
      const items: ATerm[] = [];
      while (src[i] !== close) {
        items.push(value());
        if (src[i] === ",") i++;
      }
      i++;
      return items;
    }
    const m = /^[A-Za-z]+/.exec(src.slice(i, i + 32));
    if (!m) throw new Error(`bad ATerm at ${i}`);
    i += m[0].length;
    const args = value();
    return { ctor: m[0], args: args as ATerm[] };
  };
  return value();
}

function readDrv(drvPath: string): Drv {
  const t = parseATerm(readFileSync(drvPath, "utf8"));
  if (typeof t !== "object" || Array.isArray(t) || t.ctor !== "Derive") throw new Error(`${drvPath}: not a Derive`);
  const [outs, inputs, , , , , env] = t.args as ATerm[][];
  const pairs = (xs: ATerm[] | undefined) => (xs ?? []).map((x) => x as string[]);
  return {
    outputs: Object.fromEntries(pairs(outs).map(([name, p]) => [name!, p!])),
    inputDrvs: pairs(inputs).map(([p]) => p!),
    env: Object.fromEntries(pairs(env).map(([k, v]) => [k!, v!])),
  };
}

/** The output path of the single input derivation of `drv` named `name`. */
function inputOut(drv: Drv, name: string): { drv: string; out: string } {
  const found = drv.inputDrvs.filter((p) => p.endsWith(`-${name}.drv`));
  if (found.length !== 1)
    throw new Error(`expected one input ${name}, found ${found.length}: ${drv.inputDrvs.join(" ")}`);
  const out = readDrv(found[0]!).outputs.out;
  if (!out) throw new Error(`${found[0]}: no out output`);
  return { drv: found[0]!, out };
}

// ---------------------------------------------------------------------------
// Evaluation and build, batched.

const tmpRoots: string[] = [];
afterAll(() => {
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

/** Lowers `services` and prints them, plus `config`, into a fresh temp dir; returns the Nix module list. */
function writeModules(services: readonly AnyService[], config: NixNode): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "escaping-"));
  tmpRoots.push(dir);
  const files = services.map((svc) => {
    const f = path.join(dir, `${svc.name}.nix`);
    writeFileSync(f, printNix(lowerService(svc).module));
    return f;
  });
  // Every service module imports ./internal.nix (the process owners and the collision check).
  writeFileSync(path.join(dir, "internal.nix"), printNix(internalModule()));
  const cfg = path.join(dir, "config.nix");
  writeFileSync(cfg, printNix(config));
  return `[ ${[...files, cfg].map(nixPath).join(" ")} ]`;
}

function evaluate(services: readonly AnyService[], config: NixNode, pkgsOverlays?: string): ProcessComposeEval {
  return evalProcessComposeFull(writeModules(services, config), pkgsOverlays === undefined ? {} : { pkgsOverlays });
}


/**
 * {@link evaluate}, and when Nix fails, names the values our printer does not round-trip
 * (each printed alone as a Nix string and evaluated back), so that a failing batch points
 * at its culprits.
 */
function evaluateOrDiagnose(
  services: readonly AnyService[],
  config: NixNode,
  values: readonly string[],
  pkgsOverlays?: string,
): ProcessComposeEval {
  try {
    return evaluate(services, config, pkgsOverlays);
  } catch (e) {
    const culprits: string[] = [];
    for (const v of new Set(values)) {
      const r = spawnSync("nix-instantiate", ["--eval", "--strict", "--json", "--expr", printNix(nStr(v))], {
        env: nixEnv,
        encoding: "utf8",
      });
      const back = r.status === 0 ? (JSON.parse(r.stdout) as unknown) : undefined;
      if (back !== v)
        culprits.push(
          JSON.stringify({ input: v, printed: printNix(nStr(v)), nix: r.status === 0 ? back : r.stderr.trim() }),
        );
    }
    const msg = (e as Error).message;
    throw new Error(
      `${msg.length > 4000 ? `${msg.slice(0, 4000)}…` : msg}\n(seed ${SEED}) values printNix does not round-trip through Nix: ` +
        (culprits.length ? `\n${culprits.join("\n")}` : "none (the failure is elsewhere)"),
    );
  }
}

/**
 * `nix-store --realise --keep-going` of all derivations at once. Returns which store
 * paths are valid afterwards (a failed build may leave its output on disk, unregistered:
 * existence proves nothing) and Nix's stderr.
 */
function realiseAll(drvs: readonly string[]): { built: (file: string) => boolean; stderr: string } {
  const unique = [...new Set(drvs)];
  const r = spawnSync("nix-store", ["--realise", "--keep-going", "--max-jobs", "4", ...unique], {
    env: nixEnv,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new Error(`nix-store could not be run: ${r.error.message}`);
  const outputs = unique.flatMap((d) => Object.values(readDrv(d).outputs));
  const v = spawnSync("nix-store", ["--check-validity", "--print-invalid", ...outputs], {
    env: nixEnv,
    encoding: "utf8",
  });
  if (v.status !== 0) throw new Error(`nix-store --check-validity failed:\n${v.stderr}`);
  const invalid = new Set(v.stdout.split("\n").filter(Boolean));
  const valid = new Set(outputs.filter((o) => !invalid.has(o)));
  return {
    built: (file) => {
      const root = /^\/nix\/store\/[^/]+/.exec(file)?.[0];
      return root !== undefined && valid.has(root) && existsSync(file);
    },
    stderr: r.stderr,
  };
}

/** The start of Nix's log of building `drv` (e.g. ShellCheck's findings), without colours. */
function buildLog(drv: string): string {
  const r = spawnSync("nix-store", ["--read-log", drv], { env: nixEnv, encoding: "utf8" });
  const log = (r.status === 0 ? r.stdout : r.stderr).replace(/\x1b\[[0-9;]*m/g, "").trim();
  return log.length > 1500 ? `${log.slice(0, 1500)}…` : log;
}

/** `services.<svc>.<instance> = { … }` for each instance, as one module (the attrs become Nix literals). */
function configModule(svc: string, instances: Record<string, Record<string, unknown>>): NixNode {
  return nAttrs(
    Object.entries(instances).map(([inst, opts]) =>
      nBind(["services", svc, inst], nLiteral({ enable: true, ...opts })),
    ),
  );
}

/** Which of Nix's two string forms the printer uses for `v`. */
const printedForm = (v: string): "indented" | "quoted" => (printNix(nStr(v)).startsWith("''") ? "indented" : "quoted");

/** Both string forms of the printer occur among the values (else the batch would not test both). */
function expectBothForms(values: readonly string[]): void {
  const forms = new Set(values.map(printedForm));
  expect([...forms].sort(), "batch exercises both \"…\" and ''…'' strings").toEqual(["indented", "quoted"]);
}

// ---------------------------------------------------------------------------

describe("escaping decoders (used by the property tests)", () => {
  it("parsePostgresConf follows guc-file.l: quotes, backslash escapes, octal, comments", () => {
    const conf = Buffer.from(
      "a = 'x''y\\\\z\\n\\r\\t\\b\\f\\101\\7\\q'\nb=on # comment\n\n  c  'A\rB'\nport = 5432\nhba_file = '/nix/store/x-pg_hba.conf'\n",
    );
    expect(parsePostgresConf(conf).map(([k, v]) => [k, v.toString("latin1")])).toEqual([
      ["a", "x'y\\z\n\r\t\b\fA\x07q"],
      ["b", "on"],
      ["c", "A\rB"],
      ["port", "5432"],
      ["hba_file", "/nix/store/x-pg_hba.conf"],
    ]);
    expect(() => parsePostgresConf(Buffer.from("a = 'x\ny'\n"))).toThrow(/unterminated/);
    expect(() => parsePostgresConf(Buffer.from("a = 'x'y'\n"))).toThrow(/end of line/);
    expect(() => parsePostgresConf(Buffer.from("a = 'x\\\n'\n"))).toThrow(/backslash/);
  });

  it("tokenizeSql reads standard literals and quoted identifiers, refuses what changes quoting", () => {
    expect(tokenizeSql(`SELECT 'it''s \\ ok', "a""b" FROM t`)).toEqual([
      { kind: "other", text: "SELECT " },
      { kind: "literal", value: "it's \\ ok" },
      { kind: "other", text: ", " },
      { kind: "ident", value: 'a"b' },
      { kind: "other", text: " FROM t" },
    ]);
    expect(() => tokenizeSql("SELECT 'a")).toThrow(/unterminated/);
    expect(() => tokenizeSql("SELECT E'a'")).toThrow(/prefixed/);
    expect(() => tokenizeSql("SELECT 'a'\n'b'")).toThrow(/new line/);
    expect(() => tokenizeSql("SELECT $q$a$q$")).toThrow(/dollar/);
    expect(() => tokenizeSql("SELECT 1 -- c")).toThrow(/comment/);
  });

  it("redisSplitArgs follows sdssplitargs: double/single quotes, escapes, trimming", () => {
    const args = (l: string) => redisSplitArgs(Buffer.from(l, "latin1")).map((x) => x.toString("latin1"));
    expect(args(' unixsocket "a\\\\b\\"c\\nd\\x41\\q" \r')).toEqual(["unixsocket", 'a\\b"c\ndAq']);
    expect(args("x 'it\\'s' \"\"")).toEqual(["x", "it's", ""]);
    expect(() => args('x "a"b')).toThrow(/closing quote/);
    expect(() => args('x "ab')).toThrow(/unbalanced/);
  });

  it("the random strings hit the printer's two string forms and the tricky characters", () => {
    const sample = fc.sample(anyString, { seed: SEED, numRuns: 200 });
    expectBothForms(sample);
    for (const ch of ["'", '"', "\\", "${", "''", "\n", "\r", "\t"]) {
      expect(
        sample.some((v) => v.includes(ch)),
        `some sample contains ${JSON.stringify(ch)}`,
      ).toBe(true);
    }
    expect(sample.some((v) => [...v].some((c) => c.codePointAt(0)! > 0xffff))).toBe(true);
    expect(sample.every((v) => !v.includes("\0"))).toBe(true);
  });
});

describe.skipIf(!SEEDED)(
  "[nix eval] escaping: random option values reach evaluated configs and scripts byte-identical",
  () => {
    it(
      "redis: extraConfig lands in redis.conf verbatim, unixSocket as one redis.conf argument",
      () => {
        assertBatch(batchOf(fc.record({ extra: anyString, socket: anyString })), (samples) => {
          expectBothForms(samples.map((x) => x.extra));
          const instances = Object.fromEntries(
            // Distinct ports: evaluation refuses two instances on one.
            samples.map((x, i) => [`r${i}`, { extraConfig: x.extra, unixSocket: x.socket, port: 20000 + i }]),
          );
          const ev = evaluateOrDiagnose(
            [redis],
            configModule("redis", instances),
            samples.flatMap((x) => [x.extra, x.socket]),
          );
          const files = samples.map((_, i) => {
            const drv = ev.commandDrvs[`r${i}`];
            if (!drv) throw new Error(`no command derivation for r${i}`);
            return inputOut(readDrv(drv), "redis.conf");
          });
          const { built } = realiseAll(files.map((f) => f.drv));
          const bad = new Mismatches("redis options → redis.conf");
          samples.forEach((x, i) => {
            const f = files[i]!;
            if (!built(f.out)) return bad.add(i, { input: x, error: "not built", log: buildLog(f.drv) });
            const got = readFileSync(f.out);
            // port, bind, then `unixsocket "<quoted>"` on one line, unixsocketperm, the shutdown settings, extraConfig, newline.
            const head = Buffer.from(`port ${20000 + i}\nbind 127.0.0.1\n`);
            const tail = Buffer.from(`unixsocketperm 660\nshutdown-on-sigterm now force\nshutdown-on-sigint now force\n${x.extra}\n`, "utf8");
            const socketLine = got.subarray(head.length, got.length - tail.length);
            if (!got.subarray(0, head.length).equals(head) || !got.subarray(got.length - tail.length).equals(tail)) {
              return bad.add(i, {
                input: x,
                error: "redis.conf is not port, bind, unixsocket, unixsocketperm, extraConfig",
                actual: show(got),
              });
            }
            if (socketLine[socketLine.length - 1] !== 0x0a || socketLine.subarray(0, -1).includes(0x0a)) {
              return bad.add(i, {
                option: "unixSocket",
                input: x.socket,
                error: "not one line",
                actual: show(socketLine),
              });
            }
            try {
              const args = redisSplitArgs(socketLine.subarray(0, -1)).map(show);
              bad.check(args, ["unixsocket", x.socket], i, { option: "unixSocket", line: show(socketLine) });
            } catch (e) {
              bad.add(i, {
                option: "unixSocket",
                input: x.socket,
                line: show(socketLine),
                error: (e as Error).message,
              });
            }
          });
          bad.throwIfAny();
        });
      },
      SLOW,
    );

    it(
      "postgres: initialScript verbatim, settings as postgresql.conf strings, ensure* as SQL literals/identifiers",
      () => {
        const sample = fc.record({
          appName: anyString,
          before: anyString,
          after: anyString,
          db: anyString,
          user: anyString,
        });
        assertBatch(batchOf(sample), (samples) => {
          expectBothForms(samples.flatMap((x) => [x.appName, x.after]));
          const instances: Record<string, Record<string, unknown>> = Object.fromEntries(
            samples.map((x, i) => [
              `pg${i}`,
              {
                // Distinct ports: evaluation refuses two instances on one.
                port: 21000 + i,
                settings: { application_name: x.appName },
                initialScript: { before: x.before, after: x.after },
                ensureDatabases: [x.db],
                ensureUsers: [{ name: x.user, ensureClauses: { login: true } }],
              },
            ]),
          );
          // A baseline instance without initialScript.before gives the rest of initial.sql.
          instances.baseline = { port: 20999 };
          const ev = evaluateOrDiagnose(
            [postgres],
            configModule("postgres", instances),
            samples.flatMap((x) => Object.values(x)),
          );
          const setupOf = (inst: string) => {
            const drvPath = ev.commandDrvs[`${inst}-init`];
            if (!drvPath) throw new Error(`no command derivation for ${inst}-init`);
            return readDrv(drvPath);
          };
          const baseline = inputOut(setupOf("baseline"), "initial.sql");
          const files = samples.map((_, i) => {
            const setup = setupOf(`pg${i}`);
            return {
              setupText: setup.env.text ?? "",
              conf: inputOut(setup, "postgresql.conf"),
              initial: inputOut(setup, "initial.sql"),
              after: inputOut(setup, "initial-after.sql"),
              ensure: inputOut(setup, "ensure.sql"),
            };
          });
          const { built, stderr } = realiseAll([
            baseline.drv,
            ...files.flatMap((f) => [f.conf.drv, f.initial.drv, f.after.drv, f.ensure.drv]),
          ]);
          if (!built(baseline.out)) throw new Error(`baseline initial.sql not built:\n${stderr}`);
          const rest = readFileSync(baseline.out);
          const bad = new Mismatches("postgres options → files");
          samples.forEach((x, i) => {
            const f = files[i]!;
            for (const out of [f.conf, f.initial, f.after, f.ensure]) {
              if (!built(out.out))
                return bad.add(i, { input: x, error: `${out.out} not built`, log: buildLog(out.drv) });
            }
            // The setup script runs exactly these files.
            for (const needle of [
              `install -m 0600 ${f.conf.out} `,
              `-f ${f.initial.out}\n`,
              `-f ${f.after.out}\n`,
              `-f ${f.ensure.out}\n`,
            ]) {
              if (!f.setupText.includes(needle))
                bad.add(i, { input: x, error: `setup script lacks ${JSON.stringify(needle)}` });
            }
            // initialScript.after: the whole file.
            const after = readFileSync(f.after.out);
            if (!after.equals(Buffer.from(x.after, "utf8")))
              bad.add(i, { option: "initialScript.after", expected: x.after, actual: show(after) });
            // initialScript.before: then a newline, then what the instance would run anyway.
            const initial = readFileSync(f.initial.out);
            const wantInitial = Buffer.concat([Buffer.from(`${x.before}\n`, "utf8"), rest]);
            if (!initial.equals(wantInitial))
              bad.add(i, { option: "initialScript.before", expected: x.before, actual: show(initial) });
            // settings.application_name: a postgresql.conf string, and no other line disturbed.
            try {
              const entries = parsePostgresConf(readFileSync(f.conf.out));
              bad.check(
                entries.map(([k]) => k),
                ["application_name", "hba_file", "listen_addresses", "port", "unix_socket_directories"],
                i,
                {
                  option: "settings (keys)",
                  input: x.appName,
                },
              );
              const got = entries.find(([k]) => k === "application_name")?.[1];
              if (!got?.equals(Buffer.from(x.appName, "utf8"))) {
                bad.add(i, { option: "settings.application_name", expected: x.appName, actual: got && show(got) });
              }
            } catch (e) {
              bad.add(i, { option: "settings.application_name", input: x.appName, error: (e as Error).message });
            }
            // ensureDatabases / ensureUsers: SQL string literals and a quoted identifier, in a fixed skeleton.
            try {
              const toks = tokenizeSql(readFileSync(f.ensure.out, "utf8"));
              const hole = (t: (typeof toks)[number]) =>
                t.kind === "other" ? t.text : t.kind === "literal" ? "<L>" : "<I>";
              bad.check(
                toks.map(hole).join(""),
                "SELECT format(<L>, <L>) WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = <L>)\\gexec\n" +
                  "SELECT format(<L>, <L>) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = <L>)\\gexec\n" +
                  "ALTER ROLE <I> WITH LOGIN;\n",
                i,
                { option: "ensure.sql skeleton", db: x.db, user: x.user },
              );
              bad.check(
                toks.filter((t) => t.kind !== "other").map((t) => (t as { value: string }).value),
                ["CREATE DATABASE %I", x.db, x.db, "CREATE ROLE %I WITH LOGIN", x.user, x.user, x.user],
                i,
                { option: "ensureDatabases/ensureUsers" },
              );
            } catch (e) {
              bad.add(i, {
                option: "ensureDatabases/ensureUsers",
                db: x.db,
                user: x.user,
                error: (e as Error).message,
              });
            }
          });
          bad.throwIfAny();
        });
      },
      SLOW,
    );

    it(
      "sh template: escapeShellArg / escapeShellArgs / build-time literals survive bash word splitting; sql template gives one SQL literal; instance names become process names",
      () => {
        const sample = fc.record({
          instance: anyString,
          value: anyString,
          values: fc.array(anyString, { maxLength: 4 }),
          literal: anyString,
        });
        // Instance names are random too (made unique by a prefix): printed as attribute names, they
        // come back as process names `<name>` and `<name>-sql`.
        // ("/" is refused in instance names, which become path components, and a newline in the default
        // dataDir ./data/<name>, which reaches scripts through a command substitution: both replaced here.)
        const instanceName = (x: { instance: string }, i: number) => `p${i}:${x.instance.replaceAll("/", "_").replaceAll("\n", "_")}`;
        assertBatch(batchOf(sample), (samples) => {
          expectBothForms(samples.flatMap((x) => [x.value, x.literal]));
          // Build-time literals: a service whose scripts embed the strings themselves (the `sh` template's
          // own quoting of TS strings, then the printer).
          const literals = defineService({
            name: "escape-literal-probe",
            description: "Test-only: scripts embedding build-time string literals.",
            options: {},
            processes: ({ name }) =>
              samples.map((x, i) =>
                proc(s`${name}-${String(i)}`, {
                  command: script({ name: "literal-probe", text: sh`printf '%s\\0' ${x.literal}` }),
                }),
              ),
          });
          const config = nAttrs([
            ...samples.map((x, i) =>
              nBind(
                ["services", "escape-probe", instanceName(x, i)],
                nLiteral({ enable: true, value: x.value, values: x.values }),
              ),
            ),
            nBind(["services", "escape-literal-probe", "lit", "enable"], nLiteral(true)),
          ]);
          const ev = evaluateOrDiagnose(
            [escapeProbe, literals],
            config,
            samples.flatMap((x, i) => [instanceName(x, i), x.value, ...x.values, x.literal]),
          );
          const wantNames = samples
            .flatMap((x, i) => [instanceName(x, i), `${instanceName(x, i)}-sql`, `lit-${i}`])
            .sort();
          expect(Object.keys(ev.settings.processes ?? {}).sort(), `process names (seed ${SEED})`).toEqual(wantNames);
          const runs = samples.flatMap((x, i) => [
            { i, process: instanceName(x, i), want: [x.value, ...x.values] },
            { i, process: `lit-${i}`, want: [x.literal] },
          ]);
          const sqls = samples.map((x, i) => ({ i, process: `${instanceName(x, i)}-sql`, want: x.value }));
          const drvOf = (p: string) => {
            const d = ev.commandDrvs[p];
            if (!d) throw new Error(`no command derivation for ${p}`);
            return d;
          };
          const { built } = realiseAll([...runs, ...sqls].map((r) => drvOf(r.process)));
          const bad = new Mismatches("sh/sql templates");
          for (const r of runs) {
            const command = ev.settings.processes?.[r.process]?.command ?? "";
            if (!built(command)) {
              bad.add(r.i, {
                process: r.process,
                input: r.want,
                error: "script not built",
                log: buildLog(drvOf(r.process)),
              });
              continue;
            }
            const run = spawnSync(command, [], { env: { PATH: "/usr/bin:/bin" }, encoding: "buffer" });
            const words = splitNul(run.stdout);
            if (run.status !== 0 || words === null) {
              bad.add(r.i, { process: r.process, input: r.want, status: run.status, stderr: run.stderr.toString() });
              continue;
            }
            bad.check(
              words.map((w) => w.toString("utf8")),
              r.want,
              r.i,
              {
                process: r.process,
                rawHex: words.some((w) => !Buffer.from(w.toString("utf8"), "utf8").equals(w))
                  ? run.stdout.toString("hex")
                  : undefined,
              },
            );
          }
          for (const r of sqls) {
            // The process runs `cat <file>`: the file is the command's only derivation.
            const command = ev.settings.processes?.[r.process]?.command ?? "";
            const m = /^cat (\/nix\/store\/[0-9a-z]{32}-probe\.sql)$/.exec(command);
            if (!m) {
              bad.add(r.i, { process: r.process, error: `unexpected command ${JSON.stringify(command)}` });
              continue;
            }
            if (!built(m[1]!)) {
              bad.add(r.i, {
                process: r.process,
                input: r.want,
                error: "probe.sql not built",
                log: buildLog(drvOf(r.process)),
              });
              continue;
            }
            const text = readFileSync(m[1]!, "utf8");
            try {
              const toks = tokenizeSql(text);
              bad.check(
                toks,
                [
                  { kind: "other", text: "SELECT " },
                  { kind: "literal", value: r.want },
                ],
                r.i,
                { process: r.process, file: text },
              );
            } catch (e) {
              bad.add(r.i, { process: r.process, input: r.want, file: text, error: (e as Error).message });
            }
          }
          bad.throwIfAny();
        });
      },
      SLOW,
    );

    it(
      "dataDir: any one-line path reaches a start script as one word, the directory realpath names (nothing in it runs)",
      () => {
        // Random paths below a directory of the test, from the tricky characters and any code point.
        const dirArb = anyString.filter((x) => !x.includes("\n")).map((x) => `./d/${x}`);
        assertBatch(batchOf(dirArb), (samples) => {
          const instances = Object.fromEntries(samples.map((d, i) => [`r${i}`, { dataDir: d, port: 21000 + i }]));
          const ev = evaluateOrDiagnose([redis], configModule("redis", instances), samples);
          const { built } = realiseAll(samples.map((_, i) => ev.commandDrvs[`r${i}`]!));
          const cwd = mkdtempSync(path.join(os.tmpdir(), "services-ts-datadir-"));
          const bad = new Mismatches("dataDir → the start script's data directory");
          try {
            samples.forEach((d, i) => {
              const script = String(ev.settings.processes?.[`r${i}`]?.command ?? "");
              if (!built(script)) return bad.add(i, { input: d, error: "not built" });
              const line = readFileSync(script, "utf8").split("\n").find((l) => l.startsWith("data="));
              if (!line) return bad.add(i, { input: d, error: "no data= line" });
              // The script's own line, run by bash, against realpath given the path as an argument (no shell).
              const got = spawnSync("bash", ["-c", `${line}\nprintf '%s' "$data"`], { cwd, encoding: "buffer" });
              const want = spawnSync("realpath", ["-m", "--", d], { cwd, encoding: "buffer" });
              bad.check(show(got.stdout), show(want.stdout.subarray(0, -1)), i, { input: d, stderr: got.stderr.toString() });
            });
            // Nothing a path holds ran: the directory is still empty.
            expect(spawnSync("ls", ["-A", cwd], { encoding: "utf8" }).stdout).toBe("");
          } finally {
            rmSync(cwd, { recursive: true, force: true });
          }
          bad.throwIfAny();
        });
      },
      SLOW,
    );

    it("dataDir: an empty one, or one with a newline (which a command substitution would cut), is refused at evaluation", () => {
      for (const d of ["", "./data/x\n", "./a\nb"]) {
        expect(() => evaluateOrDiagnose([redis], configModule("redis", { r: { dataDir: d } }), [d])).toThrow(
          /services\.redis\."r"\.dataDir is empty or holds a newline/,
        );
      }
    });

    // Regression: a correctly quoted value that ShellCheck's heuristics dislike ('…\' is SC1003, a
    // Unicode ’ or ‘ is SC1112, both "info") used to fail the writeShellApplication build; script()
    // now excludes those checks (SHELLCHECK_EXCLUDES).
    it(
      "a script quoting a value that ends in a backslash or holds a Unicode quote builds",
      () => {
        const values = ["C:\\", "a\\'b", "it\u2019s", "\u2018x\u2019"];
        const config = nAttrs(
          values.map((v, i) => nBind(["services", "escape-probe", `k${i}`], nLiteral({ enable: true, value: v }))),
        );
        const ev = evaluate([escapeProbe], config);
        const drvs = values.map((_, i) => ev.commandDrvs[`k${i}`]!);
        const { built } = realiseAll(drvs);
        const failed = values.flatMap((value, i) =>
          built(ev.settings.processes?.[`k${i}`]?.command ?? "") ? [] : [{ value, log: buildLog(drvs[i]!) }],
        );
        expect(failed).toEqual([]);
      },
      SLOW,
    );
  },
);
