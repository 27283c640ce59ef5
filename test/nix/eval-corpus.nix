# Evaluates one configuration of the corpus (test/corpus/<name>.nix, a users' services-flake
# configuration quoted as test data) with either services-flake's modules (the pinned source) or
# this project's (generated/default.nix), in the pinned process-compose-flake and the TEST-ONLY
# package set. Used by test/corpus.test.ts.
#
#   nix-instantiate --eval --strict --json --read-write-mode --expr '
#     import ./test/nix/eval-corpus.nix { file = ./test/corpus/evap.nix; modules = "ours"; }'
#
# A corpus file is a function of the flake's `{ inputs, pkgs, lib, ... }` returning
# `{ process-compose.<name> = <module>; }`, the module importing
# `inputs.services-flake.processComposeModules.default` as the user wrote it: here that input is
# services-flake's own module or ours. `inputs.self` is test/corpus/<name>/ (stand-ins for the
# files a configuration reads). `extraModules` are added to the configuration (the run tier's
# `test` process).
#
# Returns pc-result.nix's { settings; settingsTest; commandDrvs; settingsDrv; settingsTestDrv; }
# and `name` (the configuration's), `enabledServices` (those with an enabled instance) and `cli` (process-compose-flake's `cli.options`, the command
# line it makes of them, and the environment prefix).
{ file
, modules
, extraModules ? [ ]
  # Overlays over the test package set (the run tier's package choices, named in test/corpus.test.ts).
, overlays ? [ ]
, sources ? import ./sources.nix
}:
let
  lib = import (sources.nixpkgs-lib + "/lib");
  # The corpus names versioned attributes nixpkgs has; the test package set has one of each server.
  aliases = _final: prev: { postgresql_17 = prev.postgresql; };
  # What services-flake's modules and the corpus read of nixpkgs beyond what the test package set has
  # (test-only, minimal):
  # `pkgs.formats.<format> { }` (`type` and `generate`), and a package's `passthru` attribute set
  # (apache-kafka's `package.passthru.jre`), `buildEnv` (zookeeper's configuration directory) as the
  # test package set's symlinkJoin.
  nixpkgsCompat = final: prev: {
    # nixpkgs' nginx has nginx's own configuration files in conf/ (fastcgi.conf, fastcgi_params, …),
    # which configurations include (static-deploy: `include ${pkgs.nginx}/conf/fastcgi.conf`); Debian
    # installs them in /etc/nginx.
    nginx = final.symlinkJoin {
      name = "nginx";
      inherit (prev.nginx) meta;
      paths = [
        prev.nginx
        (final.runCommand "nginx-conf" { } ''
          mkdir -p "$out/conf"
          for f in fastcgi.conf fastcgi_params scgi_params uwsgi_params mime.types koi-utf koi-win win-utf; do
            cp "/etc/nginx/$f" "$out/conf/$f"
          done
        '')
      ];
    };
    buildEnv = { name, paths, ... }: final.symlinkJoin { inherit name paths; };
    apacheKafka = prev.apacheKafka // { passthru = { jre = prev.apacheKafka.jre or final.jre_headless; }; };
    formats =
      let
        format = toText: {
          type = lib.types.attrsOf lib.types.anything;
          generate = name: value: final.writeText name (toText value);
        };
      in
      {
        ini = { listsAsDuplicateKeys ? false, ... }: format (lib.generators.toINI { inherit listsAsDuplicateKeys; });
        javaProperties = { ... }: format (v: lib.concatStrings (lib.mapAttrsToList (k: x: "${k}=${toString x}\n") v));
        json = { ... }: format builtins.toJSON;
        yaml = { ... }: format builtins.toJSON;
      };
  };
  pkgs = import ./pkgs.nix { inherit lib; overlays = [ aliases nixpkgsCompat ] ++ overlays; };
  pcLib = import (sources.process-compose-flake + "/nix/lib.nix") { inherit pkgs lib; };
  servicesModule = {
    ours = ../../generated/default.nix;
    services-flake = sources.services-flake + "/nix/process-compose";
  }.${modules};
  stem = lib.removeSuffix ".nix" (baseNameOf file);
  inputs = {
    services-flake.processComposeModules.default = servicesModule;
    self = dirOf file + "/${stem}";
  };
  configurations = (import file { inherit inputs pkgs lib; }).process-compose;
  names = builtins.attrNames configurations;
  name =
    if builtins.length names == 1 then builtins.head names
    else throw "${toString file}: expected one process-compose configuration, got ${toString names}";
  evaluated = pcLib.evalModules { inherit name; modules = [ configurations.${name} ] ++ extraModules; };
  cfg = evaluated.config;
in
import ./pc-result.nix { inherit lib; } cfg // {
  inherit name;
  enabledServices = builtins.filter
    (svc:
      let
        r = builtins.tryEval (lib.any (i: builtins.isAttrs i && (i.enable or false) == true)
          (builtins.attrValues cfg.services.${svc}));
      in
      r.success && r.value)
    # services-flake's `services.outputs` (its devShell) is no service.
    (builtins.filter (n: n != "outputs") (builtins.attrNames cfg.services));
  cli = {
    options = lib.filterAttrs (_: v: v != null) cfg.cli.options;
    commandLine = cfg.cli.outputs.options;
    environment = cfg.cli.outputs.environment;
  };
}
