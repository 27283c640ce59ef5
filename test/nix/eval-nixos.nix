# Evaluates NixOS modules (generated/nixos/…) against the TEST-ONLY declaration of
# the NixOS options they set (./nixos-options.nix), the pinned nixpkgs lib and the
# TEST-ONLY package set, and renders the units (./render-units.nix).
#
#   nix-instantiate --eval --strict --json --read-write-mode --expr '
#     import ./test/nix/eval-nixos.nix { modules = [ ./generated/nixos/tests/redis.nix ]; }'
#
# Failed `assertions` abort the evaluation with their messages and `warnings` are printed, as
# on NixOS.
#
# Returns { services; targets; users; groups; tmpfiles; unitsDrv; }: each service's unit
# settings as plain data (store paths as strings), and the .drv that builds the
# unit files (build it to realise every store path the units name).
{ modules, sources ? import ./sources.nix }:
let
  lib = import (sources.nixpkgs-lib + "/lib");
  pkgs = import ./pkgs.nix {
    inherit lib;
    overlays = [
      # NixOS's systemd package, which it puts on every service's PATH: the machine's systemctl,
      # journalctl, systemd-notify, … (unless the test package set has one of its own).
      (final: prev: {
        systemd = prev.systemd or (final.runCommand "systemd" { meta.mainProgram = "systemctl"; } ''
          mkdir -p "$out/bin"
          for f in /usr/bin/systemctl /usr/bin/journalctl /usr/bin/systemd-notify /usr/bin/systemd-run /usr/bin/busctl; do
            if [ -x "$f" ]; then ln -s "$f" "$out/bin/"; fi
          done
        '');
      })
    ];
  };
  evaluated = lib.evalModules {
    modules = [ ./nixos-options.nix { _module.args.pkgs = pkgs; } ] ++ modules;
  };
  # As NixOS does: a false assertion aborts with its message, warnings are printed.
  failed = map (a: a.message) (lib.filter (a: !a.assertion) evaluated.config.assertions);
  config =
    if failed != [ ] then throw "\nFailed assertions:\n${lib.concatMapStringsSep "\n" (m: "- ${m}") failed}"
    else lib.foldr (w: c: lib.warn w c) evaluated.config evaluated.config.warnings;
  plain = v: if lib.isList v then map plain v else if lib.isAttrs v && !(lib.isDerivation v) then lib.mapAttrs (_: plain) v else if lib.isBool v || lib.isInt v then v else toString v;
  unit = u: { inherit (u) description requires wants after wantedBy partOf; serviceConfig = plain u.serviceConfig; unitConfig = plain u.unitConfig; environment = plain u.environment; };
in
{
  services = lib.mapAttrs (_: unit) config.systemd.services;
  targets = lib.mapAttrs (_: t: { inherit (t) description wantedBy; }) config.systemd.targets;
  users = lib.mapAttrs (_: u: { inherit (u) isSystemUser group home; }) config.users.users;
  groups = builtins.attrNames config.users.groups;
  tmpfiles = config.systemd.tmpfiles.rules;
  unitsDrv = (import ./render-units.nix { inherit lib pkgs config; }).drvPath;
}
