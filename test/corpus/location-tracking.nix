# Source: github.com/nammayatri/location-tracking-service, nix/services.nix, commit 33807b95e64a77847fe9cd1f3536e5c2e58b9126
# (read 2026-12-08 from the public code index). A user's services-flake configuration quoted as test data.
# Trimmed: the flake-parts wrapper and the devShells output.
{ inputs, ... }:
{
  process-compose."lts-services" = {
    imports = [
      inputs.services-flake.processComposeModules.default
    ];
    services.redis."redis1" = {
      enable = true;
      port = 6380;
    };
    services.redis."redis2" = {
      enable = true;
      port = 6381;
    };
    services.zookeeper."zookeeper1".enable = true;
    services.apache-kafka."kafka1".enable = true;
  };
}
