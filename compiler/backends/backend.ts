/**
 * What a backend gives the compiler: how the DSL's process model
 * (dsl/process.ts) becomes configuration of one service manager.
 *
 * The compiler (compiler/lower.ts) lowers everything else — options, derived
 * options, composition, `let` sharing — the same way for every backend.
 */
import type { BackendPrimitive, ProcessDecl, ProcessItem, SourceLocation } from "../../dsl";
import type { Binding, NixNode } from "../../nix/ast";

export interface Backend {
  /** For messages: `process-compose`. */
  readonly name: string;
  /**
   * The attribute instances are configured under: `services` (process-compose-flake, as
   * services-flake) or a prefix of the backend's own (`services-ts` on NixOS, whose
   * `services.*` is taken).
   */
  readonly optionRoot: string;
  /** Names a service cannot have because the backend's own options sit beside the services (`services-ts.user`). */
  readonly reservedServiceNames?: readonly string[];
  /**
   * Definitions every stack gets once it imports any service (emitted in internal.nix), each a default
   * the user can override: for process-compose, services-flake's `cli.options.no-server = lib.mkDefault true`.
   */
  readonly stackDefaults?: () => Binding[];
  /** The configuration internal.nix's collision check makes throw when two instances clash (`settings.processes`). */
  readonly guardedConfig: readonly string[];
  /** Definitions of the functions modules call through the DSL (see `runtimePath`), emitted once per file when used. */
  readonly primitives: Readonly<Record<Exclude<BackendPrimitive, "projectRoot" | "optionRoot">, NixNode>>;
  /**
   * Where under `generated/` the backend's files go (`""` or `nixos`; its service tests in
   * `<dir>/tests/`): `projectPath` names project files relative to it.
   */
  readonly generatedDir: string;
  /** Functions the backend's own lowering calls, bound at file level when used (name → definition). */
  readonly fileLets?: Readonly<Record<string, NixNode>>;
  /** Options under each instance's internal `outputs` that hold what it contributes. */
  instanceOptions(): Binding[];
  /**
   * Definitions under each instance's `config.outputs` for its processes.
   * @param guard runs a lowering step, reporting errors at the item's TS source line.
   * @param comment the source comment (`modules/x.ts:12`) for a location, put above each process.
   * @param owner the instance's path as a Nix string (`services.redis."r1"`), for messages.
   */
  instanceConfig(
    items: readonly ProcessItem[],
    guard: <T>(at: ProcessItem, f: () => T) => T,
    comment: (loc: SourceLocation | undefined) => string | undefined,
    owner: NixNode,
  ): Binding[];
  /**
   * The service's top-level definitions that merge the outputs of enabled instances.
   * @param forEnabled wraps a per-instance value (given the instance's node) into a merge over enabled instances.
   */
  topConfig(forEnabled: (of: (instance: NixNode) => NixNode) => NixNode): Binding[];
  /** The binding of one process of a service test's stack (its `test` process, or another it declares). */
  testProcess(proc: ProcessDecl): Binding;
}
