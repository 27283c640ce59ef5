/**
 * The systemd backend: lowers the DSL's process model (dsl/process.ts) to NixOS's
 * `systemd.services` — the only place that knows systemd's vocabulary (`Requires=`,
 * `After=`, `Type=`, `ExecStartPost=`, `Restart=`, `KillSignal=`, `TimeoutStopSec=`).
 *
 * Instances live under `services-ts.<service>.<name>` (NixOS has `services.postgresql`,
 * `services.redis.servers`, …: the prefix keeps ours apart), with the same options as under
 * process-compose. Each instance module gets a read-only internal option `outputs.units`
 * holding one unit body per process; the service's top-level module turns those of enabled
 * instances into `systemd.services."services-ts-<process>"` through
 * `servicesTs.systemdUnit` (generated/nixos/internal.nix), which adds what every unit shares:
 * the user, the state directory, the working directory and the hardening.
 *
 * The mapping, process model → unit (see systemd.service(5), systemd.unit(5), systemd.exec(5)):
 * - a one-shot step → `Type=oneshot` with `RemainAfterExit=yes`; a server → `Type=exec`
 *   (`Type=forking` for a daemon);
 * - a readiness check → an `ExecStartPost=` that polls the same check every 50 ms, so the unit
 *   becomes active only once the server answers, and units ordered after it start then;
 * - `dependsOn` started / ready / succeeded → `Requires=` + `After=`; completed → `Wants=` + `After=`;
 * - restart → `Restart=`, `RestartSec=`, and `maxRestarts` → `StartLimitBurst=` over an unbounded
 *   `StartLimitIntervalSec=` (a total, as process-compose counts it);
 * - stop → `KillSignal=`, `ExecStop=`, `TimeoutStopSec=` (systemd's own default, 90 s, when the
 *   module sets none: systemd sends SIGKILL after it, unlike process-compose 1.87 without a timeout);
 * - environment → `environment`; working directory → `WorkingDirectory=` (relative ones under
 *   the state directory, where relative `dataDir`s resolve too).
 * Process-compose-only settings (`processCompose`: namespace, exit_on_end) have no unit
 * counterpart and are left out, but `disabled` (start by hand) leaves the unit out of
 * `services-ts.target`. A liveness check has no systemd counterpart either (systemd's watchdog
 * needs the server's cooperation); it is left out, and the per-service docs say so.
 */
import {
  BACKEND_PRIMITIVE,
  type DependsOn,
  type DependsOnEach,
  isExpr,
  lower,
  type ProcessDecl,
  type ProcessExtension,
  type Readiness,
} from "../../../dsl";
import {
  type Binding,
  nApply,
  nAttrs,
  nBind,
  nBinop,
  nBool,
  nFreshLambda,
  nIf,
  nInt,
  nLambda,
  nLib,
  nList,
  nLet,
  nLiteral,
  nSelect,
  nStr,
  nVar,
  type NixNode,
} from "../../../nix/ast";
import type { Backend } from "../backend";
import { runtimePath } from "../process-compose";
import { coreutils, instanceItems, keyOf, processOwnersConfig, processOwnersOption } from "../shared";

/** The attribute NixOS users configure instances under: `services-ts.postgres."db"`. */
export const SYSTEMD_OPTION_ROOT = "services-ts";
/** Every unit is `services-ts-<process>.service`, wanted by (and part of) `services-ts.target`. */
export const UNIT_PREFIX = "services-ts-";
export const TARGET = "services-ts.target";
/** `/var/lib/services-ts`: the state directory, every unit's working directory; relative `dataDir`s resolve under it. */
export const STATE_DIRECTORY = "services-ts";

/** `"services-ts-" + name + ".service"`, for one process name (a Nix string or expression). */
function unitOf(name: NixNode): NixNode {
  return name.kind === "string" ? nStr(UNIT_PREFIX, ...name.parts, ".service") : nStr(UNIT_PREFIX, name, ".service");
}

function concatLists(parts: NixNode[]): NixNode {
  return parts.length === 0 ? nList([]) : parts.reduce((l, r) => nBinop("++", l, r));
}

/** The unit names a process's dependencies need: `requires` (must succeed), `wants`, and `after` (all). */
function lowerDependencies(dependsOn: readonly (DependsOn | DependsOnEach)[]): { requires: NixNode; wants: NixNode; after: NixNode } {
  const requires: NixNode[] = [];
  const wants: NixNode[] = [];
  const reqLists: NixNode[] = [];
  const wantLists: NixNode[] = [];
  for (const d of dependsOn) {
    if ("kind" in d && d.kind === "depends-on-each") {
      const units = nApply(
        nLib("mapAttrsToList"),
        nFreshLambda(d.keyVar, nLambda({ kind: "ident", name: "_" }, (unitOf(d.process.node)))),
        d.over.node,
      );
      (d.condition === "completed" ? wantLists : reqLists).push(units);
    } else {
      const dep = d as DependsOn;
      const target = typeof dep.process === "object" && dep.process !== null && !isExpr(dep.process) ? dep.process.name : dep.process;
      (dep.condition === "completed" ? wants : requires).push((unitOf(lower(target))));
    }
  }
  const req = concatLists([...(requires.length > 0 || reqLists.length === 0 ? [nList(requires)] : []), ...reqLists]);
  const want = concatLists([...(wants.length > 0 || wantLists.length === 0 ? [nList(wants)] : []), ...wantLists]);
  const after = concatLists([...(requires.length + wants.length > 0 || reqLists.length + wantLists.length === 0 ? [nList([...requires, ...wants])] : []), ...reqLists, ...wantLists]);
  return { requires: req, wants: want, after };
}

/**
 * Seconds a readiness check may take in all before the unit fails: what process-compose
 * allows (`failureThreshold` probes, each retrying for `withinSeconds`, a second apart).
 */
export function readinessLimitSeconds(r: Readiness): number {
  return (r.failureThreshold ?? 30) * ((r.withinSeconds ?? 3) + 1);
}

/**
 * The `ExecStartPost=` program for a readiness check: the check (the same shell code
 * process-compose's probe runs), retried every 50 ms until it passes, or a failure after
 * {@link readinessLimitSeconds} — or at once when the server (`$MAINPID`) has exited. An HTTP check is a `curl` GET that must answer 2xx (or `status`).
 */
export function readinessScript(r: Readiness): NixNode {
  const limit = readinessLimitSeconds(r);
  let check: NixNode;
  if ("exec" in r) {
    check = { ...r.exec.node, hint: r.exec.node.hint ?? "readinessCheck" };
  } else {
    const h = r.http;
    const url = nStr(h.scheme ?? "http", "://", lower(h.host), ":", nApply(nVar("toString"), lower(h.port)), lower(h.path ?? "/"));
    const status = h.status === undefined ? "2[0-9][0-9]" : String(h.status);
    check = nStr(
      "[[ $(",
      nApply(nLib("escapeShellArg"), nApply(nLib("getExe"), nSelect(nVar("pkgs"), "curl"))),
      " --silent --output /dev/null --max-time 2 --write-out '%{http_code}' -- ",
      nApply(nLib("escapeShellArg"), url),
      `) == ${status} ]]`,
    );
  }
  return nApply(
    { ...nSelect(nVar("pkgs"), "writeShellScript"), hint: "readyScript" },
    nStr("services-ts-ready"),
    nStr(
      "end=$(( $(",
      coreutils("date"),
      ` +%s) + ${limit} ))\nuntil { `,
      check,
      "; } >/dev/null 2>&1; do\n  if (( $(",
      coreutils("date"),
      ` +%s) >= end )); then\n    echo "services-ts: not ready after ${limit} s" >&2\n    exit 1\n  fi\n`,
      // systemd gives ExecStartPost= the server's PID: a server that has exited will not become ready.
      '  if [[ -n "${MAINPID:-}" ]] && ! kill -0 "$MAINPID" 2>/dev/null; then\n    echo "services-ts: the server exited before it was ready" >&2\n    exit 1\n  fi\n  ',
      coreutils("sleep"),
      " 0.05\ndone\n",
    ),
  );
}

/** `ExecStart=`: a package's main program, or a shell command written to a script. */
function execOf(command: NixNode): NixNode {
  return nApply(fileLet("unitCommand"), command);
}

/** A reference to one of the backend's file-level functions (`fileLets`), known to the sharing pass as bound outside. */
function fileLet(name: "unitCommand" | "stateRelative" | "tmpfilesDir"): NixNode {
  return { ...nVar(name), [BACKEND_PRIMITIVE]: name } as unknown as NixNode;
}

/** The unit body of one process (or the additions an extension makes to one). */
function unitBody(p: ProcessDecl | ProcessExtension, own: boolean, inInstance = true): NixNode {
  const b: Binding[] = [];
  const sc: Binding[] = [];
  const uc: Binding[] = [];
  if (p.description !== undefined) b.push(nBind("description", lower(p.description)));
  if (own) {
    const disabled = p.processCompose?.disabled;
    b.push(
      nBind(
        "wantedBy",
        disabled === undefined ? nList([nStr(TARGET)]) : nApply(nLib("optional"), lowerNot(disabled), nStr(TARGET)),
      ),
    );
  }
  if (p.dependsOn && p.dependsOn.length > 0) {
    const d = lowerDependencies(p.dependsOn);
    b.push(nBind("requires", d.requires), nBind("wants", d.wants), nBind("after", d.after));
  }
  if (p.environment) b.push(nBind("environment", lower(p.environment)));
  const oneshot = p.kind === "process" && p.oneshot === true;
  if (own) sc.push(nBind("Type", nStr(oneshot ? "oneshot" : p.processCompose?.is_daemon ? "forking" : "exec")));
  if (oneshot) {
    sc.push(nBind("RemainAfterExit", nBool(true)));
    // A setup step (initdb, a clone) may take as long as it needs, as under process-compose.
    sc.push(nBind("TimeoutStartSec", nStr("infinity")));
  }
  if (p.command !== undefined) sc.push(nBind("ExecStart", execOf(lower(p.command))));
  if (p.readiness && !oneshot) {
    sc.push(nBind("ExecStartPost", nList([readinessScript(p.readiness)])));
    sc.push(nBind("TimeoutStartSec", nInt(readinessLimitSeconds(p.readiness) + 10)));
  }
  if (p.restart && !(oneshot && p.restart.policy === "always")) {
    sc.push(nBind("Restart", nStr(p.restart.policy === "never" ? "no" : p.restart.policy)));
    sc.push(nBind("RestartSec", nInt(p.restart.backoffSeconds ?? 1)));
    if (p.restart.maxRestarts !== undefined) {
      uc.push(nBind("StartLimitIntervalSec", nStr("infinity")));
      uc.push(nBind("StartLimitBurst", nInt(p.restart.maxRestarts + 1)));
    }
  }
  if (p.stop?.signal) sc.push(nBind("KillSignal", nStr(p.stop.signal)));
  if (p.stop?.command) sc.push(nBind("ExecStop", execOf(p.stop.command.node)));
  if (p.stop?.timeoutSeconds !== undefined) sc.push(nBind("TimeoutStopSec", nInt(p.stop.timeoutSeconds)));
  if (p.workingDirectory !== undefined) {
    const wd = lower(p.workingDirectory);
    sc.push(
      nBind(
        "WorkingDirectory",
        nApply(fileLet("stateRelative"), wd),
      ),
    );
  }
  if (own && inInstance) {
    // An absolute dataDir lies outside the state directory, which is all ProtectSystem=strict leaves
    // writable: the instance's own processes may write there ("-": unless it does not exist).
    sc.push(
      nBind(
        "ReadWritePaths",
        {
          ...nApply(nLib("optional"), nApply(nLib("hasPrefix"), nStr("/"), nSelect(nVar("config"), "dataDir")), nStr("-", nSelect(nVar("config"), "dataDir"))),
          hint: "writableDataDir",
        },
      ),
    );
  }
  if (sc.length > 0) b.push(nBind("serviceConfig", nAttrs(sc)));
  if (uc.length > 0) b.push(nBind("unitConfig", nAttrs(uc)));
  return nAttrs(b);
}

function lowerNot(v: unknown): NixNode {
  return typeof v === "boolean" ? nBool(!v) : { kind: "not", expr: lower(v) };
}

/** `unitCommand c`: `ExecStart=` for a command — a package's main program, or a shell command written to a script. */
const unitCommand = nLambda(
  { kind: "ident", name: "command" },
  nIf(
    nApply(nLib("isDerivation"), nVar("command")),
    nApply(nLib("getExe"), nVar("command")),
    nStr(nApply(nSelect(nVar("pkgs"), "writeShellScript"), nStr("services-ts-command"), nVar("command"))),
  ),
);

/** `stateRelative p`: an absolute path as is, a relative one under the state directory. */
const stateRelative = nLambda(
  { kind: "ident", name: "path" },
  nIf(nApply(nLib("hasPrefix"), nStr("/"), nVar("path")), nVar("path"), nStr(`/var/lib/${STATE_DIRECTORY}/`, nVar("path"))),
);

/**
 * `tmpfilesDir path user group`: a tmpfiles.d(5) line creating the directory `path` (mode 0750, owned by
 * `user`:`group`) at boot and on every `nixos-rebuild switch` (NixOS's activation runs systemd-tmpfiles), as
 * NixOS modules make a data directory outside /var/lib. Each field is double-quoted with C-style escapes
 * (`\\`, `\"`), and `%` doubled, since tmpfiles expands specifiers in the path.
 */
const tmpfilesDir = (() => {
  const quoted = nLambda(
    { kind: "ident", name: "field" },
    nStr('"', nApply(nSelect(nVar("builtins"), "replaceStrings"), nList([nStr("\\"), nStr('"'), nStr("%")]), nList([nStr("\\\\"), nStr('\\"'), nStr("%%")]), nVar("field")), '"'),
  );
  const q = (name: string) => nApply(nVar("quote"), nVar(name));
  return nLambda(
    { kind: "ident", name: "path" },
    nLambda(
      { kind: "ident", name: "user" },
      nLambda({ kind: "ident", name: "group" }, nLet([nBind("quote", quoted)], nStr("d ", q("path"), " 0750 ", q("user"), " ", q("group"), " - -"))),
    ),
  );
})();

const rawInternal = (description: string): NixNode =>
  nApply(
    nLib("mkOption"),
    nAttrs([
      nBind("type", nApply(nLib("types", "lazyAttrsOf"), nLib("types", "raw"))),
      nBind("internal", nBool(true)),
      nBind("readOnly", nBool(true)),
      nBind("description", nStr(description)),
    ]),
  );

export const systemd: Backend = {
  name: "systemd",
  optionRoot: SYSTEMD_OPTION_ROOT,
  generatedDir: "nixos",
  reservedServiceNames: ["user", "group"],
  guardedConfig: ["systemd", "services"],
  // Units run with the state directory as working directory: `realpath -m` resolves a relative
  // path there, as process-compose resolves it against the directory it runs in.
  primitives: { runtimePath },
  fileLets: { unitCommand, stateRelative, tmpfilesDir },
  instanceOptions: () => [
    processOwnersOption(),
    nBind("units", rawInternal("The systemd unit bodies (one per process, by process name) this instance contributes when enabled.")),
  ],
  instanceConfig: (items, guard, comment, owner) => {
    const { declared, extensions } = instanceItems(items, guard, comment, unitBody, "units");
    return [
      nBind("units", extensions.length > 0 ? nBinop("//", declared, nAttrs(extensions)) : declared),
      processOwnersConfig(declared, owner),
    ];
  },
  topConfig: (forEnabled) => [
    nBind(
      ["systemd", "services"],
      forEnabled((instance) => nApply(nLib("mapAttrs'"), nSelect(nVar("config"), "servicesTs", "systemdUnit"), nSelect(instance, "outputs", "units"))),
    ),
    // An absolute dataDir outside the state directory: ProtectSystem=strict leaves it read-only and systemd
    // drops a `ReadWritePaths=-` entry whose path does not exist, so the units could neither make it nor
    // write to it. tmpfiles makes it, owned by the units' user, before they start.
    nBind(
      ["systemd", "tmpfiles", "rules"],
      forEnabled((instance) =>
        nApply(
          nLib("optional"),
          nApply(nLib("hasPrefix"), nStr("/"), nSelect(instance, "dataDir")),
          nApply(fileLet("tmpfilesDir"), nSelect(instance, "dataDir"), cfgTs("user"), cfgTs("group")),
        ),
      ),
    ),
  ],
  // internal.nix turns `servicesTs.testUnits` into units as it does the instances' (a test may declare several).
  testProcess: (proc) => nBind(["servicesTs", "testUnits", keyOf(lower(proc.name))], unitBody(proc, true, false)),
};

/**
 * What every unit shares (systemd.exec(5)): the user, the state directory as working directory,
 * and the hardening the servers tolerate — a read-only system but for the state directory
 * (`ProtectSystem=strict`), no home directories, a private /tmp and /dev, no privilege gain,
 * no kernel tunables, modules, logs or clock, native system calls only, and IP, Unix and
 * netlink sockets only. Each is a default: `systemd.services.services-ts-<p>.serviceConfig.<Key>`
 * overrides one.
 */
export const UNIT_HARDENING = {
  UMask: "0077",
  ProtectSystem: "strict",
  ProtectHome: true,
  PrivateTmp: true,
  PrivateDevices: true,
  NoNewPrivileges: true,
  ProtectKernelTunables: true,
  ProtectKernelModules: true,
  ProtectKernelLogs: true,
  ProtectControlGroups: true,
  ProtectClock: true,
  ProtectHostname: true,
  RestrictSUIDSGID: true,
  RestrictRealtime: true,
  RestrictNamespaces: true,
  LockPersonality: true,
  SystemCallArchitectures: "native",
  RestrictAddressFamilies: ["AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"],
} as const;

const cfgTs = (...path: string[]) => nSelect(nVar("config"), SYSTEMD_OPTION_ROOT, ...path);
const mkOpt = (bindings: Binding[]) => nApply(nLib("mkOption"), nAttrs(bindings));
const mapDefault = (value: NixNode) => nApply(nLib("mapAttrs"), nLambda({ kind: "ident", name: "_" }, nLib("mkDefault")), value);
const orEmpty = (attr: string): NixNode => ({ kind: "select", expr: nVar("unit"), path: [attr], default: nAttrs([]) }) as NixNode;

/**
 * The systemd parts of generated/nixos/internal.nix: the user and group options, the
 * `servicesTs.systemdUnit` function every service module turns its units with, the target,
 * the user and group themselves, and the units of a service test.
 */
export function systemdInternal(): { lets: Binding[]; options: Binding[]; config: Binding[]; guarded: NixNode } {
  const anyUnits = nBinop(
    "||",
    nBinop("!=", nVar("processOwners"), nAttrs([])),
    nBinop("!=", nSelect(nVar("config"), "servicesTs", "testUnits"), nAttrs([])),
  );
  const unitName = nIf(
    nBinop("!=", nApply(nSelect(nVar("builtins"), "match"), nStr("[A-Za-z0-9:_.-]+"), nVar("process")), { kind: "null" }),
    nStr(UNIT_PREFIX, nVar("process")),
    nApply(
      nVar("throw"),
      nStr(
        'services-ts: the process "',
        nVar("process"),
        `" cannot name a systemd unit (${UNIT_PREFIX}<process>.service): instance names that reach systemd may hold only letters, digits, ":", "_", "." and "-".`,
      ),
    ),
  );
  const defaults = nBinop(
    "//",
    nAttrs([
      nBind("User", cfgTs("user")),
      nBind("Group", cfgTs("group")),
      nBind("StateDirectory", nStr(STATE_DIRECTORY)),
      nBind("StateDirectoryMode", nStr("0750")),
      nBind("WorkingDirectory", nStr(`/var/lib/${STATE_DIRECTORY}`)),
    ]),
    nLiteral(UNIT_HARDENING),
  );
  const systemdUnit = nLambda(
    { kind: "ident", name: "process" },
    nLambda(
      { kind: "ident", name: "unit" },
      nApply(
        nLib("nameValuePair"),
        { ...unitName, hint: "unitName" },
        // A unit an instance declares carries `wantedBy`; one that only adds to another's (an
        // extension: a composite ordering a composed instance's process) gets the shared settings once, from its declarer.
        nLet(
          [nBind("declared", { kind: "hasAttr", expr: nVar("unit"), path: ["wantedBy"] })],
          nBinop(
            "//",
            nVar("unit"),
            nBinop(
              "//",
              nAttrs([
                nBind("environment", mapDefault(orEmpty("environment"))),
                nBind(
                  "serviceConfig",
                  mapDefault(nBinop("//", nIf(nVar("declared"), nVar("unitDefaults"), nAttrs([])), orEmpty("serviceConfig"))),
                ),
                nBind("unitConfig", mapDefault(orEmpty("unitConfig"))),
              ]),
              nApply(
                nLib("optionalAttrs"),
                nVar("declared"),
                nAttrs([
                  nBind("description", nApply(nLib("mkDefault"), { kind: "select", expr: nVar("unit"), path: ["description"], default: nStr("services-ts: ", nVar("process")) } as NixNode)),
                  nBind("partOf", nList([nStr(TARGET)])),
                ]),
              ),
            ),
          ),
        ),
      ),
    ),
  );
  return {
    lets: [nBind("anyUnits", anyUnits), nBind("unitDefaults", defaults)],
    options: [
      nBind(
        ["options", SYSTEMD_OPTION_ROOT, "user"],
        mkOpt([
          nBind("type", nLib("types", "str")),
          nBind("default", nStr("services-ts")),
          nBind(
            "description",
            nStr(
              "The user every services-ts unit runs as. The default, `services-ts`, is a system user created when any instance is enabled, owning `/var/lib/services-ts`; another name must be a user you declare.",
            ),
          ),
        ]),
      ),
      nBind(
        ["options", SYSTEMD_OPTION_ROOT, "group"],
        mkOpt([
          nBind("type", nLib("types", "str")),
          nBind("default", nStr("services-ts")),
          nBind("description", nStr("The group every services-ts unit runs as; `services-ts` (the default) is created with the user.")),
        ]),
      ),
      nBind(
        ["options", "servicesTs", "systemdUnit"],
        mkOpt([
          nBind("type", nLib("types", "raw")),
          nBind("internal", nBool(true)),
          nBind("readOnly", nBool(true)),
          nBind("description", nStr("process name → unit body → `nameValuePair \"services-ts-<process>\" unit`, with what every unit shares (as defaults).")),
        ]),
      ),
      nBind(
        ["options", "servicesTs", "testUnits"],
        mkOpt([
          nBind("type", nApply(nLib("types", "lazyAttrsOf"), nLib("types", "raw"))),
          nBind("default", nAttrs([])),
          nBind("internal", nBool(true)),
          nBind("description", nStr("The units of a service test (generated/nixos/tests/), by process name.")),
        ]),
      ),
    ],
    config: [
      nBind(["config", "servicesTs", "systemdUnit"], systemdUnit),
      nBind(
        ["config", "systemd", "targets", SYSTEMD_OPTION_ROOT],
        nApply(
          nLib("mkIf"),
          nVar("anyUnits"),
          nAttrs([nBind("description", nStr("services-ts services")), nBind("wantedBy", nList([nStr("multi-user.target")]))]),
        ),
      ),
      nBind(
        ["config", "users", "users"],
        nApply(
          nLib("mkIf"),
          nBinop("&&", nVar("anyUnits"), nBinop("==", cfgTs("user"), nStr("services-ts"))),
          nAttrs([
            nBind(
              "services-ts",
              nAttrs([
                nBind("isSystemUser", nBool(true)),
                nBind("group", cfgTs("group")),
                nBind("home", nStr(`/var/lib/${STATE_DIRECTORY}`)),
                nBind("description", nStr("services-ts services")),
              ]),
            ),
          ]),
        ),
      ),
      nBind(
        ["config", "users", "groups"],
        nApply(nLib("mkIf"), nBinop("&&", nVar("anyUnits"), nBinop("==", cfgTs("group"), nStr("services-ts"))), nAttrs([nBind("services-ts", nAttrs([]))])),
      ),
    ],
    guarded: nApply(nLib("mapAttrs'"), nSelect(nVar("config"), "servicesTs", "systemdUnit"), nSelect(nVar("config"), "servicesTs", "testUnits")),
  };
}
