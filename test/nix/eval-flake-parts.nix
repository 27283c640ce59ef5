# Evaluates a flake-parts flake without flakes: flake-parts' own
# `lib.evalFlakeModule` (what `lib.mkFlake` calls) with
# process-compose-flake's flakeModule, extra flake modules and a perSystem
# module, for `builtins.currentSystem` only, against the pinned upstream
# sources (./sources.nix) and the TEST-ONLY package set (./pkgs.nix), which
# becomes perSystem's `pkgs` (as `lib.mkDefault`, so a perSystem module may
# still set `_module.args.pkgs` itself).
#
#   nix-instantiate --eval --strict --json --read-write-mode --expr '
#     import ./test/nix/eval-flake-parts.nix {
#       flakeModules = [ ];
#       perSystem = { pkgs, ... }: {
#         process-compose.dev = { imports = [ ./generated/default.nix ]; services.redis.r1.enable = true; };
#       };
#       name = "dev";
#     }'
#
# Returns { system; configurations; packages; checks; settings; settingsTest;
# commandDrvs; } where settings/settingsTest/commandDrvs describe
# `process-compose.<name>` (see ./pc-result.nix) and the others list the
# attribute names flake-parts produced.
{ perSystem ? { }
, flakeModules ? [ ]
, name ? "default"
  # Extra flake inputs, merged into `inputs` (e.g. { services-flake = …; }).
, extraInputs ? { }
, pkgsOverlays ? [ ]
, sources ? import ./sources.nix
  # `self.outPath` of the evaluated flake.
, src ? ./.
}:
let
  system = builtins.currentSystem;
  lib = import (sources.nixpkgs-lib + "/lib");
  pkgs = import ./pkgs.nix { inherit lib; overlays = pkgsOverlays; };

  # Stand-ins for what `builtins.getFlake` would give for a source tree.
  asFlake = outPath: outputs: outputs // {
    inherit outPath outputs;
    sourceInfo = { inherit outPath; };
    inputs = { };
    _type = "flake";
  };

  nixpkgs-lib = asFlake sources.nixpkgs-lib { inherit lib; };
  # flake-parts' own flake.nix, called with its one input.
  flake-parts = asFlake sources.flake-parts ((import (sources.flake-parts + "/flake.nix")).outputs {
    self = flake-parts;
    inherit nixpkgs-lib;
  });
  process-compose-flake = asFlake sources.process-compose-flake
    ((import (sources.process-compose-flake + "/flake.nix")).outputs { self = process-compose-flake; });

  inputs = { inherit self nixpkgs-lib flake-parts process-compose-flake; } // extraInputs;
  self = asFlake src eval.config.processedFlake // { inherit inputs; };

  eval = flake-parts.lib.evalFlakeModule { inherit inputs; } {
    systems = [ system ];
    imports = [ process-compose-flake.flakeModule ] ++ flakeModules;
    perSystem = {
      imports = [ perSystem ];
      _module.args.pkgs = lib.mkDefault pkgs;
    };
  };

  perSys = eval.config.allSystems.${system};
  flake = eval.config.processedFlake;
  configurations = lib.attrNames perSys.process-compose;
  pcConfig = perSys.process-compose.${name} or (throw
    "eval-flake-parts.nix: no process-compose.${name}; have: ${lib.concatStringsSep ", " configurations}");
in
{
  inherit system configurations;
  packages = lib.attrNames (flake.packages.${system} or { });
  checks = lib.attrNames (flake.checks.${system} or { });
} // import ./pc-result.nix { inherit lib; } pcConfig
