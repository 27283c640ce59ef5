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
#                                                     must agree, a mix throws);
#                                                     `serviceConfig`'s Type= and
#                                                     Restart= checked
#   systemd.globalEnvironment                         set as NixOS sets it (TZDIR,
#                                                     LOCALE_ARCHIVE)
#   systemd.tmpfiles.rules                            lines of tmpfiles.d/00-nixos.conf
#   users.users.<name>, users.groups.<name>           and the assertions NixOS makes
#   assertions, warnings                              of them (users-groups.nix)
#
# Read at nixpkgs 013635633ffe11f70df1d639f563f21c42c1f778 (nixos/lib/systemd-lib.nix),
# 01f31c2ee7d045a337dff0f858c0ed61dd0f4ddb (nixos/lib/systemd-unit-options.nix) and
# 005ab72f9cf5a75cdcd9ff672fb4a3b03391619f (nixos/modules/config/users-groups.nix).
#
# ./render-units.nix turns the evaluated `config` into unit files.
{ lib, pkgs, config, ... }:
let
  inherit (lib) types mkOption;

  # NixOS's `unitOption`: a value of a [Unit]/[Service] key. When the first definition is a list,
  # every definition must be one and they are concatenated (repeated keys); otherwise all values
  # must be equal. A mix of lists and single values is an error there, so here too.
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge = loc: defs:
      let defs' = lib.filterOverrides defs;
      in
      if lib.isList (lib.head defs').value
      then lib.concatMap
        (def:
          if lib.isList def.value then def.value
          else throw "The definitions for systemd unit options should be either all lists, representing repeatable options, or all non-lists, but for the option ${lib.showOption loc}, the definitions are a mix of list and non-list ${lib.options.showDefs defs'}")
        defs'
      else lib.mergeEqualOption loc defs';
  };

  # NixOS's check of a service's [Service] section (checkService in systemd-unit-options.nix):
  # Type= and Restart= take only the values systemd knows.
  oneOf = key: values: attrs:
    let v = attrs.${key} or null; v' = if builtins.isAttrs v && v ? content then v.content else v; in
    lib.optional (v != null && !(lib.elem v' values)) "Systemd Service field `${key}' cannot have value `${toString v'}'.";
  checkService = attrs:
    let errors = oneOf "Type" [ "exec" "simple" "forking" "oneshot" "dbus" "notify" "idle" ] attrs
      ++ oneOf "Restart" [ "no" "on-success" "on-failure" "on-abnormal" "on-abort" "always" ] attrs;
    in if errors == [ ] then true else builtins.trace (lib.concatStringsSep "\n" errors) false;

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
      serviceConfig = mkOption { type = types.addCheck (types.attrsOf unitOption) checkService; default = { }; description = "Keys of [Service]."; };
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
      restartIfChanged = mkOption { type = types.bool; default = true; description = "Restarted on a switch when changed (false: X-RestartIfChanged=false)."; };
      reloadIfChanged = mkOption { type = types.bool; default = false; description = "Reloaded on a switch when changed (X-ReloadIfChanged=true)."; };
      stopIfChanged = mkOption { type = types.bool; default = true; description = "Stopped, then started, on a switch (false: X-StopIfChanged=false)."; };
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
    systemd.globalEnvironment = mkOption { type = types.attrs; default = { }; description = "Environment variables of every unit (before its own `environment`)."; };
    systemd.tmpfiles.rules = mkOption { type = types.listOf types.str; default = [ ]; description = "Lines of /etc/tmpfiles.d/00-nixos.conf."; };
    users.users = mkOption { type = types.attrsOf (types.submodule userOptions); default = { }; description = "Users."; };
    users.groups = mkOption { type = types.attrsOf (types.submodule groupOptions); default = { }; description = "Groups."; };
    assertions = mkOption { type = types.listOf types.unspecified; default = [ ]; internal = true; description = "Assertions."; };
    warnings = mkOption { type = types.listOf types.str; default = [ ]; internal = true; description = "Warnings."; };
  };

  # What every NixOS system sets for all units: the time zone database (nixos/modules/config/timezone.nix,
  # `${pkgs.tzdata}/share/zoneinfo`) and the locale archive (nixos/modules/config/i18n.nix,
  # `${config.i18n.glibcLocales}/lib/locale/locale-archive`, set while supportedLocales is non-empty, the default).
  config.systemd.globalEnvironment = {
    TZDIR = "${pkgs.tzdata}/share/zoneinfo";
    LOCALE_ARCHIVE = "${pkgs.glibcLocales}/lib/locale/locale-archive";
  };

  # What NixOS's users-groups module asserts of users and groups (./eval-nixos.nix fails on a false one).
  config.assertions =
    let
      withUid = lib.filter (u: u.uid != null) (lib.attrValues config.users.users);
      withGid = lib.filter (g: g.gid != null) (lib.attrValues config.users.groups);
      unique = xs: lib.length (lib.unique xs) == lib.length xs;
      # shadow's is_valid_name, as NixOS's users-groups.nix checks it.
      nameRegex = "[a-zA-Z0-9_.][a-zA-Z0-9_.-]*";
    in
    [
      {
        assertion = unique (map (u: u.uid) withUid) && unique (map (g: g.gid) withGid);
        message = "UIDs and GIDs must be unique!";
      }
    ]
    ++ lib.concatLists (lib.mapAttrsToList
      (name: u:
        let isEffectivelySystemUser = u.isSystemUser || (u.uid != null && u.uid < 1000 && !u.isNormalUser); in
        [
          {
            assertion = builtins.match nameRegex u.name != null;
            message = "The username \"${u.name}\" is not valid, it does not match the regex \"${nameRegex}\".";
          }
          {
            assertion = u.isNormalUser && u.uid != null -> u.uid >= 1000;
            message = "A user cannot have a users.users.${name}.uid set below 1000 and set users.users.${name}.isNormalUser.";
          }
          {
            assertion = isEffectivelySystemUser != u.isNormalUser;
            message = "Exactly one of users.users.${name}.isSystemUser and users.users.${name}.isNormalUser must be set.";
          }
          {
            assertion = u.group != "";
            message = "users.users.${name}.group is unset.";
          }
          {
            assertion = u.group == "" || config.users.groups ? ${u.group};
            message = "The following users have a primary group that is undefined: ${name}";
          }
        ])
      config.users.users);
}
