/**
 * The process model: what a service needs from whatever manager runs it, said
 * once for every backend.
 *
 * A process is long-running (a server) or one-shot (a setup step that must
 * finish); it may start after other processes are started, ready, completed or
 * completed successfully; it may say how to tell that it is ready (a command, an
 * HTTP endpoint, a log line), how to restart it and how to stop it, and which
 * environment and working directory it runs with.
 *
 * The compiler's backends lower this model: `compiler/backends/process-compose/`
 * to process-compose-flake's `settings.processes` (readiness → `readiness_probe`,
 * ordering → `depends_on` conditions, restart → `availability`, stop →
 * `shutdown`). Settings only one manager has go under that backend's own key
 * (`processCompose`), so a module that uses them says so.
 */
import { type Binder, nFresh, nVar } from "../nix/ast";
import { type Expr, expr, fresh, type NixPath, type Pkg, type Ref, refOf, type ShellCode, type Val } from "./expr";
import { callSite, type SourceLocation } from "./location";

/**
 * When a dependent process may start, relative to the process it depends on:
 * - `started`: once it has been started;
 * - `ready`: once its readiness check passes (a server that answers);
 * - `completed`: once it has exited, whatever its exit code;
 * - `succeeded`: once it has exited with code 0 (a one-shot setup step).
 */
export type StartCondition = "started" | "ready" | "completed" | "succeeded";

/** Timing of a readiness check. Seconds. */
export interface ReadinessTiming {
  /**
   * Seconds a single check may keep retrying (every 50 ms) before it counts as one
   * failure; default 3. A check that answers as soon as the server does makes the
   * process ready within 50 ms of the server.
   */
  readonly withinSeconds?: number;
  /** Consecutive failed checks after which the process is considered failed; default 30. */
  readonly failureThreshold?: number;
}

/**
 * How to tell that a long-running process is ready (or, as a liveness check, still well).
 * - `exec`: shell code that exits 0 when the server answers (e.g. `pg_isready …`);
 * - `http`: a GET that answers 2xx (or `status`);
 */
export type Readiness =
  | ({ readonly exec: Expr<ShellCode> } & ReadinessTiming)
  | ({
      readonly http: {
        readonly host: Val<string>;
        /** TCP port. */
        readonly port: Val<number>;
        /** Default `/`. */
        readonly path?: Val<string>;
        readonly scheme?: "http" | "https";
        /** The status code that means ready; default any 2xx. */
        readonly status?: number;
      };
    } & ReadinessTiming);

/** Restart policy of a long-running process. */
export interface Restart {
  /** `always`; `on-failure` (a non-zero exit); `never`. */
  readonly policy: "always" | "on-failure" | "never";
  /** Restarts before giving up (default: the backend's). */
  readonly maxRestarts?: number;
  /** Seconds between an exit and the restart (default: the backend's, 1 s for process-compose). */
  readonly backoffSeconds?: number;
}

/** POSIX signal names a process may be stopped with. */
export type Signal = "SIGTERM" | "SIGINT" | "SIGQUIT" | "SIGHUP" | "SIGKILL" | "SIGUSR1" | "SIGUSR2";

/** Signal numbers (Linux), for backends that take numbers. */
export const SIGNAL_NUMBERS: Readonly<Record<Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
};

/** How a process is stopped. */
export interface Stop {
  /** The signal sent to stop it (default SIGTERM). */
  readonly signal?: Signal;
  /** A command run to stop it, instead of sending `signal`. */
  readonly command?: Expr<ShellCode>;
  /**
   * Seconds to wait after the signal (or command) before the process is killed with SIGKILL;
   * default 10 (process-compose's `shutdown.timeout_seconds`; a user changes it with `lib.mkForce`).
   */
  readonly timeoutSeconds?: number;
}

/**
 * process-compose-only settings, in process-compose's own words
 * (https://f1bonacc1.github.io/process-compose/). Other backends ignore them.
 */
export interface ProcessComposeSettings {
  /** The TUI group; default the instance's `namespace` option. */
  readonly namespace?: Val<string>;
  /** The command forks into the background (a daemon). */
  readonly is_daemon?: boolean;
  /**
   * Stop every process of the stack when this one ends (its exit code becomes process-compose's):
   * `availability.exit_on_end`. A literal or an expression, e.g. an instance's `exitOnEnd` option.
   */
  readonly exit_on_end?: Val<boolean>;
  /** Start it disabled (only by hand from the TUI). */
  readonly disabled?: Val<boolean>;
}

/** A dependency on one process. */
export interface DependsOn {
  readonly process: ProcessDecl | Val<string>;
  readonly condition: StartCondition;
}

/** A process's settings, minus its name. */
export interface ProcessSettings {
  /** The program to run: a package (its main program is used) or a shell command string. */
  readonly command: Expr<Pkg> | Val<string>;
  /** A one-shot step that runs to completion (setup, migrations), not a server. Default false. */
  readonly oneshot?: boolean;
  /** Processes this one waits for, each with a condition. */
  readonly dependsOn?: readonly (DependsOn | DependsOnEach)[];
  /** How to tell that it is ready; processes depending on it with `ready` wait for this. */
  readonly readiness?: Readiness;
  /** A check that must keep passing while it runs; on failure it is restarted per `restart`. */
  readonly liveness?: Readiness;
  /** Restart policy (default: never). */
  readonly restart?: Restart;
  readonly stop?: Stop;
  /**
   * Environment variables, `NAME = value`: a record, or an attribute set computed in Nix (`update(…, cfg.environment)`).
   * Under process-compose each variable is a default (`lib.mkDefault`), so a user's
   * `settings.processes.<name>.environment.<NAME>` wins over it, as services-flake's services that set
   * their variables in the process's `environment` (ollama, open-webui, searxng, weaviate) let it.
   * Prefer this to `export` in a start script, which no user setting can override.
   */
  readonly environment?: Readonly<Record<string, Val<string>>> | Expr<Readonly<Record<string, string>>>;
  /** The working directory; default: where the stack runs. */
  readonly workingDirectory?: Val<string>;
  readonly description?: Val<string>;
  /** process-compose-only settings (see {@link ProcessComposeSettings}). */
  readonly processCompose?: ProcessComposeSettings;
}

/** A process declared by a service instance. */
export interface ProcessDecl extends ProcessSettings {
  readonly kind: "process";
  /** The process name, usually derived from the instance name. */
  readonly name: Val<string>;
  /** Only when this holds (see {@link ProcessDecl.when}). */
  readonly condition?: Expr<boolean>;
  readonly location: SourceLocation | undefined;
  /**
   * The same process, declared only when `cond` holds at evaluation (e.g. an
   * optional web UI): `process(s`${name}-pgweb`, { … }).when(cfg.pgweb.enable)`.
   */
  when(cond: Expr<boolean>): ProcessDecl;
}

/** Settings added to a process another module declares (e.g. a composed instance's). */
export interface ProcessExtension extends Partial<ProcessSettings> {
  readonly kind: "process-extension";
  readonly name: Val<string>;
  readonly location: SourceLocation | undefined;
}

/**
 * Adds settings to a process declared elsewhere — typically to order a composed
 * instance's process after one of this service's: the module system merges them.
 * @example extendProcess(s`${name}-replica-init`, { dependsOn: [{ process: backup, condition: "succeeded" }] })
 */
export function extendProcess(name: Val<string>, settings: Partial<ProcessSettings>): ProcessExtension {
  return { ...settings, kind: "process-extension", name, location: callSite() };
}

function makeProcess(name: Val<string>, settings: ProcessSettings, location: SourceLocation | undefined, condition?: Expr<boolean>): ProcessDecl {
  const decl: ProcessDecl = {
    ...settings,
    kind: "process",
    name,
    location,
    ...(condition === undefined ? {} : { condition }),
    when(cond: Expr<boolean>): ProcessDecl {
      const both = condition === undefined ? cond : expr<boolean>({ kind: "binop", op: "&&", left: condition.node, right: cond.node }, "bool");
      return makeProcess(name, settings, callSite() ?? location, both);
    },
  };
  return decl;
}

/**
 * Declares a process.
 * @param name the process name, e.g. `` s`${name}-init` ``.
 */
export function process(name: Val<string>, settings: ProcessSettings): ProcessDecl {
  return makeProcess(name, settings, callSite());
}

/** One process per attribute of an attrset option (e.g. one per cluster node). */
export interface ProcessFamily {
  readonly kind: "process-family";
  /** The attrset the processes are made from. */
  readonly over: Expr<Readonly<Record<string, unknown>>>;
  /** Lambda parameters bound to each attribute's name and value. */
  readonly keyVar: Binder;
  readonly valueVar: Binder;
  /** The process, in terms of those parameters. */
  readonly decl: ProcessDecl;
  readonly location: SourceLocation | undefined;
}

/**
 * Declares one process per attribute of `attrs` (`lib.mapAttrs'` over it). The value
 * handle is typed like the attribute set's values (`n.port` for a submodule).
 * @example processesFor(cfg.nodes, (node, n) => process(s`${name}-${node}`, { … }))
 */
export function processesFor<V>(
  attrs: Expr<Readonly<Record<string, V>>>,
  f: (key: Expr<string>, value: Ref<V>) => ProcessDecl,
): ProcessFamily {
  const keyVar = fresh("node");
  const valueVar = fresh("nodeCfg");
  const elem = attrs.info.type?.ctor.name === "attrsOf" ? (attrs.info.type.ctor as { of: Parameters<typeof refOf>[1] }).of : undefined;
  const value = elem ? refOf<V>(nFresh(valueVar), elem) : (expr<V>(nFresh(valueVar), "attrs") as Ref<V>);
  const decl = f(expr<string>(nFresh(keyVar), "string"), value);
  return { kind: "process-family", over: attrs, keyVar, valueVar, decl, location: callSite() };
}

/** A dependency on one process per attribute of `attrs` (e.g. every cluster node). */
export interface DependsOnEach {
  readonly kind: "depends-on-each";
  readonly over: Expr<Readonly<Record<string, unknown>>>;
  readonly keyVar: Binder;
  readonly process: Expr<string>;
  readonly condition: StartCondition;
}

/**
 * Depends on the process named `name(key)` for every attribute of `attrs`.
 * @example dependsOnEach(cfg.nodes, (node) => s`${name}-${node}`, "ready")
 */
export function dependsOnEach<V>(
  attrs: Expr<Readonly<Record<string, V>>>,
  name: (key: Expr<string>) => Expr<string>,
  condition: StartCondition,
): DependsOnEach {
  const keyVar = fresh("node");
  return { kind: "depends-on-each", over: attrs, keyVar, process: name(expr<string>(nFresh(keyVar), "string")), condition };
}

/**
 * An absolute path for `path` as the process sees it: a relative path (a `dataDir`
 * such as `./data/db`) is resolved against where the stack runs — for
 * process-compose, the directory it was started in. Shell code that expands to
 * one word (double-quoted), e.g. `PGDATA=${runtimePath(cfg.dataDir)}`.
 *
 * Backends define it: process-compose as `realpath -m` against its working directory.
 */
export function runtimePath(path: Val<string>): Expr<ShellCode> {
  return expr<ShellCode>({ kind: "apply", fn: backendPrimitive("runtimePath"), args: [typeof path === "string" ? { kind: "string", parts: [path] } : path.node] }, "string", {
    role: "shell",
  });
}

/** Property of a `var` node naming a function the backend defines (see {@link runtimePath}). */
export const BACKEND_PRIMITIVE = "backendPrimitive" as const;

/** Names of the functions every backend defines for modules. */
export type BackendPrimitive = "runtimePath" | "projectRoot" | "optionRoot";

/**
 * Where instances are configured, for messages: `services` (process-compose-flake, as
 * services-flake) or `services-ts` (the NixOS modules). Write
 * `` s`${optionRoot}.postgres."${name}".extensions: …` `` rather than a fixed `services.`.
 */
export const optionRoot: Expr<string> = expr<string>(backendPrimitive("optionRoot"), "string");

function backendPrimitive(name: BackendPrimitive) {
  return { ...nVar(name), [BACKEND_PRIMITIVE]: name } as unknown as ReturnType<typeof nVar>;
}

/**
 * A file of this project as a Nix path, e.g. a test fixture:
 * `projectPath("test/fixtures/schema.sql")`. The emitted Nix names it relative to the
 * file it is emitted into (`generated/tests/x.nix` and `generated/nixos/tests/x.nix`
 * sit at different depths), so it stays right for every backend. Nix copies the file
 * into the store when it is used.
 * @param relative a path from the project root, without `..` or a leading `/`.
 * @throws Error for an absolute path or one that climbs out of the project.
 */
export function projectPath(relative: string): Expr<NixPath> {
  const parts = relative.split("/");
  if (relative === "" || relative.startsWith("/") || parts.some((p) => p === ".." || p === "." || p === "")) {
    throw new Error(`projectPath(${JSON.stringify(relative)}): give a path from the project root, without "..", "." or a leading "/"`);
  }
  return expr<NixPath>({ kind: "binop", op: "+", left: backendPrimitive("projectRoot"), right: { kind: "string", parts: [`/${relative}`] } }, "path");
}
