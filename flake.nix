{
  description = "services-ts: typed, multi-instance development services (PostgreSQL, Redis, …) for process-compose-flake, compiled from TypeScript";

  # No inputs: the generated modules need only what the importing flake provides
  # (nixpkgs' lib and pkgs through process-compose-flake).
  outputs = _: {
    # process-compose-flake modules: `default` has every service; one per service too.
    processComposeModules = import ./generated/modules.nix;

    # flake-parts module: every perSystem `process-compose.<name>` gains the services.
    flakeModule = ./generated/flake-module.nix;
    flakeModules.default = ./generated/flake-module.nix;

    # NixOS modules: the same services as systemd units, instances under
    # `services-ts.<service>.<name>`; `default` has every service, one per service too.
    nixosModules = import ./generated/nixos/modules.nix;
  };
}
