# Source: github.com/jhh/puka, nix/process-compose.nix, commit f69ca55279e1200ee9a557b6b965d2a87634e9df
# (read 2026-12-08 from the public code index). A user's services-flake configuration quoted as test data.
# Trimmed: the flake-parts wrapper, and the user's own processes (migrate, runserver, watch: `just`
# recipes of the puka repository; mailpit: a package the test package set does not have).
# `pkgs.postgresql_17` is the test package set's PostgreSQL (test/nix/eval-corpus.nix aliases it).
{ inputs, lib, pkgs, ... }:
{
  # `puka-dev` runs the development services; see docs/process-compose-dev-services.md.
  process-compose.puka-dev =
    { ... }:
    {
      imports = [ inputs.services-flake.processComposeModules.default ];

      cli = {
        # Services use paths relative to the repository root.
        preHook = ''
          cd "$(${lib.getExe pkgs.git} rev-parse --show-toplevel)"
          mkdir -p .run
        '';
        # services-flake defaults to --no-server; detached mode needs it.
        options.no-server = lib.mkForce false;
        environment = {
          PC_SOCKET_PATH = ".run/process-compose.sock";
          PC_LOG_FILE = ".run/process-compose.log";
          PC_ORDERED_SHUTDOWN = true;
        };
      };

      services.postgres.postgres = {
        enable = true;
        package = pkgs.postgresql_17;
        dataDir = ".db";
        socketDir = ".db";
        superuser = "postgres";
        port = 5432;
        initialDatabases = [ { name = "puka"; } ];
        # Only applied on a fresh initdb; existing data directories
        # already carry these settings.
        initialScript.after = pkgs.writeText "puka-db.sql" ''
          ALTER DATABASE puka SET client_encoding TO 'UTF8';
          ALTER DATABASE puka SET default_transaction_isolation TO 'read committed';
          ALTER DATABASE puka SET timezone TO 'UTC';
        '';
      };
    };
}
