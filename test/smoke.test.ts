/**
 * `[nix eval] smoke`: every service in modules/, with no hand-written test, is
 * evaluated in the pinned process-compose-flake — two instances each, in ONE
 * evaluation: `a` with its defaults (required options filled in, every port a
 * fresh one; enabled through `imports`), `b` written
 * as a function of `{ pkgs, name, config, lib, ... }` (services-flake's form)
 * with non-default values made from the option types (ports, dataDir,
 * namespace, and the options' own examples). Asserted: each instance makes
 * processes, each process has a command and a namespace, every `depends_on`
 * names a process that exists.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { knownPackages } from "../compiler/build";
import { serviceOptions } from "../compiler/lower";
import { type AnyService, isExpr, isService, lower, type OptionType, type Shape } from "../dsl";
import { printNix } from "../nix/print";
import { evalProcessComposeFullAsync, nixAvailable, nixPath, type ProcessComposeEval, repoRoot, upstreamSeeded, upstreamSkipReason } from "./support/nix";

const seeded = nixAvailable() && upstreamSeeded();
if (nixAvailable() && !seeded) console.warn(`[nix eval] smoke skipped: ${upstreamSkipReason}`);

const services: AnyService[] = [];
for (const f of readdirSync(join(repoRoot, "modules")).filter((x) => x.endsWith(".ts") && !x.endsWith(".test.ts")).sort()) {
  const svc = ((await import(join(repoRoot, "modules", f))) as { default: unknown }).default;
  if (isService(svc)) services.push(svc);
}

const fixture = nixPath(join(repoRoot, "test", "fixtures", "schema.sql"));
let nextPort = 24000;

// The test-only package set cannot build every nixpkgs package a module defaults to
// (passetto-service): such a package option gets a stand-in with a main program.
const known = knownPackages(repoRoot, services);
const standIn = "pkgs.bash";

/**
 * The literal default of a list or attribute set of submodules with port fields
 * (a cluster's nodes), with a fresh port in each: the evaluation refuses two
 * enabled instances on one port, and both instances of a service start from the
 * same defaults.
 */
function freshPorts(opt: OptionType<unknown>): string | undefined {
  const c = opt.ctor;
  if ((c.name !== "attrsOf" && c.name !== "listOf") || c.of.ctor.name !== "submodule") return undefined;
  const shape = c.of.ctor.shape;
  const ports = Object.keys(shape).filter((k) => shape[k]!.ctor.name === "port");
  const d = opt.meta.default;
  if (ports.length === 0 || d === null || typeof d !== "object" || isExpr(d)) return undefined;
  const renumber = (v: unknown) => ({ ...(v as object), ...Object.fromEntries(ports.map((k) => [k, nextPort++])) });
  const value = Array.isArray(d) ? d.map(renumber) : Object.fromEntries(Object.entries(d).map(([k, v]) => [k, renumber(v)]));
  return printNix(lower(value)).trim();
}

/** `{ port = N; mysqld = { port = M; }; }` for the (nested) submodule port options of `shape`, or undefined when it has none. */
function freshSubmodulePorts(shape: Shape): string | undefined {
  const defs = Object.entries(shape).flatMap(([k, o]) => {
    if (o.meta.readOnly) return [];
    if (o.ctor.name === "port") return [`${JSON.stringify(k)} = ${nextPort++};`];
    if (o.ctor.name === "submodule") {
      const inner = freshSubmodulePorts(o.ctor.shape);
      return inner === undefined ? [] : [`${JSON.stringify(k)} = ${inner};`];
    }
    return [];
  });
  return defs.length > 0 ? `{ ${defs.join(" ")} }` : undefined;
}

/** Nix source for a value of `opt` when it has no usable default, or undefined to leave it out. */
function required(opt: OptionType<unknown>): string | undefined {
  // An option naming another service's instance (a load test's target): the `a` instance of that service.
  if (opt.meta.namesInstanceOf !== undefined) return JSON.stringify(`smoke-${opt.meta.namesInstanceOf}-a`);
  if (opt.ctor.name === "package" && opt.packageAttr) return known.has(opt.packageAttr.join(".")) ? undefined : standIn;
  // Every port is a fresh one, so that no two instances of the configuration share one.
  if (opt.ctor.name === "port" && !opt.meta.readOnly) return String(nextPort++);
  const renumbered = freshPorts(opt);
  if (renumbered !== undefined) return renumbered;
  // A submodule with ports of its own, also nested (`settings.port`, `settings.mysqld.port`): fresh ones, the rest merged from defaults.
  if (opt.ctor.name === "submodule") {
    const fresh = freshSubmodulePorts(opt.ctor.shape);
    if (fresh !== undefined) return fresh;
  }
  if (opt.meta.default !== undefined) return undefined;
  switch (opt.ctor.name) {
    case "str":
    case "lines":
      return '"smoke"';
    case "int":
      return "1";
    case "port":
      return String(nextPort++);
    case "bool":
      return "false";
    case "path":
      return fixture;
    case "package":
      return standIn;
    case "listOf":
      return opt.ctor.of.ctor.name === "path" ? `[ ${fixture} ]` : "[ ]";
    case "nullOr":
      return "null";
    case "attrsOf":
    case "submodule":
    case "deferredModule":
      return "{ }";
    default:
      return undefined;
  }
}

/** Nix source for a non-default value of `opt`, or undefined to keep the default. */
function nonDefault(opt: OptionType<unknown>): string | undefined {
  if (opt.meta.readOnly) return undefined;
  if (opt.meta.namesInstanceOf !== undefined) return JSON.stringify(`smoke-${opt.meta.namesInstanceOf}-b`);
  if (opt.ctor.name === "port" || opt.ctor.name === "submodule" || freshPorts(opt) !== undefined) {
    const fresh = required(opt);
    if (fresh !== undefined) return fresh;
  }
  const ex = opt.meta.example;
  if (ex !== undefined && !isExpr(ex) && !(ex !== null && typeof ex === "object" && "nix" in ex)) return printNix(lower(ex)).trim();
  return required(opt);
}

function definitions(shape: Shape, pick: (o: OptionType<unknown>) => string | undefined): string[] {
  return Object.entries(shape).flatMap(([k, o]) => {
    const v = pick(o);
    return v === undefined ? [] : [`${k} = ${v};`];
  });
}

/** The configuration: every service, instances `smoke-<service>-a` and `-b`. */
function configuration(): string {
  return services
    .map((svc) => {
      const shape = serviceOptions(svc);
      // `a` enables itself through `imports`, the third form services-flake accepts.
      const a = ["imports = [ { enable = true; } ];", ...definitions(shape, required)].join(" ");
      const b = ['enable = true;', 'dataDir = "./smoke/${name}";', 'namespace = "smoke";', ...definitions(shape, nonDefault)].join(" ");
      return `services.${svc.name}."smoke-${svc.name}-a" = { ${a} };\n        services.${svc.name}."smoke-${svc.name}-b" = { pkgs, name, config, lib, ... }: { ${b} };`;
    })
    .join("\n        ");
}

type Procs = Record<string, { command?: unknown; namespace?: unknown; depends_on?: Record<string, unknown> }>;

/** Problems in a process set: a missing command or namespace, a `depends_on` on a process that does not exist. */
export function problems(procs: Procs, only: (name: string) => boolean = () => true): string[] {
  return Object.entries(procs)
    .filter(([n]) => only(n))
    .flatMap(([n, p]) => [
      ...(p.command ? [] : [`${n}: no command`]),
      ...(typeof p.namespace === "string" && p.namespace !== "" ? [] : [`${n}: no namespace`]),
      ...Object.keys(p.depends_on ?? {}).filter((d) => !(d in procs)).map((d) => `${n}: depends on "${d}", which does not exist`),
    ]);
}

describe("smoke test's own check", () => {
  it("finds a dangling depends_on, a missing command and a missing namespace (the check can fail)", () => {
    expect(problems({ a: { command: "x", namespace: "n", depends_on: { b: {} } }, c: { namespace: "n" }, d: { command: "y" } })).toEqual([
      'a: depends on "b", which does not exist',
      "c: no command",
      "d: no namespace",
    ]);
  });
});

describe.skipIf(!seeded)("[nix eval] smoke: every service, two instances each (defaults; a function of { pkgs, name, ... } with other values), one evaluation", () => {
  let ev: ProcessComposeEval;
  let seconds = 0;
  beforeAll(async () => {
    const t0 = performance.now();
    ev = await evalProcessComposeFullAsync(`[
      ${nixPath(join(repoRoot, "generated", "default.nix"))}
      ({ pkgs, ... }: {
        ${configuration()}
      })
    ]`);
    seconds = (performance.now() - t0) / 1000;
  });

  it("evaluates in one Nix evaluation", () => {
    expect(services.length).toBeGreaterThanOrEqual(7);
    expect(seconds).toBeLessThan(120);
    console.log(`[nix eval] smoke: ${services.length} services, ${Object.keys(ev.settings.processes ?? {}).length} processes, ${seconds.toFixed(1)} s`);
  });

  for (const svc of services) {
    it(svc.name, () => {
      const procs = (ev.settings.processes ?? {}) as Procs;
      for (const inst of [`smoke-${svc.name}-a`, `smoke-${svc.name}-b`]) {
        const mine = Object.keys(procs).filter((n) => n.includes(inst));
        expect(mine.length, `${inst} makes no process`).toBeGreaterThan(0);
        expect(problems(procs, (n) => n.includes(inst))).toEqual([]);
      }
      // The function-form instance got its non-default values.
      expect(Object.entries(procs).filter(([n]) => n.includes(`smoke-${svc.name}-b`)).some(([, p]) => p.namespace === "smoke")).toBe(true);
    });
  }
});
