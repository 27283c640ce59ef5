# Run tier: the apache-bench load test (modules/apache-bench.ts) against the
# notes-app example, by name: one instance POSTs notes (a body, keep-alive),
# another GETs the growing list (a page whose length varies: not a failure),
# with thresholds they meet. The `test` process checks both report.json files
# and that the POSTed notes reached the app's database.
#
# A plain Nix stack rather than modules/apache-bench.test.ts because the
# notes-app package is `pkgs.callPackage ../../examples/notes-app { }`: a path
# literal, which the DSL cannot write into a generated test.
{ config, lib, pkgs, ... }:
{
  imports = [ ../../generated/default.nix ];

  services.notes-app."shop" = {
    enable = true;
    package = pkgs.callPackage ../../examples/notes-app { };
    port = 8481;
    dbPort = 5483;
  };
  services.apache-bench."shop-write" = {
    enable = true;
    target = "shop";
    path = "/notes";
    body = "it's a \"load\" note";
    keepAlive = true;
    requests = 200;
    concurrency = 4;
    minTps = 5;
    maxErrors = 0;
  };
  services.apache-bench."shop-read" = {
    enable = true;
    target = "shop";
    path = "/notes";
    requests = 300;
    concurrency = 4;
    maxP99Ms = 5000;
    maxErrors = 0;
  };

  settings.processes.test = {
    command = pkgs.writeShellApplication {
      name = "apache-bench-test";
      runtimeInputs = [ pkgs.jq pkgs.curl pkgs.coreutils ];
      text = ''
        run=''${SERVICES_TS_RUN:-1}
        for r in ./data/shop-write/report.json ./data/shop-read/report.json; do
          echo "$r:"; cat "$r"
          jq -e '.tool == "ab" and .target == "shop" and .ok and .errors == 0 and .tps > 0 and .failures == []
            and (.latencyMs | .avg > 0 and .p50 > 0 and .p95 >= .p50 and .p99 >= .p95 and .max >= .p99)' "$r"
        done
        jq -e '.requests == 200' ./data/shop-write/report.json
        jq -e '.requests == 300' ./data/shop-read/report.json
        # Every POST made a note: 200 a start.
        test "$(curl -fsS http://127.0.0.1:${toString config.services.notes-app.shop.port}/notes | jq '[.[] | select(.body | contains("load"))] | length')" -eq $((200 * run))
      '';
    };
    depends_on."shop-write".condition = "process_completed_successfully";
    depends_on."shop-read".condition = "process_completed_successfully";
  };
}
