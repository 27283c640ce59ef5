/**
 * The process-compose process schema, as process-compose-flake's
 * `settings.processes.<name>` options take it (snake_case names kept).
 * See https://f1bonacc1.github.io/process-compose/ and process-compose-flake's
 * `nix/process-compose/settings/process.nix`.
 */
import { type Expr, expr, exe, fresh, type Pkg, shapeOf, sh, type ShellCode, type Val, withShape } from "./expr";
import { nVar } from "../nix/ast";
import { callSite, type SourceLocation } from "./location";

/** When a dependent process may start, relative to the process it depends on. */
export type DependsOnCondition =
  | "process_completed"
  | "process_completed_successfully"
  | "process_healthy"
  | "process_log_ready"
  | "process_started";

/** A probe (readiness or liveness). Times are in seconds. */
export interface Probe {
  /** Run a command; exit code 0 means healthy. */
  readonly exec?: { readonly command: Val<string>; readonly working_dir?: Val<string> };
  /** An HTTP GET; a 2xx answer (or `status_code`) means healthy. */
  readonly http_get?: {
    readonly host: Val<string>;
    /** TCP port. */
    readonly port: Val<number>;
    readonly path?: Val<string>;
    readonly scheme?: "http" | "https";
    readonly headers?: Readonly<Record<string, Val<string>>>;
    readonly status_code?: number;
  };
  /** Seconds before the first probe (process-compose default 0). */
  readonly initial_delay_seconds?: number;
  /** Seconds between probes (process-compose default 10). */
  readonly period_seconds?: number;
  /** Seconds a probe may take (process-compose default 3). */
  readonly timeout_seconds?: number;
  /** Consecutive successes to be healthy (default 1). */
  readonly success_threshold?: number;
  /** Consecutive failures before the process is considered failed (default 3). */
  readonly failure_threshold?: number;
}

/** Restart policy (process-compose `availability`). */
export interface Availability {
  readonly restart?: "always" | "on_failure" | "exit_on_failure" | "no";
  readonly max_restarts?: number;
  /** Seconds between a stop and the restart (process-compose default 1). */
  readonly backoff_seconds?: number;
  /** Stop every process when this one ends. */
  readonly exit_on_end?: boolean;
  readonly exit_on_skipped?: boolean;
}

/** How the process is stopped. */
export interface Shutdown {
  /** A command run instead of sending `signal`. */
  readonly command?: Val<string>;
  /** Signal number sent to the process (default 15, SIGTERM). */
  readonly signal?: number;
  /** Seconds to wait before SIGKILL (default 10). */
  readonly timeout_seconds?: number;
  readonly parent_only?: boolean;
}

/** A process's settings, minus its name. */
export interface ProcessSettings {
  /** The program to run: a package (its main program is used) or a shell command string. */
  readonly command: Expr<Pkg> | Val<string>;
  /** Processes this one waits for, each with a condition. */
  readonly depends_on?: readonly (
    | { readonly process: ProcessDecl | Val<string>; readonly condition: DependsOnCondition }
    | DependsOnEach
  )[];
  readonly readiness_probe?: Probe;
  readonly liveness_probe?: Probe;
  readonly availability?: Availability;
  readonly shutdown?: Shutdown;
  /** Environment variables, `NAME = value`. */
  readonly environment?: Readonly<Record<string, Val<string>>>;
  /** Group shown in the TUI; defaults to the instance's `namespace` option. */
  readonly namespace?: Val<string>;
  readonly working_dir?: Val<string>;
  /** A log line (regex fragment) meaning the process is ready. */
  readonly ready_log_line?: Val<string>;
  readonly is_daemon?: boolean;
  readonly disabled?: Val<boolean>;
  readonly description?: Val<string>;
}

/** A process declared by a service instance. */
export interface ProcessDecl extends ProcessSettings {
  /** The process name (`settings.processes.<name>`), usually derived from the instance name. */
  readonly name: Val<string>;
  readonly location: SourceLocation | undefined;
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
 * @example extendProcess(s`${name}-replica-init`, { depends_on: [{ process: backup, condition: "process_completed_successfully" }] })
 */
export function extendProcess(name: Val<string>, settings: Partial<ProcessSettings>): ProcessExtension {
  return { ...settings, kind: "process-extension", name, location: callSite() };
}

/**
 * Declares a process-compose process.
 * @param name the process name, e.g. `` s`${name}-init` ``.
 */
export function process(name: Val<string>, settings: ProcessSettings): ProcessDecl {
  return { ...settings, name, location: callSite() };
}

/** One process per attribute of an attrset option (e.g. one per cluster node). */
export interface ProcessFamily {
  readonly kind: "process-family";
  /** The attrset the processes are made from. */
  readonly over: Expr<Readonly<Record<string, unknown>>>;
  /** Lambda parameter names bound to each attribute's name and value. */
  readonly keyVar: string;
  readonly valueVar: string;
  /** The process, in terms of those parameters. */
  readonly decl: ProcessDecl;
  readonly location: SourceLocation | undefined;
}

/**
 * Declares one process per attribute of `attrs`, lowered to
 * `lib.mapAttrs' (key: value: lib.nameValuePair <name> { … }) attrs`.
 * @example processesFor(cfg.nodes, (node, n) => process(s`${name}-${node}`, { … }))
 */
export function processesFor<V>(
  attrs: Expr<Readonly<Record<string, V>>>,
  f: (key: Expr<string>, value: Expr<V>) => ProcessDecl,
): ProcessFamily {
  const keyVar = fresh("key");
  const valueVar = fresh("value");
  const decl = f(expr<string>(nVar(keyVar), "string"), withShape(expr<V>(nVar(valueVar), "attrs"), shapeOf(attrs)));
  return { kind: "process-family", over: attrs, keyVar, valueVar, decl, location: callSite() };
}

/** A dependency on one process per attribute of `attrs` (e.g. every cluster node). */
export interface DependsOnEach {
  readonly kind: "depends-on-each";
  readonly over: Expr<Readonly<Record<string, unknown>>>;
  readonly keyVar: string;
  readonly process: Expr<string>;
  readonly condition: DependsOnCondition;
}

/**
 * Depends on the process named `name(key)` for every attribute of `attrs`.
 * @example dependsOnEach(cfg.nodes, (node) => s`${name}-${node}`, "process_healthy")
 */
export function dependsOnEach<V>(
  attrs: Expr<Readonly<Record<string, V>>>,
  name: (key: Expr<string>) => Expr<string>,
  condition: DependsOnCondition,
): DependsOnEach {
  const keyVar = fresh("key");
  return { kind: "depends-on-each", over: attrs, keyVar, process: name(expr<string>(nVar(keyVar), "string")), condition };
}

/**
 * A readiness probe that answers as soon as the server does. process-compose
 * probes at most once a second, so a plain check that runs just before the
 * server is up costs up to a second. This probe's command retries `check`
 * every 50 ms for up to `withinSeconds` (default 3), then the usual probe
 * cycle (`period_seconds` 1, `failure_threshold` 30) takes over.
 *
 * @param check shell code exiting 0 when the server is ready (e.g. `pg_isready …`).
 * @param sleepFrom a package providing `bin/sleep` (usually `pkgs.coreutils`).
 */
export function pollingProbe(check: Expr<ShellCode>, sleepFrom: Expr<Pkg>, withinSeconds = 3): Probe {
  const tries = withinSeconds * 20;
  return {
    exec: {
      command: sh`for _ in $(${exe(sleepFrom, "seq")} ${tries}); do ${check} >/dev/null 2>&1 && exit 0; ${exe(sleepFrom, "sleep")} 0.05; done; exit 1`,
    },
    initial_delay_seconds: 0,
    period_seconds: 1,
    timeout_seconds: withinSeconds + 2,
    success_threshold: 1,
    failure_threshold: 30,
  };
}

/**
 * A readiness probe on an HTTP endpoint (`http_get`), probed every second from
 * the start: healthy on a 2xx answer. Times in seconds.
 * @param port TCP port.
 */
export function httpReadiness(host: Val<string>, port: Val<number>, path: Val<string> = "/"): Probe {
  return {
    http_get: { host, port, path },
    initial_delay_seconds: 0,
    period_seconds: 1,
    timeout_seconds: 2,
    success_threshold: 1,
    failure_threshold: 30,
  };
}
