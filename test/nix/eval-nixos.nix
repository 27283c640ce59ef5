# TEST-ONLY: evaluates NixOS modules (generated/nixos/…) against the hand-made
# declaration of the NixOS options they set (./nixos-options.nix), with the
# pinned nixpkgs lib's module system and the test package set (./pkgs.nix) as
# `pkgs`, and renders the result to unit files (./render-units.nix).
#
#   nix-build --expr 'import ./test/nix/eval-nixos.nix {
#     modules = [ ./generated/nixos/tests/redis.nix ];
#   }' -A rendered
#
# Failed `assertions` abort the evaluation with their messages, `warnings` are
# traced, as on NixOS.
{ modules
, pkgsOverlays ? [ ]
, sources ? import ./sources.nix
}:
let
  lib = import (sources.nixpkgs-lib + "/lib");
  pkgs = import ./pkgs.nix {
    inherit lib;
    overlays = [
      # NixOS puts its systemd package on every service's PATH; here the
      # host's systemctl, journalctl, systemd-notify, … stand in for it.
      (final: prev: {
        systemd = prev.systemd or (final.runCommand "systemd" { meta.mainProgram = "systemctl"; } ''
          mkdir -p "$out/bin"
          for f in /usr/bin/systemctl /usr/bin/journalctl /usr/bin/systemd-notify /usr/bin/systemd-run /usr/bin/busctl; do
            [ -x "$f" ] && ln -s "$f" "$out/bin/"
          done
        '');
      })
    ] ++ pkgsOverlays;
  };
  evaluated = lib.evalModules {
    modules = [ ./nixos-options.nix { _module.args.pkgs = pkgs; } ] ++ modules;
  };
  inherit (evaluated) config;
  failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  checked =
    if failed != [ ] then
      throw "\nFailed assertions:\n${lib.concatMapStringsSep "\n" (m: "- ${m}") failed}"
    else lib.foldr (w: x: builtins.trace "warning: ${w}" x) config config.warnings;
in
{
  config = checked;
  rendered = import ./render-units.nix { inherit lib pkgs; config = checked; };
  # Names of the enabled units, for the harness (`systemctl show`, `verify`).
  services = lib.attrNames (lib.filterAttrs (_: s: s.enable) checked.systemd.services);
  targets = lib.attrNames (lib.filterAttrs (_: t: t.enable) checked.systemd.targets);
}
