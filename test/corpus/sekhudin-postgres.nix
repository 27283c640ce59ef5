# Source: github.com/Sekhudin/nixman, nix/composes/postgres.nix, commit 076d3dc39f655208ebc822886e46e7358c64fd27
# (read 2026-12-08 from the public code index). A user's services-flake configuration quoted as test data.
# Trimmed: the flake-parts wrapper (`imports = [ inputs.process-compose-flake.flakeModule ]`, `perSystem`);
# the process-compose configuration below is as the user wrote it.
{ inputs, ... }:
{
  process-compose.postgres = {
    imports = [ inputs.services-flake.processComposeModules.default ];

    services.postgres.me = {
      enable = true;
      initialScript.before = ''
        CREATE USER postgres WITH password 'postgres';
        CREATE DATABASE example_db;
      '';
    };
  };
}
