# Source: github.com/mbarneyjr/mrgo, nix/services.nix, commit a21a4930a4b1c5fcd84858488eca6fc0ebca07d2
# (read 2026-12-08 from the public code index). A user's services-flake configuration quoted as test data;
# the repository's flake imports services-flake's processComposeModules.default next to this module
# (the configuration's name, `services` here, is the test's: the flake that names it is not quoted).
# Trimmed: the user's own processes (npm-ci, database-migrations, drizzle-studio, api: npm scripts of the
# mrgo repository; database-migrations waited for `database` healthy).
{ inputs, ... }:
{
  process-compose.services = {
    imports = [ inputs.services-flake.processComposeModules.default ];

    services.postgres.database = {
      enable = true;
      dataDir = "data.local/database";
      superuser = "postgres";
    };
  };
}
