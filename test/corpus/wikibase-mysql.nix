# Source: github.com/rti/wikibase-flake, flake.nix, commit 1955fc9b6048d0e26d6d52b037f065a74e34a412
# (read 2026-12-08 from the public code index). A user's services-flake configuration quoted as test data.
# Trimmed: the flake inputs, flake-parts wrapper, devShells and packages.
{ inputs, ... }:
{
  process-compose."default" = { config, ... }: {
    imports = [ inputs.services-flake.processComposeModules.default ];
    services.mysql."mysql1" = {
      enable = true;
      # settings.mysqld.port = 3307;
      initialDatabases = [{ 
        name = "my_wiki";
      }];
      ensureUsers = [{
        name = "wiki"; 
        password = "wiki";
        ensurePermissions = {
            "my_wiki.*" = "ALL PRIVILEGES";
        };
      }];
    };
  };
}
