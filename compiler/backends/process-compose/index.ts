/**
 * The process-compose backend: lowers the DSL's process model (dsl/process.ts)
 * to process-compose-flake's `settings.processes` — the only place that knows
 * process-compose's vocabulary (`depends_on` conditions, `readiness_probe`,
 * `availability`, `shutdown`, `namespace`).
 *
 * Each instance module gets a read-only internal option `outputs.settings`
 * holding the processes it contributes; the service's top-level module merges
 * those of enabled instances into `settings.processes`.
 * See https://f1bonacc1.github.io/process-compose/ and process-compose-flake's
 * `nix/process-compose/settings/process.nix`.
 */
import {
  type DependsOn,
  type DependsOnEach,
  isExpr,
  lower,
  type ProcessDecl,
  type ProcessExtension,
  type Readiness,
  SIGNAL_NUMBERS,
  type StartCondition,
} from "../../../dsl";
import {
  type Binding,
  nApply,
  nAttrs,
  nBind,
  nBinop,
  nBool,
  nFreshLambda,
  nInt,
  nLambda,
  nLib,
  nNot,
  nSelect,
  nStr,
  nVar,
  type NixNode,
} from "../../../nix/ast";
import type { Backend } from "../backend";
import { coreutils, instanceItems, keyOf, processOwnersConfig, processOwnersOption } from "../shared";

export { keyOf } from "../shared";

const CONDITIONS: Readonly<Record<StartCondition, string>> = {
  started: "process_started",
  ready: "process_healthy",
  completed: "process_completed",
  succeeded: "process_completed_successfully",
};

/** `a // b // …`, or `a` alone. */
function updateAll(parts: NixNode[]): NixNode {
  return parts.length === 0 ? nAttrs([]) : parts.reduce((l, r) => nBinop("//", l, r));
}

function lowerDependsOn(dependsOn: readonly (DependsOn | DependsOnEach)[]): NixNode {
  const statics: Binding[] = [];
  const families: NixNode[] = [];
  for (const d of dependsOn) {
    if ("kind" in d && d.kind === "depends-on-each") {
      families.push(
        nApply(
          nLib("mapAttrs'"),
          nFreshLambda(d.keyVar, nLambda({ kind: "ident", name: "_" }, nApply(nLib("nameValuePair"), d.process.node, nAttrs([nBind("condition", nStr(CONDITIONS[d.condition]))])))),
          d.over.node,
        ),
      );
    } else {
      const dep = d as DependsOn;
      const target = typeof dep.process === "object" && dep.process !== null && !isExpr(dep.process) ? dep.process.name : dep.process;
      statics.push(nBind([keyOf(lower(target)), "condition"], nStr(CONDITIONS[dep.condition])));
    }
  }
  return updateAll([...(statics.length > 0 || families.length === 0 ? [nAttrs(statics)] : []), ...families]);
}

/**
 * A readiness check as a process-compose probe. An `exec` check is retried every
 * 50 ms for up to `withinSeconds` within one probe (process-compose probes at most
 * once a second, so a plain check run just before the server is up would cost up
 * to a second); `period_seconds` 1 and `failure_threshold` (default 30) take over after.
 */
export function lowerProbe(r: Readiness): NixNode {
  const within = r.withinSeconds ?? 3;
  const timing = (timeout: number): Binding[] => [
    nBind("initial_delay_seconds", nInt(0)),
    nBind("period_seconds", nInt(1)),
    nBind("timeout_seconds", nInt(timeout)),
    nBind("success_threshold", nInt(1)),
    nBind("failure_threshold", nInt(r.failureThreshold ?? 30)),
  ];
  if ("exec" in r) {
    // One line per step; the check keeps its own node (named, so a long one is bound in a `let`).
    const check: NixNode = { ...r.exec.node, hint: r.exec.node.hint ?? "readinessCheck" };
    const command = nStr(
      "for _ in $(",
      coreutils("seq"),
      ` ${within * 20}); do\n  { `,
      check,
      "; } >/dev/null 2>&1 && exit 0\n  ",
      coreutils("sleep"),
      " 0.05\ndone\nexit 1\n",
    );
    return nAttrs([nBind("exec", nAttrs([nBind("command", command)])), ...timing(within + 2)]);
  }
  const h = r.http;
  const get: Binding[] = [nBind("host", lower(h.host)), nBind("port", lower(h.port)), nBind("path", lower(h.path ?? "/"))];
  if (h.scheme) get.push(nBind("scheme", nStr(h.scheme)));
  if (h.status !== undefined) get.push(nBind("status_code", nInt(h.status)));
  return nAttrs([nBind("http_get", nAttrs(get)), ...timing(r.withinSeconds ?? 2)]);
}

/**
 * Seconds process-compose waits for a process to end after its stop signal (or command)
 * before it sends SIGKILL, unless the process's `stop.timeoutSeconds` says otherwise.
 * process-compose (1.87) escalates only when `shutdown.timeout_seconds` is set: without it,
 * a server that ignores the signal keeps the whole stack from ending.
 */
export const DEFAULT_STOP_TIMEOUT_SECONDS = 10;

/** The process-compose settings of one process (or of an extension to one). */
function processBody(p: ProcessDecl | ProcessExtension, ownNamespace: boolean): NixNode {
  const b: Binding[] = [];
  if (p.command !== undefined) b.push(nBind("command", lower(p.command)));
  if (p.dependsOn && p.dependsOn.length > 0) b.push(nBind("depends_on", lowerDependsOn(p.dependsOn)));
  if (p.readiness) b.push(nBind("readiness_probe", lowerProbe(p.readiness)));
  if (p.liveness) b.push(nBind("liveness_probe", lowerProbe(p.liveness)));
  const pc = p.processCompose ?? {};
  const availability: Binding[] = [];
  if (p.restart) {
    availability.push(nBind("restart", nStr(p.restart.policy === "on-failure" ? "on_failure" : p.restart.policy === "never" ? "no" : "always")));
    if (p.restart.maxRestarts !== undefined) availability.push(nBind("max_restarts", nInt(p.restart.maxRestarts)));
    if (p.restart.backoffSeconds !== undefined) availability.push(nBind("backoff_seconds", nInt(p.restart.backoffSeconds)));
  }
  if (pc.exit_on_end !== undefined) availability.push(nBind("exit_on_end", typeof pc.exit_on_end === "boolean" ? nBool(pc.exit_on_end) : lower(pc.exit_on_end)));
  if (availability.length > 0) b.push(nBind("availability", nAttrs(availability)));
  if (p.stop || ownNamespace) {
    const s: Binding[] = [];
    if (p.stop?.command) s.push(nBind("command", p.stop.command.node));
    if (p.stop?.signal) s.push(nBind("signal", nInt(SIGNAL_NUMBERS[p.stop.signal])));
    // Every process it declares gets a timeout after which process-compose kills it: with none, it
    // waits for ever on a process that ignores its signal. (A user changes it with lib.mkForce.)
    const timeout = p.stop?.timeoutSeconds ?? (ownNamespace ? DEFAULT_STOP_TIMEOUT_SECONDS : undefined);
    if (timeout !== undefined) s.push(nBind("timeout_seconds", nInt(timeout)));
    b.push(nBind("shutdown", nAttrs(s)));
  }
  if (p.environment) b.push(nBind("environment", lower(p.environment)));
  if (p.workingDirectory !== undefined) b.push(nBind("working_dir", lower(p.workingDirectory)));
  if (p.description !== undefined) b.push(nBind("description", lower(p.description)));
  if (pc.is_daemon !== undefined) b.push(nBind("is_daemon", nBool(pc.is_daemon)));
  if (pc.disabled !== undefined) b.push(nBind("disabled", lower(pc.disabled)));
  if (pc.namespace !== undefined) b.push(nBind("namespace", lower(pc.namespace)));
  else if (ownNamespace) b.push(nBind("namespace", nSelect(nVar("config"), "namespace")));
  return nAttrs(b);
}

/**
 * `runtimePath p`: an absolute path, relative ones resolved against process-compose's
 * working directory (where the stack runs), as one double-quoted shell word.
 */
export const runtimePath = nLambda(
  { kind: "ident", name: "path" },
  nStr(
    '"$(',
    nApply(nLib("escapeShellArg"), nApply(nLib("getExe'"), nSelect(nVar("pkgs"), "coreutils"), nStr("realpath"))),
    " -m -- ",
    nApply(nLib("escapeShellArg"), nVar("path")),
    ')"',
  ),
);

export const processCompose: Backend = {
  name: "process-compose",
  optionRoot: "services",
  generatedDir: "",
  guardedConfig: ["settings", "processes"],
  // process-compose serves its HTTP API on port 8080 of every interface unless told not to: anyone who reaches
  // the machine could list, stop and restart the stack's processes, and a second stack (or a server on 8080)
  // clashes with it. services-flake's process-compose module turns it off by default (its
  // nix/process-compose/defaults.nix, `cli.options.no-server = lib.mkDefault true`); so do we.
  stackDefaults: () => [nBind(["config", "cli", "options", "no-server"], nApply(nLib("mkDefault"), nBool(true)))],
  primitives: { runtimePath },
  instanceOptions: () => [
    processOwnersOption(),
    nBind(
      "settings",
      nApply(
        nLib("mkOption"),
        nAttrs([
          nBind("type", nApply(nLib("types", "lazyAttrsOf"), nLib("types", "raw"))),
          nBind("internal", nBool(true)),
          nBind("readOnly", nBool(true)),
          nBind("description", nStr("The process-compose settings (`processes`) this instance contributes when enabled.")),
        ]),
      ),
    ),
  ],
  instanceConfig: (items, guard, comment, owner) => {
    const { declared, extensions } = instanceItems(items, guard, comment, processBody, "processes");
    return [
      nBind(["settings", "processes"], extensions.length > 0 ? nBinop("//", declared, nAttrs(extensions)) : declared),
      // Which instance makes which process, for the collision check (generated/internal.nix).
      processOwnersConfig(declared, owner),
    ];
  },
  // Every setting a module chooses is a default, field by field (`lib.mkDefault` on each
  // leaf, derivations left whole): a user's `settings.processes.<name>.availability.max_restarts = 10;`
  // overrides that one field without `mkForce`, and attribute sets (`depends_on`,
  // `environment`) still merge with the user's entries.
  topConfig: (forEnabled) => [
    nBind(
      ["settings", "processes"],
      forEnabled((instance) =>
        nApply(
          nLib("mapAttrsRecursiveCond"),
          nLambda({ kind: "ident", name: "value" }, nNot(nApply(nLib("isDerivation"), nVar("value")))),
          nLambda({ kind: "ident", name: "_" }, nLib("mkDefault")),
          nSelect(instance, "outputs", "settings", "processes"),
        ),
      ),
    ),
  ],
  testProcess: (proc) => nBind(["settings", "processes", keyOf(lower(proc.name))], processBody(proc, false)),
};
