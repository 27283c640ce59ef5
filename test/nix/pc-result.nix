# Shared by eval.nix and eval-flake-parts.nix: turns one evaluated
# process-compose-flake configuration (the `config` of its submodule) into
# plain JSON-able data.
#
# `settings` is exactly the JSON process-compose-flake writes: its own
# `outputs.settingsFile` is a `pkgs.writeTextFile { text = builtins.toJSON
# (removeNullAndEmptyAttrs config.settings); }`, and the test package set's
# writeTextFile keeps `text` as an attribute, so no build (and no
# import-from-derivation) is needed to read it back.
{ lib
  # Also the .drv of process-compose-flake's own wrapper of the test settings (`outputs.testPackage`,
  # which runs process-compose with `cli.outputs.options`), for runs through it.
, wrapper ? false
}:
pcConfig:
let
  fileJSON = file: builtins.fromJSON (builtins.unsafeDiscardStringContext file.text);

  # The derivation (.drv) a command string depends on, if any: the first
  # context entry that names derivation outputs.
  commandDrv = process:
    let
      attempt = builtins.tryEval process.command;
      ctx = if attempt.success then builtins.getContext attempt.value else { };
      drvs = lib.attrNames (lib.filterAttrs (_: v: v ? outputs) ctx);
    in
    if drvs == [ ] then null else builtins.head drvs;

  # The derivations the process's environment values name (a configuration file passed by its path).
  environmentDrvs = process:
    let
      attempt = builtins.tryEval (lib.concatStringsSep " " (if builtins.isList (process.environment or null) then process.environment else [ ]));
      ctx = if attempt.success then builtins.getContext attempt.value else { };
    in
    lib.attrNames (lib.filterAttrs (_: v: v ? outputs) ctx);

  hasTest = pcConfig.settings.processes ? test;
in
{
  settings = fileJSON pcConfig.outputs.settingsFile;
  settingsTest = if hasTest then fileJSON pcConfig.outputs.settingsTestFile else null;
  commandDrvs = builtins.mapAttrs (_: commandDrv) pcConfig.settings.processes;
  environmentDrvs = builtins.mapAttrs (_: environmentDrvs) pcConfig.settings.processes;
  # The .drv of the settings files: building one realises every store path the
  # settings name (commands, probe programs, config files), as the run tier needs.
  settingsDrv = pcConfig.outputs.settingsFile.drvPath;
  settingsTestDrv = if hasTest then pcConfig.outputs.settingsTestFile.drvPath else null;
  # The options process-compose-flake puts on process-compose's command line (`--no-server`, …).
  cliOptions = pcConfig.cli.outputs.options;
}
// lib.optionalAttrs wrapper {
  testPackageDrv = if hasTest then pcConfig.outputs.testPackage.drvPath else null;
  testPackageName = if hasTest then pcConfig.outputs.testPackage.name else null;
}
