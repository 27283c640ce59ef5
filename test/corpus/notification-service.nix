# Source: github.com/nammayatri/notification-service, nix/services.nix, commit 091c7bf94cb7053c40a5bee9e57713d34a78d1a8
# (read 2026-12-08 from the public code index). A user's services-flake configuration quoted as test data.
# Trimmed: the flake-parts wrapper and the devShells output.
{ inputs, ... }:
{
  process-compose."notification-services" = {
    imports = [
      inputs.services-flake.processComposeModules.default
    ];
    services.redis-cluster."redis" = {
      enable = true;
    };
    services.zookeeper."zookeeper".enable = true;
    services.apache-kafka."kafka".enable = true;
  };
}
