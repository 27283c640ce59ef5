# TEST-ONLY.  NOT NixOS, and never to be used outside tests.
#
# NixOS itself cannot be evaluated where the tests run (nixpkgs is too large to
# bring in without a binary cache), so this module declares the few NixOS
# options the generated NixOS modules (generated/nixos/) set, with the types
# NixOS gives them (nixos/lib/systemd-unit-options.nix, nixos/lib/systemd-lib.nix,
# nixos/modules/config/users-groups.nix), so that the module system merges
# their definitions as on a real NixOS:
#
#   systemd.services.<name>, systemd.targets.<name>   unit options; `serviceConfig`
#                                                     and `unitConfig` of NixOS's
#                                                     `unitOption` type (lists
#                                                     concatenate, other values
#                                                     must agree)
#   users.users.<name>, users.groups.<name>
#   assertions, warnings
#
# ./render-units.nix turns the evaluated `config` into unit files.
{ lib, pkgs, config, ... }:
let
  inherit (lib) types mkOption;

  # NixOS's `unitOption`: a value of a [Unit]/[Service] key. Definitions that are
  # lists are concatenated (repeated keys); other values must all be equal.
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge = loc: defs:
      let defs' = lib.filterOverrides defs;
      in
      if lib.any (def: lib.isList def.value) defs'
      then lib.concatMap (def: lib.toList def.value) defs'
      else lib.mergeEqualOption loc defs';
  };

  # NixOS's unitNameType: a unit name with its kind's suffix (a typo such as a missing
  # ".service" is an evaluation error there, so here too).
  unitName = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";

  unitNames = description: mkOption {
    type = types.listOf unitName;
    default = [ ];
    inherit description;
  };

  # What services and targets share (NixOS's commonUnitOptions, the part used here).
  commonUnitOptions = {
    enable = mkOption { type = types.bool; default = true; description = "Whether the unit is generated."; };
    description = mkOption { type = types.singleLineStr; default = ""; description = "Description= of [Unit]."; };
    requires = unitNames "Requires=";
    wants = unitNames "Wants=";
    after = unitNames "After=";
    before = unitNames "Before=";
    bindsTo = unitNames "BindsTo=";
    partOf = unitNames "PartOf=";
    conflicts = unitNames "Conflicts=";
    wantedBy = unitNames "Units that want this one (a symlink in their .wants/).";
    requiredBy = unitNames "Units that require this one (a symlink in their .requires/).";
    unitConfig = mkOption { type = types.attrsOf unitOption; default = { }; description = "Other keys of [Unit]."; };
  };

  serviceOptions = { name, config, ... }: {
    options = commonUnitOptions // {
      serviceConfig = mkOption { type = types.attrsOf unitOption; default = { }; description = "Keys of [Service]."; };
      environment = mkOption {
        type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
        default = { };
        description = "Environment= entries.";
      };
      path = mkOption {
        type = types.listOf (types.oneOf [ types.package types.str ]);
        default = [ ];
        description = "Packages whose bin/ and sbin/ go on PATH.";
      };
      script = mkOption { type = types.lines; default = ""; description = "Shell commands for ExecStart."; };
      preStart = mkOption { type = types.lines; default = ""; description = "Shell commands for ExecStartPre."; };
      postStart = mkOption { type = types.lines; default = ""; description = "Shell commands for ExecStartPost."; };
      restartIfChanged = mkOption { type = types.bool; default = true; description = "Restarted on a switch when changed."; };
    };
    # NixOS puts these on PATH of every service (stage2ServiceConfig in nixos/lib/systemd-lib.nix),
    # its systemd package last; and PATH is an ordinary `environment` entry it defines from `path`
    # at normal priority, so a module's mkDefault PATH loses to it and a plain one conflicts.
    config.path = lib.mkAfter [ pkgs.coreutils pkgs.findutils pkgs.gnugrep pkgs.gnused pkgs.systemd ];
    config.environment.PATH = lib.mkIf (config.path != [ ])
      "${lib.makeBinPath config.path}:${lib.makeSearchPathOutput "bin" "sbin" config.path}";
  };

  userOptions = { name, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "The user name."; };
      uid = mkOption { type = types.nullOr types.int; default = null; description = "The user id (null: allocated)."; };
      group = mkOption { type = types.str; default = ""; description = "The primary group."; };
      isSystemUser = mkOption { type = types.bool; default = false; description = "A system user."; };
      isNormalUser = mkOption { type = types.bool; default = false; description = "A normal user."; };
      home = mkOption { type = types.passwdEntry types.path; default = "/var/empty"; description = "The home directory."; };
      createHome = mkOption { type = types.bool; default = false; description = "Create the home directory."; };
      description = mkOption { type = types.passwdEntry types.str; default = ""; description = "GECOS."; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; description = "Supplementary groups."; };
    };
  };

  groupOptions = { name, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "The group name."; };
      gid = mkOption { type = types.nullOr types.int; default = null; description = "The group id (null: allocated)."; };
      members = mkOption { type = types.listOf types.str; default = [ ]; description = "Members."; };
    };
  };
in
{
  options = {
    systemd.services = mkOption { type = types.attrsOf (types.submodule serviceOptions); default = { }; description = "Service units."; };
    systemd.targets = mkOption { type = types.attrsOf (types.submodule { options = commonUnitOptions; }); default = { }; description = "Target units."; };
    users.users = mkOption { type = types.attrsOf (types.submodule userOptions); default = { }; description = "Users."; };
    users.groups = mkOption { type = types.attrsOf (types.submodule groupOptions); default = { }; description = "Groups."; };
    assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; internal = true; description = "Assertions."; };
    warnings = mkOption { type = types.listOf types.str; default = [ ]; internal = true; description = "Warnings."; };
  };

  # What NixOS's users-groups module asserts of every user (./eval-nixos.nix fails on a false one).
  config.assertions = lib.concatLists (lib.mapAttrsToList
    (name: u: [
      {
        assertion = u.isSystemUser != u.isNormalUser || u.uid != null;
        message = "Exactly one of users.users.${name}.isSystemUser and users.users.${name}.isNormalUser must be set.";
      }
      {
        assertion = u.group != "";
        message = "users.users.${name}.group is unset.";
      }
    ])
    config.users.users);
}
