# Source: github.com/juspay/hyperswitch, nix/modules/flake/services.nix, commit da3a58e88df57f86f0a11dd5604c86b4dfeed021
# (read 2026-12-08 from the public code index). A user's services-flake configuration quoted as test data.
# Trimmed: the flake-parts wrapper. `inputs.self` is test/corpus/hyperswitch/, whose
# config/development.toml is a minimal stand-in (written for this test) for hyperswitch's file.
{ inputs, lib, ... }:
{
  /* For running external services
      - Redis
      - Postgres
  */
  process-compose."ext-services" =
    let
      developmentToml = lib.importTOML (inputs.self + /config/development.toml);
      databaseName = developmentToml.master_database.dbname;
      databaseUser = developmentToml.master_database.username;
      databasePass = developmentToml.master_database.password;
    in
    {
      imports = [ inputs.services-flake.processComposeModules.default ];
      services.redis."r1".enable = true;

      /* Postgres
          - Create an user and grant all privileges
          - Create a database
      */
      services.postgres."p1" = {
        enable = true;
        initialScript = {
          before = "CREATE USER ${databaseUser} WITH PASSWORD '${databasePass}' SUPERUSER CREATEDB CREATEROLE INHERIT LOGIN;";
          after = "GRANT ALL PRIVILEGES ON DATABASE ${databaseName} to ${databaseUser};";
        };
        initialDatabases = [
          { name = databaseName; }
        ];
      };
    };
}
