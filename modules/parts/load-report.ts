/**
 * The load-report part, shared by the load generators (pgbench, redis-benchmark,
 * http-load): the thresholds that make a run fail (`minTps`, `maxP99Ms`,
 * `maxErrors`), `exitOnEnd` (the run ends with the load test), and `reportCommand`,
 * which turns a tool's output into `<dataDir>/report.json`, prints a one-screen
 * summary and exits non-zero when a threshold is missed.
 *
 * The report (every tool):
 * `{ tool, instance, target, ok, tps, requests, errors, durationSeconds,
 *    latencyMs: { avg, p50, p95, p99, max }, thresholds, failures, details }`
 * — `tps` is requests (transactions) per second; with several commands
 * (redis-benchmark) the slowest command's, and `latencyMs.p99` the worst p99.
 */
import { definePart, exe, type Expr, file, ifSet, type Pkg, type Pkgs, type ShellCode, sh, t, toStr } from "../../dsl";

/** Parses pgbench / redis-benchmark / ab output into the report; see the file's header. */
const reportPy = String.raw`# Turns a load generator's output into report.json, prints a summary, checks thresholds.
import argparse
import csv
import glob
import json
import math
import re
import sys

p = argparse.ArgumentParser()
p.add_argument("--tool", required=True)
p.add_argument("--instance", required=True)
p.add_argument("--target", required=True)
p.add_argument("--out", required=True)
p.add_argument("--status", type=int, default=0)
p.add_argument("--stdout")
p.add_argument("--logs")
p.add_argument("--csv")
p.add_argument("--min-tps", type=float)
p.add_argument("--max-p99-ms", type=float)
p.add_argument("--max-errors", type=int)
a = p.parse_args()


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(math.ceil(q / 100.0 * len(sorted_values))) - 1))
    return sorted_values[k]


def text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def number(pattern, s, default=None, cast=float):
    m = re.search(pattern, s, re.M)
    return cast(m.group(1)) if m else default


report = {"tool": a.tool, "instance": a.instance, "target": a.target, "exitStatus": a.status, "details": {}}
errors = 0 if a.status == 0 else 1

if a.tool == "pgbench":
    out = text(a.stdout)
    latencies = []
    failed_in_log = 0
    for name in glob.glob(a.logs + "*"):
        with open(name) as f:
            for line in f:
                fields = line.split()
                if len(fields) < 3:
                    continue
                if fields[2].isdigit():
                    latencies.append(int(fields[2]) / 1000.0)
                else:
                    failed_in_log += 1
    latencies.sort()
    processed = number(r"^number of transactions actually processed: (\d+)", out, 0, int)
    failed = number(r"^number of failed transactions: (\d+)", out, failed_in_log, int)
    errors += failed
    report["tps"] = number(r"^tps = ([0-9.]+)", out, 0.0)
    report["requests"] = processed
    report["durationSeconds"] = number(r"^duration: (\d+) s", out, None, int)
    report["latencyMs"] = {
        "avg": round(sum(latencies) / len(latencies), 3) if latencies else number(r"^latency average = ([0-9.]+) ms", out),
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": latencies[-1] if latencies else None,
    }
    report["details"] = {"scale": number(r"^scaling factor: (\d+)", out, None, int), "clients": number(r"^number of clients: (\d+)", out, None, int)}
elif a.tool == "redis-benchmark":
    rows = []
    with open(a.csv, newline="") as f:
        for row in csv.reader(f):
            if len(row) >= 8 and row[0] != "test":
                try:
                    rows.append({"test": row[0], "rps": float(row[1]), "avg": float(row[2]), "p50": float(row[4]), "p95": float(row[5]), "p99": float(row[6]), "max": float(row[7])})
                except ValueError:
                    pass
    errors += len(re.findall(r"^Error from server", text(a.stdout), re.M))
    if not rows:
        errors += 1
    report["tps"] = min((r["rps"] for r in rows), default=0.0)
    report["requests"] = None
    report["durationSeconds"] = None
    report["latencyMs"] = {k: max((r[k] for r in rows), default=None) for k in ("avg", "p50", "p95", "p99", "max")}
    report["details"] = {"commands": rows}
elif a.tool == "ab":
    out = text(a.stdout)
    pct = {}
    with open(a.csv, newline="") as f:
        for row in csv.reader(f):
            try:
                pct[int(float(row[0]))] = float(row[1])
            except (ValueError, IndexError):
                pass
    complete = number(r"^Complete requests:\s+(\d+)", out, 0, int)
    failed = number(r"^Failed requests:\s+(\d+)", out, 0, int)
    non2xx = number(r"^Non-2xx responses:\s+(\d+)", out, 0, int)
    errors += failed + non2xx
    report["tps"] = number(r"^Requests per second:\s+([0-9.]+)", out, 0.0)
    report["requests"] = complete
    report["durationSeconds"] = number(r"^Time taken for tests:\s+([0-9.]+) seconds", out)
    report["latencyMs"] = {
        "avg": number(r"^Time per request:\s+([0-9.]+) \[ms\] \(mean\)$", out),
        "p50": pct.get(50),
        "p95": pct.get(95),
        "p99": pct.get(99),
        "max": pct.get(100),
    }
    report["details"] = {"failedRequests": failed, "non2xxResponses": non2xx}
else:
    sys.exit("load-report: unknown tool " + a.tool)

report["errors"] = errors
thresholds = {"minTps": a.min_tps, "maxP99Ms": a.max_p99_ms, "maxErrors": a.max_errors}
report["thresholds"] = thresholds
failures = []
if a.status != 0:
    failures.append("the %s run failed with status %d (its errors are in the log above)" % (a.tool, a.status))
if a.min_tps is not None and not (report["tps"] or 0) >= a.min_tps:
    failures.append("throughput %.1f/s is below minTps %g" % (report["tps"] or 0, a.min_tps))
p99 = report["latencyMs"]["p99"]
if a.max_p99_ms is not None and (p99 is None or p99 > a.max_p99_ms):
    failures.append("p99 latency %s ms is above maxP99Ms %g" % ("unknown" if p99 is None else "%.2f" % p99, a.max_p99_ms))
if a.max_errors is not None and errors > a.max_errors:
    failures.append("%d errors is above maxErrors %d" % (errors, a.max_errors))
report["failures"] = failures
report["ok"] = not failures
with open(a.out + ".tmp", "w") as f:
    json.dump(report, f, indent=2)
    f.write("\n")
import os
os.replace(a.out + ".tmp", a.out)

fmt = lambda v: "-" if v is None else "%.2f" % v
l = report["latencyMs"]
print("== load test %s: %s against %s ==" % (a.instance, a.tool, a.target))
print("throughput  %.1f/s%s" % (report["tps"] or 0, "" if report["requests"] is None else "  (%d in total)" % report["requests"]))
print("latency ms  avg %s  p50 %s  p95 %s  p99 %s  max %s" % tuple(fmt(l[k]) for k in ("avg", "p50", "p95", "p99", "max")))
for r in report["details"].get("commands", []):
    print("  %-12s %10.1f/s  p99 %s ms" % (r["test"], r["rps"], fmt(r["p99"])))
print("errors      %d" % errors)
print("report      %s" % a.out)
set_ = ", ".join("%s %g" % (k, v) for k, v in thresholds.items() if v is not None)
if failures:
    for f_ in failures:
        print("FAIL load test %s: %s" % (a.instance, f_), file=sys.stderr)
    sys.exit(1)
print("verdict     PASS" + (" (%s)" % set_ if set_ else " (no thresholds set)"))
`;

/** The thresholds and `exitOnEnd` every load generator has, and the report script. */
export const loadReport = definePart({
  name: "load-report",
  options: {
    minTps: t.nullOr(t.oneOf([t.int(), t.float()]), {
      default: null,
      example: { nix: "500.0" },
      description:
        "Fail (exit 1) when the throughput, in transactions or requests per second, is below this; with several commands, the slowest one's. `null`: no minimum.",
    }),
    maxP99Ms: t.nullOr(t.oneOf([t.int(), t.float()]), {
      default: null,
      example: { nix: "50.0" },
      description: "Fail (exit 1) when the 99th percentile latency, in milliseconds, is above this (the worst command's). `null`: no maximum.",
    }),
    maxErrors: t.nullOr(t.int(), {
      default: null,
      example: 0,
      description: "Fail (exit 1) when more requests than this failed (the tool's own exit status counts as one error). `null`: no maximum.",
    }),
    exitOnEnd: t.bool({
      default: false,
      description:
        "End the whole run when this load test ends: every process is stopped and process-compose exits with the load test's status " +
        "(process-compose ends with this process), so the run's exit code is the verdict.",
    }),
  },
});

/**
 * Shell code that writes `<dataDir>/report.json` from a tool's output, prints the summary and
 * exits with the verdict. `args` names the tool's output files (shell code, e.g. `--stdout "$data/stdout.txt"`).
 */
export function reportCommand(
  pkgs: Pkgs,
  cfg: { minTps: Expr<number | null>; maxP99Ms: Expr<number | null>; maxErrors: Expr<number | null> },
  tool: string,
  instance: Expr<string>,
  target: Expr<string>,
  args: Expr<ShellCode>,
): Expr<ShellCode> {
  const py: Expr<Pkg> = file("load-report.py", reportPy);
  return sh`${exe(pkgs.get("python3"), "python3")} ${py} --tool ${tool} --instance ${instance} --target ${target} --out "$data/report.json" ${args} ${ifSet(cfg.minTps, (v) => sh`--min-tps ${toStr(v)}`, sh``)} ${ifSet(cfg.maxP99Ms, (v) => sh`--max-p99-ms ${toStr(v)}`, sh``)} ${ifSet(cfg.maxErrors, (v) => sh`--max-errors ${toStr(v)}`, sh``)}`;
}
