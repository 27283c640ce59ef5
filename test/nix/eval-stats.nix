# The configuration the eval-stats test measures (test/eval-stats.test.ts):
# `n` redis and `n` postgres instances, each on a port of its own, evaluated
# with either services-ts's generated modules or services-flake's own
# (the pinned source), in the pinned process-compose-flake and the TEST-ONLY
# package set, down to the JSON of every process's settings (what
# process-compose-flake writes).
#
#   NIX_SHOW_STATS=1 nix-instantiate --eval -E 'import ./test/nix/eval-stats.nix { modules = "ours"; n = 10; }'
#
# `modules = "floor"` measures what no service library can go below: process-compose-flake
# alone, given as plain values the process settings another evaluation produced (`processes`:
# a JSON file of `settings.processes`, nulls left out; a command is a store path string, which
# process-compose-flake takes as it is). `output = "processes"` returns that JSON itself.
{ modules, n, output ? "length", processes ? null, sources ? import ./sources.nix }:
let
  lib = import (sources.nixpkgs-lib + "/lib");
  pkgs = import ./pkgs.nix { inherit lib; };
  pcLib = import (sources.process-compose-flake + "/nix/lib.nix") { inherit pkgs lib; };
  serviceModules = {
    ours = ../../generated/default.nix;
    services-flake = sources.services-flake + "/nix/services";
    floor = { };
  }.${modules};
  instances = svc: base: builtins.listToAttrs (map
    (i: {
      name = "${svc}${toString i}";
      value = { enable = true; port = base + i; dataDir = "./data/${svc}${toString i}"; };
    })
    (lib.range 1 n));
  evaluated = pcLib.evalModules {
    name = "eval-stats";
    modules = [
      serviceModules
      (if modules == "floor" then { settings.processes = builtins.fromJSON (builtins.readFile processes); }
      else { services.redis = instances "redis" 10000; services.postgres = instances "postgres" 20000; })
    ];
  };
in
if output == "processes" then evaluated.config.settings.processes
else builtins.stringLength (builtins.toJSON evaluated.config.settings.processes)
