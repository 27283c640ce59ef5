# TEST-ONLY renderer: the evaluated `config` of ./nixos-options.nix as unit files,
# following NixOS's rendering (nixos/lib/systemd-lib.nix: serviceToUnit,
# targetToUnit, attrsToSection, generateUnits) for the fields declared there:
#
#   [Unit]     Description=, Requires=/Wants=/After=/Before=/BindsTo=/PartOf=/Conflicts=
#              (space-separated), then unitConfig
#   [Service]  Environment="NAME=value" (JSON-quoted, by name, systemd.globalEnvironment's
#              then the unit's own; PATH from `path`), X-RestartIfChanged=false and the like,
#              then serviceConfig
#   [Install]  WantedBy= (units with wantedBy: NixOS writes it and the .wants/ links both)
#   values     true/false for booleans, a list as one `Key=value` line per element
#   wantedBy   a symlink <target>.wants/<unit> -> ../<unit>
#
# systemd.tmpfiles.rules become tmpfiles.d/00-nixos.conf, as NixOS's
# nixos/modules/system/boot/systemd/tmpfiles.nix writes them.
#
# Users and groups become a sysusers.d file (systemd-sysusers creates them at boot;
# NixOS creates them in its activation script instead, with the same result here).
#
#   import ./render-units.nix { inherit lib pkgs config; }
#   ==> a derivation: $out/system/*.service, *.target, *.wants/; $out/sysusers.d/services-ts.conf;
#       $out/tmpfiles.d/00-nixos.conf
{ lib, pkgs, config }:
let
  toOption = x: if x == true then "true" else if x == false then "false" else toString x;
  attrsToSection = attrs: lib.concatStrings (lib.concatLists (lib.mapAttrsToList
    (key: value: map (x: "${key}=${toOption x}\n") (lib.toList value))
    attrs));

  # The dependency lists of a unit, as NixOS puts them in [Unit].
  unitSection = unit: lib.filterAttrs (_: v: v != "") {
    Description = unit.description;
    Requires = toString unit.requires;
    Wants = toString unit.wants;
    After = toString unit.after;
    Before = toString unit.before;
    BindsTo = toString unit.bindsTo;
    PartOf = toString unit.partOf;
    Conflicts = toString unit.conflicts;
  } // unit.unitConfig;

  # In name order, PATH among the others (nixos-options.nix defines it from `path`, as NixOS does).
  environmentLines = service:
    lib.concatStrings (lib.mapAttrsToList (n: v: "Environment=${builtins.toJSON "${n}=${toString v}"}\n")
      (lib.filterAttrs (_: v: v != null) (config.systemd.globalEnvironment // service.environment)));

  # What switch-to-configuration reads: NixOS writes these after the environment.
  switchLines = service:
    if service.reloadIfChanged then "X-ReloadIfChanged=true\n"
    else lib.optionalString (!service.restartIfChanged) "X-RestartIfChanged=false\n"
    + lib.optionalString (!service.stopIfChanged) "X-StopIfChanged=false\n";

  # NixOS writes [Install] for a service that has wantedBy (the .wants/ links do the enabling).
  installSection = unit: lib.optionalString (unit.wantedBy != [ ]) ''

    [Install]
    WantedBy=${lib.concatStringsSep " " unit.wantedBy}
  '';

  serviceText = service: ''
    [Unit]
    ${attrsToSection (unitSection service)}
    [Service]
    ${environmentLines service}${switchLines service}${attrsToSection service.serviceConfig}'' + installSection service;

  targetText = target: ''
    [Unit]
    ${attrsToSection (unitSection target)}'';

  services = lib.filterAttrs (_: s: s.enable) config.systemd.services;
  targets = lib.filterAttrs (_: t: t.enable) config.systemd.targets;
  units =
    lib.mapAttrs' (n: s: lib.nameValuePair "${n}.service" { text = serviceText s; inherit (s) wantedBy requiredBy; }) services
    // lib.mapAttrs' (n: t: lib.nameValuePair "${n}.target" { text = targetText t; inherit (t) wantedBy requiredBy; }) targets;

  sysusers = lib.concatStrings (
    lib.mapAttrsToList (_: g: "g ${g.name} ${if g.gid == null then "-" else toString g.gid}\n") config.users.groups
    ++ lib.mapAttrsToList
      (_: u: "u ${u.name} ${if u.uid == null then "-" else toString u.uid}:${u.group} ${builtins.toJSON u.description} ${u.home}\n")
      (lib.filterAttrs (_: u: u.isSystemUser) config.users.users)
  );

  install = name: unit: ''
    cp ${pkgs.writeText "unit" unit.text} "$out/system/"${lib.escapeShellArg name}
  '' + lib.concatMapStrings
    (target: ''
      mkdir -p "$out/system/"${lib.escapeShellArg "${target}.wants"}
      ln -s ../${lib.escapeShellArg name} "$out/system/"${lib.escapeShellArg "${target}.wants/${name}"}
    '')
    unit.wantedBy
  + lib.concatMapStrings
    (target: ''
      mkdir -p "$out/system/"${lib.escapeShellArg "${target}.requires"}
      ln -s ../${lib.escapeShellArg name} "$out/system/"${lib.escapeShellArg "${target}.requires/${name}"}
    '')
    unit.requiredBy;
in
pkgs.runCommand "services-ts-systemd-units" { } ''
  mkdir -p "$out/system" "$out/sysusers.d" "$out/tmpfiles.d"
  cp ${pkgs.writeText "tmpfiles" (lib.concatMapStrings (rule: "${rule}\n") config.systemd.tmpfiles.rules)} "$out/tmpfiles.d/00-nixos.conf"
  ${lib.concatStrings (lib.mapAttrsToList install units)}
  cp ${pkgs.writeText "sysusers" sysusers} "$out/sysusers.d/services-ts.conf"
''
