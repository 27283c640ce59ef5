# The load test, as the seed's load-test/default.nix: the whole stack of
# ./stack.nix plus load generators pointed at its instances by name, and a
# `load-test` process that waits for all of them, prints their verdicts and
# ends the run with its exit code: 0 when every threshold is met.
#
#   nix run ./examples#load-test    (with nixpkgs; see ./flake.nix)
#   pnpm demo load-test             (this repository's machines)
#
# Each generator writes ./data/<generator>/report.json.
{ config, lib, pkgs, ... }:
let
  # Every enabled load generator of the configuration: { name; report; }.
  generators = lib.concatMap
    (service: lib.mapAttrsToList (name: cfg: { inherit name; report = "${cfg.dataDir}/report.json"; })
      (lib.filterAttrs (_: cfg: cfg.enable) config.services.${service}))
    [ "pgbench" "redis-benchmark" "apache-bench" ];
in
{
  # (generated/default.nix is ./stack.nix's import too; the module system takes it once.)
  imports = [ ../generated/default.nix ./stack.nix ];

  # Read-write load on the primary, read-only load on its replica.
  services.pgbench."db-bench" = {
    enable = true;
    target = "db";
    scale = 2;
    clients = 4;
    threads = 2;
    duration = 10;
    minTps = 50;
    maxP99Ms = 250;
    maxErrors = 0;
  };
  services.pgbench."db-replica-bench" = {
    enable = true;
    target = "db";
    replica = true;
    clients = 4;
    duration = 10;
    minTps = 100;
    maxErrors = 0;
  };

  services.redis-benchmark."cache-bench" = {
    enable = true;
    target = "cache";
    tests = [ "set" "get" "incr" "lpush" ];
    clients = 20;
    requests = 50000;
    keyspace = 10000;
    minTps = 2000;
    maxP99Ms = 100;
    maxErrors = 0;
  };
  services.redis-benchmark."kv-bench" = {
    enable = true;
    target = "kv";
    cluster = true;
    tests = [ "set" "get" ];
    clients = 12;
    requests = 30000;
    keyspace = 10000;
    minTps = 1000;
    maxErrors = 0;
  };

  # HTTP: reads of the notes list over keep-alive connections.
  services.apache-bench."notes-bench" = {
    enable = true;
    target = "notes";
    path = "/notes";
    requests = 3000;
    concurrency = 8;
    keepAlive = true;
    minTps = 50;
    maxP99Ms = 500;
    maxErrors = 0;
  };

  # Ends the run when every generator has ended: the verdicts, then the exit code.
  settings.processes."load-test" = {
    command = pkgs.writeShellApplication {
      name = "load-test-verdict";
      runtimeInputs = [ pkgs.jq pkgs.coreutils ];
      text = ''
        status=0
        echo "== load test: ${toString (lib.length generators)} generators =="
        for report in ${lib.escapeShellArgs (map (g: g.report) generators)}; do
          if [[ ! -s $report ]]; then
            echo "FAIL $report: no report (the generator did not finish)"
            status=1
          elif jq -e .ok "$report" >/dev/null; then
            jq -r '"PASS \(.instance): \(.tps | floor)/s, p99 \(.latencyMs.p99) ms, \(.errors) errors"' "$report"
          else
            jq -r '"FAIL \(.instance): \(.failures | join("; "))"' "$report"
            status=1
          fi
        done
        mkdir -p data
        date +%s.%N > data/load-test.ended
        exit "$status"
      '';
    };
    depends_on = lib.listToAttrs (map (g: lib.nameValuePair g.name { condition = "process_completed"; }) generators);
    availability.exit_on_end = true;
    # A generator skipped (its target never became ready) ends the run too, instead of waiting forever.
    availability.exit_on_skipped = true;
  };
}
