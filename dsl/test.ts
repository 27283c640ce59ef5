/**
 * Service tests: the TS counterpart of services-flake's `<service>_test.nix`.
 *
 * A test names instances to enable and a `test` process that checks real
 * behaviour. The compiler emits it as `generated/tests/<name>.nix`, a
 * process-compose-flake module; the run tier starts it under process-compose,
 * which exits with the test process's exit code.
 */
import { nSelect, nVar } from "../nix/ast";
import type { Expr, Pkg, ShellCode } from "./expr";
import { callSite, type SourceLocation } from "./location";
import type { ProcessDecl, StartCondition } from "./process";
import {
  type AnyService,
  builtinOptions,
  type ConfigRef,
  configRef,
  type InstanceConfig,
  type Pkgs,
  pkgs,
  type Service,
} from "./service";
import type { Shape } from "./types";

type ShapeOf<Sv> = Sv extends Service<infer S, infer D> ? S & D & typeof builtinOptions : never;

/** Instances to enable, by service name then instance name (`enable = true` is implied). */
export type TestInstances<Svcs extends Record<string, AnyService>> = {
  readonly [K in keyof Svcs]?: Readonly<Record<string, InstanceConfig<ShapeOf<Svcs[K]>>>>;
};

/** What the test process callback receives. */
export interface TestContext<Svcs extends Record<string, AnyService>, I extends TestInstances<Svcs>> {
  /** The configured instances: `cfg.redis.r1.port`. */
  readonly cfg: { readonly [K in keyof I & keyof Svcs]: { readonly [N in keyof NonNullable<I[K]>]: ConfigRef<ShapeOf<Svcs[K]>> } };
  readonly pkgs: Pkgs;
}

/** The test process. */
export interface TestProcess {
  /** Packages whose `bin/` are on the test script's PATH. */
  readonly runtimeInputs?: readonly Expr<Pkg>[];
  /** The checks: a shell script that exits non-zero on failure. */
  readonly text: Expr<ShellCode>;
  /** Processes the test waits for (usually servers, until they are `ready`). */
  readonly dependsOn: readonly { readonly process: string | Expr<string>; readonly condition: StartCondition }[];
}

/**
 * An eval-tier check of what a test's stack renders: the process's start script
 * and every text file of the Nix store it names (the configuration files made with
 * `file(...)`, the scripts it runs), built with stand-ins for servers this machine
 * cannot install, must contain each string.
 */
export interface RenderedCheck {
  /** A process of the test's stack, by its process-compose name (`"grafana1"`, `"db-init"`). */
  readonly process: string;
  /** Byte-exact substrings the script or one of its files must contain (`"http_port = 23000"`). */
  readonly contains: readonly string[];
  /** Variables the process's own environment must hold, with these exact values (`{ OLLAMA_HOST: "127.0.0.1:29200" }`). */
  readonly environment?: Readonly<Record<string, string>>;
}

/** What `defineTest` takes. */
export interface TestDefinition<Svcs extends Record<string, AnyService>, I extends TestInstances<Svcs>> {
  /** Test name: the file name (`modules/<name>.test.ts` → `generated/tests/<name>.nix`). */
  readonly name: string;
  /** The services the test uses, keyed by service name. */
  readonly services: Svcs;
  readonly instances: I;
  readonly test: (ctx: TestContext<Svcs, I>) => TestProcess;
  /**
   * More processes for the test's stack besides the services' — a client, a load
   * generator, a second checker — declared with `process(...)` as in a service.
   * The `test` process may depend on them (`dependsOn: [{ process: "client", condition: "succeeded" }]`);
   * its exit still ends the run and gives the verdict.
   */
  readonly processes?: (ctx: TestContext<Svcs, I>) => readonly ProcessDecl[];
  /**
   * What the instances' non-default options must render to, checked by the
   * `[nix eval] rendered` tier for every test, also where the server cannot run
   * here (the `[run]` tier then skips the test by name).
   */
  readonly rendered?: readonly RenderedCheck[];
}

/** A defined test, for the compiler. */
export interface ServiceTest<Svcs extends Record<string, AnyService> = Record<string, AnyService>>
  extends TestDefinition<Svcs, TestInstances<Svcs>> {
  readonly kind: "services-ts/test";
  readonly location: SourceLocation | undefined;
}

/**
 * Defines a service test; the default export of `modules/<service>.test.ts`.
 * @example
 * export default defineTest({
 *   name: "redis",
 *   services: { redis },
 *   instances: { redis: { r1: {}, r2: { port: 6380 } } },
 *   test: ({ cfg }) => ({
 *     runtimeInputs: [cfg.redis.r1.package],
 *     text: sh`redis-cli -p ${cfg.redis.r2.port} ping`,
 *     dependsOn: [{ process: "r2", condition: "ready" }],
 *   }),
 * });
 */
export function defineTest<const Svcs extends Record<string, AnyService>, const I extends TestInstances<Svcs>>(
  def: TestDefinition<Svcs, I>,
): ServiceTest {
  return { ...(def as unknown as TestDefinition<Record<string, AnyService>, TestInstances<Record<string, AnyService>>>), kind: "services-ts/test", location: callSite() };
}

/** True for values made by {@link defineTest}. */
export function isServiceTest(v: unknown): v is ServiceTest {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "services-ts/test";
}

/** The context the compiler passes to a test's callback (top-level `config`). */
export function testContext(
  test: ServiceTest,
  derivedOf: (svc: AnyService) => Shape,
  /** Where the instances live in the configuration: `services` (process-compose-flake) or a backend's prefix. */
  root = "services",
): TestContext<Record<string, AnyService>, TestInstances<Record<string, AnyService>>> {
  const cfg: Record<string, Record<string, unknown>> = {};
  for (const [svcName, insts] of Object.entries(test.instances)) {
    const svc = test.services[svcName];
    if (!svc) continue;
    const shape = { ...builtinOptions, ...svc.options, ...derivedOf(svc) };
    cfg[svcName] = Object.fromEntries(
      Object.keys(insts ?? {}).map((inst) => [inst, configRef(shape, nSelect(nVar("config"), root, svc.name, inst))]),
    );
  }
  return { cfg: cfg as never, pkgs };
}
