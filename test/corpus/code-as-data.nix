# Source: github.com/juspay/code-as-data, nix/services.nix, commit 2d4c38bb4015cca48038749aca834a64838db3b4
# (read 2026-12-08 from the public code index). A user's services-flake configuration quoted as test data.
# Trimmed: the flake-parts wrapper (`imports = [ inputs.process-compose-flake.flakeModule ]`, `perSystem`).
{ inputs, ... }:
{
  process-compose."code-as-data" = {
    imports = [
      inputs.services-flake.processComposeModules.default
    ];

    services.postgres."code-as-data" = {
      enable = true;
      port = 18908; # Picked from .env
      initialScript.after = # sql
        ''
          CREATE ROLE postgres WITH
            LOGIN SUPERUSER CREATEDB
            CREATEROLE REPLICATION BYPASSRLS
            PASSWORD 'postgres';
        '';
      initialDatabases = [
        {
          name = "code_as_data";
        }
      ];
    };
  };
}
