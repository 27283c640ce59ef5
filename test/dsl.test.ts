/**
 * The authoring language: what each construct lowers to (lowering tests, on the
 * printed Nix) and what type-checks (type tests: `expectTypeOf`, and
 * `@ts-expect-error` lines that `tsc --noEmit` in `pnpm test` fails on if they
 * ever compile).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, expectTypeOf, it } from "vitest";
import { lowerService } from "../compiler/lower";
import { findRepeated } from "../compiler/cse";
import {
  concatStrings,
  cond,
  defineService,
  definePart,
  DefinitionError,
  type Expr,
  isService,
  mapList,
  named,
  nix,
  nonEmpty,
  notNull,
  type NixPath,
  orElse,
  type Pkg,
  process,
  raw,
  runtimePath,
  s,
  script,
  sh,
  type ShellCode,
  sql,
  t,
  recursiveUpdate,
  attrOr,
  all,
  connectHost,
  eq,
  mysqlSql,
  mysqlIdent,
  toINI,
  toJSON,
  toKeyValue,
  mkDefault,
  type ListenPortValue,
} from "../dsl";
import { printNix } from "../nix/print";

const root = join(__dirname, "..");
const compile = <T extends Parameters<typeof lowerService>[0]>(svc: T) => printNix(lowerService(svc).module);
const cmd = (text: Expr<ShellCode>) => script({ name: "x", text });

describe("kinds travel with values", () => {
  it("shell code bound with let stays code in another sh template (was: escapeShellArg of the code)", () => {
    const out = compile(
      defineService({
        name: "letsh",
        description: "x",
        options: {},
        processes: ({ name, let: bind }) => {
          const piped = bind("piped", sh`echo hi | cat`);
          return [process(name, { command: cmd(sh`${piped}`) })];
        },
      }),
    );
    expect(out).toContain('piped = "echo hi | cat";');
    expect(out).toMatch(/text = "\$\{piped\}";/);
    expect(out).not.toContain("lib.escapeShellArg piped");
  });

  it("a let-bound list of submodules keeps its fields' kinds (was: toString omitted)", () => {
    const out = compile(
      defineService({
        name: "letsub",
        description: "x",
        options: { nodes: t.listOf(t.submodule({ port: t.port({ default: 1 }), host: t.str({ default: "h" }) }), { default: [] }) },
        processes: ({ name, cfg, let: bind }) => {
          const nodes = bind("nodes", cfg.nodes);
          return [process(name, { command: cmd(sh`echo ${concatStrings(mapList(nodes, (n) => s`${n.host}:${n.port} `, "node"))}`) })];
        },
      }),
    );
    expect(out).toMatch(/map \(node: "\$\{node\.host\}:\$\{toString node\.port\} "\) nodes/);
  });

  it("refuses to mix shell code with plain text (the text would land unquoted)", () => {
    const svc = defineService({
      name: "mix",
      description: "x",
      options: { word: t.str({ default: "a b" }) },
      processes: ({ name, cfg }) => [process(name, { command: cmd(concatStrings([sh`echo `, cfg.word]) as Expr<ShellCode>) })],
    });
    expect(() => lowerService(svc)).toThrow(/dsl\.test\.ts:\d+:\d+: processes: concatStrings\(\): mixes shell code with plain text/);
  });

  it("an expression used as a JS string fails the build at that line", () => {
    const svc = defineService({
      name: "coerce",
      description: "x",
      options: { port: t.port({ default: 1 }) },
      // eslint-disable-next-line @typescript-eslint/restrict-template-expressions
      processes: ({ name, cfg }) => [process(name, { command: `memcached --port=${cfg.port as unknown as string}` })],
    });
    expect(() => lowerService(svc)).toThrow(DefinitionError);
    expect(() => lowerService(svc)).toThrow(/dsl\.test\.ts:\d+:\d+: a Nix expression was used as a JS string/);
  });
});

describe("helpers for configuration files and hosts", () => {
  it("lower to the nixpkgs lib functions, connectHost and the MySQL quoting as helpers defined once", () => {
    const svc = defineService({
      name: "h",
      description: "x",
      options: { host: t.str({ default: "0.0.0.0" }), settings: t.anything({ default: {} }) },
      processes: ({ name, cfg }) => [
        process(name, {
          command: cmd(
            sh`run ${toINI(recursiveUpdate({ a: { b: 1 } }, cfg.settings), { listsAsDuplicateKeys: true })} ${toKeyValue({ k: 1 }, { separator: ": " })} ${connectHost(cfg.host)} ${mysqlSql`CREATE DATABASE ${mysqlIdent(name)} COMMENT ${name}`}`,
          ),
          readiness: { http: { host: connectHost(cfg.host), port: attrOr<number>(cfg.settings, ["a", "port"], 80), path: "/" } },
        }).when(all([eq(cfg.host, "x"), true])),
      ],
    });
    const out = compile(svc).replace(/\s+/g, " ").replace(/\( /g, "(");
    expect(out).toContain("lib.generators.toINI { listsAsDuplicateKeys = true; } (lib.recursiveUpdate { a = { b = 1; }; } config.settings)");
    expect(out).toContain('lib.generators.toKeyValue { mkKeyValue = lib.generators.mkKeyValueDefault { } ": "; } { k = 1; }');
    expect(out).toMatch(/connectHost = host: if lib\.elem host \[ "" "0\.0\.0\.0" "\*" "::" "\[::\]" \] then "127\.0\.0\.1" else host;/);
    expect(out).toContain("config.settings.a.port or 80");
    expect(out).toContain("lib.all (x: x) [");
    expect(out).toContain('mysqlIdent = s: "`${lib.replaceStrings [ "`" ] [ "``" ] s}`";');
    expect(out).toContain(`mysqlLiteral = s: "'\${lib.replaceStrings [ "\\\\" "'" ] [ "\\\\\\\\" "''" ] s}'";`);
  });

  it("refuses a backslash at the end of a line in sh``, which JS would swallow with the line break", () => {
    expect(() => sh`a \
      b`).toThrow(/dsl\.test\.ts:\d+:\d+: sh``: a `\\` at the end of a line is a JavaScript line continuation/);
    expect(() => sh`a \\
      b`).not.toThrow();
  });
});

describe("fresh names", () => {
  const svc = () =>
    defineService({
      name: "fresh",
      description: "x",
      options: { xs: t.listOf(t.str(), { default: [] }), ys: t.listOf(t.str(), { default: [] }) },
      processes: ({ name, cfg }) => [
        process(name, {
          command: cmd(sh`echo ${concatStrings(mapList(cfg.xs, (x) => s`${x},`, "item"))} ${concatStrings(mapList(cfg.ys, (y) => s`${y};`, "item"))}`),
        }),
      ],
    });

  it("are unique per file, numbered only when a hint is used twice", () => {
    const out = compile(svc());
    expect(out).toContain("map (item1: ");
    expect(out).toContain("map (item2: ");
  });

  it("do not depend on what was compiled before (deterministic per file)", () => {
    const first = compile(svc());
    for (const f of readdirSync(join(root, "modules")).filter((x) => x === "postgres.ts")) expect(f).toBe("postgres.ts");
    const other = compile(svc());
    expect(other).toBe(first);
  });

  it("keep a bare hint when free", () => {
    const out = compile(
      defineService({
        name: "bare",
        description: "x",
        options: { xs: t.listOf(t.str(), { default: [] }) },
        processes: ({ name, cfg }) => [process(name, { command: cmd(sh`echo ${concatStrings(mapList(cfg.xs, (x) => s`${x}`, "word"))}`) })],
      }),
    );
    expect(out).toContain(`map (word: "${"$"}{word}")`);
  });
});

describe("constructs", () => {
  it("process(...).when(cond): a conditional process", () => {
    const out = compile(
      defineService({
        name: "cond",
        description: "x",
        options: { ui: t.bool({ default: false }) },
        processes: ({ name, cfg }) => [
          process(name, { command: cmd(sh`true`) }),
          process(s`${name}-ui`, { command: cmd(sh`exec ui`) }).when(cfg.ui),
        ],
      }),
    );
    expect(out).toMatch(/\/\/ lib\.optionalAttrs config\.ui \{\s*# test\/dsl\.test\.ts:\d+\s*"\$\{name\}-ui" = \{/);
  });

  it("nonEmpty and orElse", () => {
    const out = compile(
      defineService({
        name: "ne",
        description: "x",
        options: { xs: t.listOf(t.str(), { default: [] }), p: t.nullOr(t.listOf(t.path()), { default: null }) },
        processes: ({ name, cfg }) => [
          process(name, {
            command: cmd(sh`echo ${cond(nonEmpty(cfg.xs), "some", "none")} ${concatStrings(mapList(orElse(cfg.p, []), (f) => s`${f}`, "f"))}`),
          }),
        ],
      }),
    );
    expect(out).toContain('if config.xs != [ ] then "some" else "none"');
    expect(out).toContain("(if config.p != null then config.p else [ ])");
  });

  it("nix`…`: raw Nix, operands parenthesized", () => {
    const out = compile(
      defineService({
        name: "raw",
        description: "x",
        options: { package: t.package("postgresql"), extensions: t.nullOr(t.functionTo(t.listOf(t.package())), { default: null }) },
        processes: ({ name, cfg }) => [
          process(name, {
            command: script({
              name: "x",
              runtimeInputs: [nix<Pkg>("package")`${cfg.package}.withPackages ${cfg.extensions}`],
              text: sh`true`,
            }),
          }),
        ],
      }),
    );
    expect(out).toContain("runtimeInputs = [ (config.package.withPackages config.extensions) ];");
  });

  it("runtimePath: the backend's definition, emitted once", () => {
    const out = compile(
      defineService({
        name: "rp",
        description: "x",
        options: {},
        processes: ({ name, cfg }) => [process(name, { command: cmd(sh`cd ${runtimePath(cfg.dataDir)}`) })],
      }),
    );
    expect(out.match(/runtimePath = path:/g)).toHaveLength(1);
    expect(out).toContain('text = "cd ${runtimePath config.dataDir}";');
  });

  it("the process model lowers to process-compose's words", () => {
    const out = compile(
      defineService({
        name: "pm",
        description: "x",
        options: { port: t.port({ default: 1 }) },
        processes: ({ name, cfg }) => {
          const init = process(s`${name}-init`, { command: cmd(sh`true`), oneshot: true });
          return [
            init,
            process(name, {
              command: cmd(sh`true`),
              dependsOn: [{ process: init, condition: "succeeded" }],
              readiness: { http: { host: "127.0.0.1", port: cfg.port, path: "/health" } },
              restart: { policy: "on-failure", maxRestarts: 3 },
              stop: { signal: "SIGINT", timeoutSeconds: 5 },
              environment: { A: "b" },
              processCompose: { exit_on_end: true },
            }),
          ];
        },
      }),
    );
    expect(out).toContain('depends_on = { "${name}-init".condition = "process_completed_successfully"; };');
    expect(out).toMatch(/http_get = \{ host = "127\.0\.0\.1"; port = config\.port; path = "\/health"; \};/);
    expect(out).toContain('availability = { restart = "on_failure"; max_restarts = 3; exit_on_end = true; };');
    expect(out).toContain("shutdown = { signal = 2; timeout_seconds = 5; };");
    expect(out).toContain('environment = { A = "b"; };');
  });

  it("exit_on_end takes an expression (an instance option), lowered to availability.exit_on_end", () => {
    const out = compile(
      defineService({
        name: "ender",
        description: "x",
        options: { exitOnEnd: t.bool({ default: false }) },
        processes: ({ name, cfg }) => [process(name, { command: cmd(sh`true`), oneshot: true, processCompose: { exit_on_end: cfg.exitOnEnd } })],
      }),
    );
    expect(out).toContain("availability = { exit_on_end = config.exitOnEnd; };");
  });

  it("hasInstance reads another service's instance's enable, false when it is not defined", () => {
    const other = defineService({ name: "other", description: "x", options: { port: t.port({ default: 1 }) } });
    const out = compile(
      defineService({
        name: "pointer",
        description: "x",
        options: { target: t.str({ default: "a" }) },
        assertions: ({ cfg, hasInstance }) => [{ assertion: hasInstance(other, cfg.target), message: "target: no such instance" }],
      }),
    );
    expect(out).toContain("rootConfig.services.other.${config.target}.enable or false");
  });

  it("mkDefault and cond take values holding expressions at any depth, typed as the plain value", () => {
    const port = t.port({ default: 1 });
    const svc = defineService({
      name: "deep",
      description: "x",
      options: { port, on: t.bool({ default: false }) },
      ports: ({ cfg }) => cond<ListenPortValue[]>(cfg.on, [{ port: cfg.port, option: "port" }], []),
      processes: ({ name, cfg }) => {
        const d = mkDefault({ m1: { clientPort: cfg.port } });
        expectTypeOf(d).toEqualTypeOf<Expr<{ m1: { clientPort: number } }>>();
        return [process(name, { command: script({ name: "x", text: sh`echo ${toJSON(d)}` }) })];
      },
    });
    const out = compile(svc);
    expect(out).toMatch(/lib\.mkDefault \{\s*m1 = \{\s*clientPort = config\.port;\s*\};\s*\}/);
    expect(out).toContain('(if config.on then [ { port = config.port; option = "port"; } ] else [ ])');
  });

  it("parts: options merged, let names apart, requirements checked", () => {
    const part = (hint: string, opt: string) =>
      definePart({
        name: `part-${opt}`,
        options: { [opt]: t.str({ default: "x" }) } as Record<string, ReturnType<typeof t.str>>,
        processes: ({ name, cfg, let: bind }) => {
          const f = bind(hint, script({ name: opt, text: sh`echo ${cfg[opt]!}` }));
          return [process(s`${name}-${opt}`, { command: f })];
        },
      });
    const out = compile(defineService({ name: "parts", description: "x", parts: [part("starter", "a"), part("starter", "b")], options: {} }));
    expect(out).toContain("starter1 = pkgs.writeShellApplication");
    expect(out).toContain("starter2 = pkgs.writeShellApplication");
    expect(out).toMatch(/^ {8}a = lib\.mkOption/m);
    const needs = definePart({ name: "needs-port", requires: { port: t.port() }, options: {} });
    expect(() => lowerService(defineService({ name: "lacks", description: "x", parts: [needs], options: {} }))).toThrow(
      /part needs-port requires the option "port", which lacks does not declare/,
    );
  });
});

describe("option defaults", () => {
  it("a default computed from other options stays overridable; prose defaultText is literalMD", () => {
    const out = compile(
      defineService({
        name: "defaults",
        description: "x",
        options: {
          port: t.port({ default: 7000 }),
          sockets: t.str({ default: ({ cfg }) => s`${cfg.dataDir}/sockets-${cfg.port}`, defaultText: { md: "`<dataDir>/sockets-<port>`" } }),
        },
        processes: ({ name }) => [process(name, { command: cmd(sh`true`) })],
      }),
    );
    expect(out).toContain('default = "${config.dataDir}/sockets-${toString config.port}";');
    expect(out).toContain('defaultText = lib.literalMD "`<dataDir>/sockets-<port>`";');
    expect(out).not.toMatch(/sockets = lib\.mkOption \{[^}]*readOnly/);
  });

  it("apply transforms the value every reader sees, with the instance's other options; on a package option it joins mkPackageOption", () => {
    const out = compile(
      defineService({
        name: "applied",
        description: "x",
        options: {
          package: t.package("postgresql", {
            apply: (pkg, { cfg }) => cond(notNull(cfg.extensions), nix<Pkg>("package")`${pkg}.withPackages ${cfg.extensions}`, pkg),
          }),
          extensions: t.nullOr(t.functionTo(t.listOf(t.package())), { default: null }),
          greeting: t.str({ default: "hi", apply: (v, { cfg }) => s`${v} from ${cfg.dataDir}` }),
        },
        processes: ({ name, cfg }) => [process(name, { command: cmd(sh`echo ${cfg.greeting}`) })],
      }),
    );
    expect(out).toMatch(
      /package =\s+lib\.mkPackageOption pkgs "postgresql" \{ \}\s+\/\/ \{\s+apply = value:\s+if config\.extensions != null then value\.withPackages config\.extensions else value;\s+\};/,
    );
    expect(out).toMatch(/greeting = lib\.mkOption \{[^}]*apply = value: "\$\{value\} from \$\{config\.dataDir\}";/);
  });

  it("refuses an apply that reads an option the instance lacks, at the option's line", () => {
    const svc = defineService({
      name: "noapply",
      description: "x",
      options: { greeting: t.str({ default: "hi", apply: (v, { cfg }) => s`${v}${cfg.nope}` }) },
      processes: ({ name }) => [process(name, { command: cmd(sh`true`) })],
    });
    expect(() => lowerService(svc)).toThrow(/dsl\.test\.ts:\d+:\d+: option greeting: apply: .*cfg\.nope: the instance has no option "nope"/);
  });

  it("refuses a default that reads an option the instance lacks, at the option's line", () => {
    const svc = defineService({
      name: "nodefault",
      description: "x",
      options: { sockets: t.str({ default: ({ cfg }) => s`${cfg.nope}` }) },
      processes: ({ name }) => [process(name, { command: cmd(sh`true`) })],
    });
    expect(() => lowerService(svc)).toThrow(/dsl\.test\.ts:\d+:\d+: option sockets: default: cfg\.nope: the instance has no option "nope"/);
  });
});

describe("sharing: no expression evaluated twice where one binding would do", () => {
  it("binds a repeated expression once per instance, under its given name", () => {
    const out = compile(
      defineService({
        name: "share",
        description: "x",
        options: { package: t.package("redis"), port: t.port({ default: 1 }) },
        processes: ({ name, cfg }) => {
          const ping = named("ping", sh`redis-cli -p ${cfg.port} ping | grep -q PONG && echo ok`);
          return [
            process(name, { command: cmd(sh`until ${ping}; do sleep 1; done`), readiness: { exec: ping } }),
            process(s`${name}-b`, { command: cmd(ping) }),
          ];
        },
      }),
    );
    expect(out.match(/ping = "redis-cli -p/g)).toHaveLength(1);
    expect(out.match(/redis-cli -p/g)).toHaveLength(1);
  });

  it("binds what a lambda body repeats in a let inside the lambda", () => {
    const out = compile(
      defineService({
        name: "inner",
        description: "x",
        options: { users: t.listOf(t.submodule({ name: t.str({ default: "u" }) }), { default: [] }) },
        processes: ({ name, cfg }) => [
          process(name, {
            command: cmd(
              sh`${raw(
                concatStrings(
                  mapList(cfg.users, (u) => {
                    const quoted = named("quoted", sql`${s`${u.name}-suffix-${u.name}`}`);
                    return s`${quoted} ${quoted}\n`;
                  }),
                ),
              )}`,
            ),
          }),
        ],
      }),
    );
    expect(out).toMatch(/\(x:\s+let\s+quoted = "\$\{sqlLiteral "\$\{x\.name\}-suffix-\$\{x\.name\}"\}";\s+in\s+"\$\{quoted\} \$\{quoted\}\\n"\)/);
  });

  it("leaves nothing repeated in any service of modules/", async () => {
    const files = readdirSync(join(root, "modules")).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const svc = ((await import(join(root, "modules", f))) as { default: unknown }).default;
      if (!isService(svc)) throw new Error(`${f} exports no service`);
      const { instance } = lowerService(svc);
      expect(findRepeated(instance.lets, instance.body, instance.fixed).map((n) => printNix(n).trim()), f).toEqual([]);
    }
  });

  it("the check can fail: an unshared repeat is found", () => {
    const repeated = { kind: "binop", op: "+", left: { kind: "apply", fn: { kind: "var", name: "toString" }, args: [{ kind: "select", expr: { kind: "var", name: "config" }, path: ["a"] }] }, right: { kind: "string", parts: ["x", { kind: "var", name: "name" }] } };
    const body = { kind: "list", items: [repeated, { ...repeated }] } as never;
    expect(findRepeated([], body, new Set()).length).toBe(1);
  });
});

describe("types", () => {
  const svc = defineService({
    name: "types",
    description: "x",
    options: {
      port: t.port({ default: 1 }),
      dbs: t.listOf(t.submodule({ name: t.str(), schemas: t.nullOr(t.listOf(t.path()), { default: null }) }), { default: [] }),
      initialScript: t.submodule({ before: t.nullOr(t.str(), { default: null }) }, { default: {} }),
      settings: t.attrsOf(t.str(), { default: {} }),
    },
    processes: ({ name, cfg }) => {
      expectTypeOf(cfg.port).toEqualTypeOf<Expr<number> & unknown>();
      expectTypeOf(cfg.initialScript.before).toMatchTypeOf<Expr<string | null>>();
      mapList(cfg.dbs, (db) => {
        expectTypeOf(db.name).toMatchTypeOf<Expr<string>>();
        expectTypeOf(orElse(db.schemas, [])).toMatchTypeOf<Expr<NixPath[]>>();
        // @ts-expect-error no such field
        void db.nope;
        return db.name;
      });
      // @ts-expect-error an attribute set of any names has no typed fields
      void cfg.settings.anything;
      // @ts-expect-error cfg has only the declared options
      void cfg.nope;
      // @ts-expect-error a number is not a string
      process(name, { command: cmd(sh`x`), environment: { A: cfg.port } });
      // @ts-expect-error conditions are the backend-neutral ones
      process(name, { command: cmd(sh`x`), dependsOn: [{ process: "a", condition: "process_healthy" }] });
      // @ts-expect-error nonEmpty takes a list, string or attribute set
      const never = () => nonEmpty(cfg.port);
      void never;
      return [process(name, { command: cmd(sh`x`) })];
    },
  });

  it("type-check (the assertions above run under tsc) and lower", () => {
    expect(() => lowerService(svc)).not.toThrow();
  });

  it("parts' options are typed in the service", () => {
    const p = definePart({ name: "p", options: { fromPart: t.int({ default: 1 }) }, derived: ({ cfg }) => ({ twice: t.str({ readOnly: true, default: s`${cfg.fromPart}` }) }) });
    defineService({
      name: "withpart",
      description: "x",
      parts: [p],
      options: { own: t.bool({ default: true }) },
      processes: ({ name, cfg }) => {
        expectTypeOf(cfg.fromPart).toMatchTypeOf<Expr<number>>();
        expectTypeOf(cfg.twice).toMatchTypeOf<Expr<string>>();
        expectTypeOf(cfg.own).toMatchTypeOf<Expr<boolean>>();
        return [process(name, { command: cmd(sh`x`) })];
      },
    });
    expect(true).toBe(true);
  });
});
