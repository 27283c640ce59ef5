# TEST-ONLY renderer: the unit files (and users) NixOS would write for the
# options declared in ./nixos-options.nix, as one derivation:
#
#   $out/system/<name>.service, <name>.target   unit files
#   $out/system/<target>.wants/<unit>           wantedBy links (also .requires/, .upholds/)
#   $out/sysusers.d/services-ts.conf            users.users / users.groups as sysusers.d lines
#
# Rendering follows NixOS (nixos/lib/systemd-lib.nix) for the fields used:
# [Unit] from unitConfig (the typed requires/after/… already folded in), for
# services a [Service] section with one quoted Environment= line per variable
# (JSON string quoting of NAME=value, sorted by name) then serviceConfig, and
# an [Install] WantedBy= line; a list value is one `Key=value` line per
# element, true/false for booleans, toString for the rest (a derivation
# becomes its store path).  Targets get [Unit] only.  Enabling is done with
# symlinks, as NixOS does, never with `systemctl enable`.
#
# NixOS creates users with its own activation script; systemd-sysusers does
# the same job inside the test container: a system user (isSystemUser) is
# `u name -:group "description" home`, a group `g name -` (or its gid).
{ lib, pkgs, config }:
let
  inherit (lib) concatStrings concatStringsSep concatMapStrings mapAttrsToList optionalString;

  value = x: if x == true then "true" else if x == false then "false" else toString x;
  section = attrs: concatStrings (lib.flatten (mapAttrsToList
    (k: v: map (x: "${k}=${value x}\n") (lib.toList v))
    attrs));

  environmentLines = env: concatMapStrings
    (n: optionalString (env.${n} != null) "Environment=${builtins.toJSON "${n}=${env.${n}}"}\n")
    (lib.attrNames env);

  install = unit: optionalString (unit.wantedBy != [ ]) ''

    [Install]
    WantedBy=${concatStringsSep " " unit.wantedBy}
  '';

  serviceText = s:
    "[Unit]\n" + section s.unitConfig + "\n"
    + "[Service]\n" + environmentLines s.environment
    + optionalString s.reloadIfChanged "X-ReloadIfChanged=true\n"
    + optionalString (!s.reloadIfChanged && !s.restartIfChanged) "X-RestartIfChanged=false\n"
    + optionalString (!s.stopIfChanged) "X-StopIfChanged=false\n"
    + section s.serviceConfig
    + install s;

  targetText = t: "[Unit]\n" + section t.unitConfig + "\n";

  enabled = lib.filterAttrs (_: u: u.enable);
  units =
    lib.mapAttrs' (n: s: lib.nameValuePair "${n}.service" { text = serviceText s; unit = s; }) (enabled config.systemd.services)
    // lib.mapAttrs' (n: t: lib.nameValuePair "${n}.target" { text = targetText t; unit = t; }) (enabled config.systemd.targets);

  q = lib.escapeShellArg;
  unitFiles = lib.mapAttrs (name: u: pkgs.writeText "unit-${lib.replaceStrings [ "@" ":" "\\" ] [ "-" "-" "-" ] name}" u.text) units;

  links = kind: field: concatStrings (mapAttrsToList
    (name: u: concatMapStrings (other: ''
      mkdir -p "$out/system/"${q "${other}.${kind}"}
      ln -sfn ../${q name} "$out/system/"${q "${other}.${kind}"}/
    '') u.unit.${field})
    units);

  gecos = s: builtins.toJSON s;
  sysusers =
    concatStrings (mapAttrsToList (_: g: "g ${g.name} ${if g.gid == null then "-" else toString g.gid}\n") config.users.groups)
    + concatStrings (mapAttrsToList (_: u:
        "u ${u.name} ${if u.uid == null then "-" else toString u.uid}:${u.group} ${gecos (if u.description == "" then "-" else u.description)} ${u.home}\n"
        + concatMapStrings (g: "m ${u.name} ${g}\n") u.extraGroups)
      (lib.filterAttrs (_: u: u.isSystemUser || u.uid != null) config.users.users));
in
pkgs.runCommand "services-ts-systemd-units" { passAsFile = [ "sysusers" ]; inherit sysusers; } ''
  mkdir -p "$out/system" "$out/sysusers.d"
  ${concatStrings (mapAttrsToList (name: f: ''
    cp ${f} "$out/system/"${q name}
  '') unitFiles)}
  ${links "wants" "wantedBy"}
  ${links "requires" "requiredBy"}
  ${links "upholds" "upheldBy"}
  ${concatStrings (mapAttrsToList (name: u: concatMapStrings (alias: ''
    ln -sfn ${q name} "$out/system/"${q alias}
  '') u.unit.aliases) units)}
  cp "$sysusersPath" "$out/sysusers.d/services-ts.conf"
''
