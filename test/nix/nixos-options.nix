# TEST-ONLY.  NOT NixOS, and never to be imported outside tests.
#
# NixOS (nixpkgs/nixos) is far too large to bring onto the test machines, so
# this module declares, by hand, the few NixOS options the generated NixOS
# modules (generated/nixos/) set, typed the way NixOS types them:
#
#   systemd.services.<name>   (nixos/lib/systemd-unit-options.nix + systemd-lib.nix)
#   systemd.targets.<name>
#   users.users.<name>, users.groups.<name>   (nixos/modules/config/users-groups.nix)
#   assertions, warnings      (nixos/modules/misc/assertions.nix)
#
# Only what matters for evaluating and rendering units is modelled: option
# names, types (including the merge rule of NixOS's `unitOption`: a list
# anywhere among the definitions concatenates them all, otherwise the
# definitions must agree), defaults, and the derived `unitConfig` /
# `environment.PATH` / script-to-ExecStart translations NixOS performs.
# Anything a generated module sets that is not declared here is an error, as
# it would be on NixOS for an unknown option.
#
# Evaluate with ./eval-nixos.nix; render with ./render-units.nix.
{ lib, pkgs, config, ... }:
let
  inherit (lib) mkOption types;

  # A unit name as NixOS accepts it in wantedBy/after/… (same pattern).
  unitName = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";

  unitList = description: mkOption { type = types.listOf unitName; default = [ ]; inherit description; };

  # The value type of serviceConfig/unitConfig entries: any value; several
  # definitions of one key either concatenate (when one of them is a list) or
  # must be equal.
  unitValue = lib.mkOptionType {
    name = "systemd option";
    merge = loc: defs:
      let kept = lib.filterOverrides defs; in
      if lib.any (d: builtins.isList d.value) kept
      then lib.concatMap (d: lib.toList d.value) kept
      else lib.mergeEqualOption loc kept;
  };

  # NixOS checks a few serviceConfig values at evaluation time; these two are
  # the ones the generated modules use.
  serviceConfigType =
    let
      allowed = {
        Type = [ "exec" "simple" "forking" "oneshot" "dbus" "notify" "notify-reload" "idle" ];
        Restart = [ "no" "on-success" "on-failure" "on-abnormal" "on-abort" "on-watchdog" "always" ];
      };
      plain = v: if v._type or "" == "override" || v._type or "" == "if" then v.content else v;
      ok = attrs: lib.all (k: !(attrs ? ${k}) || lib.elem (plain attrs.${k}) allowed.${k}) (lib.attrNames allowed);
    in
    types.addCheck (types.attrsOf unitValue) ok;

  # Options shared by every unit kind (services and targets here).
  commonUnit = { name, config, options, ... }: {
    options = {
      enable = mkOption { type = types.bool; default = true; description = "Whether the unit file is installed."; };
      description = mkOption { type = types.singleLineStr; default = ""; description = "Description= of the unit."; };
      documentation = mkOption { type = types.listOf types.str; default = [ ]; description = "Documentation= URLs."; };
      requires = unitList "Requires=: units started with this one; when they fail to start this one does not start.";
      wants = unitList "Wants=: units started with this one, without failing along.";
      upholds = unitList "Upholds=: units kept running while this one runs.";
      after = unitList "After=: ordering, this unit starts after these.";
      before = unitList "Before=: ordering, this unit starts before these.";
      bindsTo = unitList "BindsTo=: like requires, and stopped when those stop.";
      partOf = unitList "PartOf=: stopped and restarted with these.";
      conflicts = unitList "Conflicts=: stopped when these start.";
      requisite = unitList "Requisite=: these must already be active.";
      onFailure = unitList "OnFailure=: started when this unit fails.";
      onSuccess = unitList "OnSuccess=: started when this unit succeeds.";
      wantedBy = unitList "Units whose .wants/ directory links this unit (NixOS's way of enabling it).";
      requiredBy = unitList "Units whose .requires/ directory links this unit.";
      upheldBy = unitList "Units whose .upholds/ directory links this unit.";
      aliases = unitList "Other names of the unit (symlinks).";
      startLimitIntervalSec = mkOption { type = types.int; description = "StartLimitIntervalSec= in seconds."; };
      startLimitBurst = mkOption { type = types.int; description = "StartLimitBurst=: starts allowed in the interval."; };
      unitConfig = mkOption { type = types.attrsOf unitValue; default = { }; description = "Raw [Unit] section entries."; };
    };
    # The typed options above land in [Unit] the way NixOS puts them there.
    config.unitConfig =
      let nonEmpty = key: list: lib.optionalAttrs (list != [ ]) { ${key} = toString list; }; in
      nonEmpty "Requires" config.requires
      // nonEmpty "Wants" config.wants
      // nonEmpty "Upholds" config.upholds
      // nonEmpty "After" config.after
      // nonEmpty "Before" config.before
      // nonEmpty "BindsTo" config.bindsTo
      // nonEmpty "PartOf" config.partOf
      // nonEmpty "Conflicts" config.conflicts
      // nonEmpty "Requisite" config.requisite
      // nonEmpty "Documentation" config.documentation
      // nonEmpty "OnFailure" config.onFailure
      // nonEmpty "OnSuccess" config.onSuccess
      // lib.optionalAttrs (config.description != "") { Description = config.description; }
      // lib.optionalAttrs options.startLimitIntervalSec.isDefined { StartLimitIntervalSec = toString config.startLimitIntervalSec; }
      // lib.optionalAttrs options.startLimitBurst.isDefined { StartLimitBurst = toString config.startLimitBurst; };
  };

  # A shell fragment option turned into an Exec* line, as NixOS does with
  # `script`, `preStart`, …: a script `set -e` + the text, in the store.
  jobScript = unit: suffix: text:
    "${pkgs.writeShellScriptBin "${unit}-${suffix}" "set -e\n\n${text}"}/bin/${unit}-${suffix}";

  serviceUnit = { name, config, ... }: {
    imports = [ commonUnit ];
    options = {
      environment = mkOption {
        type = types.attrsOf (types.nullOr (types.oneOf [ types.str types.path types.package ]));
        default = { };
        description = "Environment= entries; null leaves a variable out.";
      };
      path = mkOption {
        type = types.listOf (types.oneOf [ types.package types.str ]);
        default = [ ];
        description = "Packages whose bin/ and sbin/ make up PATH.";
      };
      serviceConfig = mkOption { type = serviceConfigType; default = { }; description = "Raw [Service] section entries."; };
      script = mkOption { type = types.lines; default = ""; description = "Shell commands run as ExecStart."; };
      scriptArgs = mkOption { type = types.str; default = ""; description = "Arguments after the script in ExecStart."; };
      preStart = mkOption { type = types.lines; default = ""; description = "Shell commands run as ExecStartPre."; };
      postStart = mkOption { type = types.lines; default = ""; description = "Shell commands run as ExecStartPost."; };
      reload = mkOption { type = types.lines; default = ""; description = "Shell commands run as ExecReload."; };
      preStop = mkOption { type = types.lines; default = ""; description = "Shell commands run as ExecStop."; };
      postStop = mkOption { type = types.lines; default = ""; description = "Shell commands run as ExecStopPost."; };
      restartIfChanged = mkOption { type = types.bool; default = true; description = "NixOS activation: restart on change."; };
      reloadIfChanged = mkOption { type = types.bool; default = false; description = "NixOS activation: reload on change."; };
      stopIfChanged = mkOption { type = types.bool; default = true; description = "NixOS activation: stop before switching."; };
      restartTriggers = mkOption { type = types.listOf types.unspecified; default = [ ]; description = "Values whose change restarts the unit."; };
    };
    config = {
      # NixOS's minimal default PATH for stage-2 services, after the unit's own.
      path = lib.mkAfter [ pkgs.coreutils pkgs.findutils pkgs.gnugrep pkgs.gnused pkgs.systemd ];
      environment.PATH = lib.mkIf (config.path != [ ])
        "${lib.makeBinPath config.path}:${lib.makeSearchPathOutput "bin" "sbin" config.path}";
      serviceConfig = lib.mkMerge [
        (lib.mkIf (config.script != "") { ExecStart = jobScript name "start" config.script + " " + config.scriptArgs; })
        (lib.mkIf (config.preStart != "") { ExecStartPre = [ (jobScript name "pre-start" config.preStart) ]; })
        (lib.mkIf (config.postStart != "") { ExecStartPost = [ (jobScript name "post-start" config.postStart) ]; })
        (lib.mkIf (config.reload != "") { ExecReload = jobScript name "reload" config.reload; })
        (lib.mkIf (config.preStop != "") { ExecStop = jobScript name "pre-stop" config.preStop; })
        (lib.mkIf (config.postStop != "") { ExecStopPost = jobScript name "post-stop" config.postStop; })
      ];
    };
  };

  userModule = { name, config, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "Login name."; };
      uid = mkOption { type = types.nullOr types.int; default = null; description = "User id; null: allocated."; };
      isSystemUser = mkOption { type = types.bool; default = false; description = "A system user (uid below 1000, no login)."; };
      isNormalUser = mkOption { type = types.bool; default = false; description = "A human user."; };
      group = mkOption { type = types.str; default = ""; description = "Primary group."; };
      extraGroups = mkOption { type = types.listOf types.str; default = [ ]; description = "Further groups."; };
      description = mkOption { type = types.passwdEntry types.str; default = ""; description = "GECOS field."; };
      home = mkOption { type = types.passwdEntry types.path; default = "/var/empty"; description = "Home directory."; };
      createHome = mkOption { type = types.bool; default = false; description = "Create the home directory."; };
      shell = mkOption { type = types.nullOr (types.either types.shellPackage (types.passwdEntry types.path)); default = null; description = "Login shell; null: nologin."; };
    };
  };

  groupModule = { name, ... }: {
    options = {
      name = mkOption { type = types.str; default = name; description = "Group name."; };
      gid = mkOption { type = types.nullOr types.int; default = null; description = "Group id; null: allocated."; };
      members = mkOption { type = types.listOf (types.passwdEntry types.str); default = [ ]; description = "Members."; };
    };
  };
in
{
  options = {
    systemd.services = mkOption {
      type = types.attrsOf (types.submodule serviceUnit);
      default = { };
      description = "System service units (<name>.service).";
    };
    systemd.targets = mkOption {
      type = types.attrsOf (types.submodule commonUnit);
      default = { };
      description = "System target units (<name>.target).";
    };
    users.users = mkOption { type = types.attrsOf (types.submodule userModule); default = { }; description = "Users."; };
    users.groups = mkOption { type = types.attrsOf (types.submodule groupModule); default = { }; description = "Groups."; };
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
      description = "{ assertion; message; } pairs; a false assertion fails the evaluation with its message.";
    };
    warnings = mkOption { type = types.listOf types.str; default = [ ]; description = "Messages printed at evaluation."; };
  };

  # What NixOS's users-groups module asserts about every user.
  config.assertions = lib.flatten (lib.mapAttrsToList (name: u: [
    {
      assertion = u.isSystemUser != u.isNormalUser || u.uid != null;
      message = "users.users.${name}: exactly one of isSystemUser and isNormalUser must be set (or a uid).";
    }
    {
      assertion = u.group != "";
      message = "users.users.${name}.group is unset.";
    }
    {
      assertion = u.group == "" || config.users.groups ? ${u.group};
      message = "users.users.${name}.group = \"${u.group}\" names no group in users.groups.";
    }
  ]) config.users.users);
}
