# Source: github.com/e-valuation/EvaP, nix/services.nix, commit 0553fc33213a1c0430155cacdc884aff58458f6f
# (read 2026-12-08 from the public code index). A user's services-flake configuration quoted as test data.
# The file defines the modules of three configurations; EvaP's flake.nix imports
# services-flake's processComposeModules.default into each. Kept: `databases`, as written, with that import
# added. Trimmed: `devenv-setup` and `devenv` (npm and Django processes of the EvaP repository).
{ inputs, ... }:
{
  process-compose.databases = {
    imports = [ inputs.services-flake.processComposeModules.default ];

    cli.options = {
      no-server = false;
      unix-socket = "process-compose.socket";
    };

    services = {
      redis."r1" = {
        enable = true;
        port = 0; # disable listening via TCP
        unixSocket = "../redis.socket";
        unixSocketPerm = 777;
        extraConfig = ''
          locale-collate "C"
        '';
      };
      postgres."pg1" = {
        enable = true;
        superuser = "postgres";
        listen_addresses = ""; # disable listening via TCP
        socketDir = "data";
        createDatabase = false;
        initialScript.before = ''
          DROP USER IF EXISTS evap;
          DROP DATABASE IF EXISTS evap;
          CREATE USER evap PASSWORD 'evap' CREATEDB;
          CREATE DATABASE evap OWNER evap;
        '';
      };
    };
  };
}
