# Evaluates a process-compose-flake configuration without flakes, against the
# pinned upstream sources (./sources.nix) and the TEST-ONLY package set
# (./pkgs.nix).
#
#   nix-instantiate --eval --strict --json --read-write-mode --expr '
#     import ./test/nix/eval.nix {
#       modules = [ ./generated/default.nix { services.redis.r1.enable = true; } ];
#     }'
#
# Returns { settings; settingsTest; commandDrvs; } (see ./pc-result.nix).
# `--read-write-mode` writes the derivations met during evaluation to the
# store, so the paths in `commandDrvs` can then be built with nix-store -r.
{ modules
  # Name of the configuration (process-compose-flake's `name` module argument).
, name ? "process-compose"
  # Overlays (final: prev: { … }) over the test package set.
, pkgsOverlays ? [ ]
  # Also process-compose-flake's wrapper of the test settings (see ./pc-result.nix).
, wrapper ? false
, sources ? import ./sources.nix
}:
let
  lib = import (sources.nixpkgs-lib + "/lib");
  pkgs = import ./pkgs.nix { inherit lib; overlays = pkgsOverlays; };
  pcLib = import (sources.process-compose-flake + "/nix/lib.nix") { inherit pkgs lib; };
  evaluated = pcLib.evalModules { inherit name modules; };
in
import ./pc-result.nix { inherit lib wrapper; } evaluated.config
