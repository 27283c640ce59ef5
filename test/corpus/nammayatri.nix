# Source: github.com/nammayatri/nammayatri, Backend/nix/services/external-services.nix, commit 1cc96131b700f2802e9077e6910af33923b5c556
# (read 2026-12-08 from the public code index).
# A user's services-flake configuration quoted as test data; in nammayatri it is imported into
# `process-compose.<name>` next to `inputs.services-flake.processComposeModules.default`, as here (the
# configuration's name, `external-services`, is the test's).
# Trimmed: `services.postgres-with-replica` and `services.passetto` (modules of nammayatri's own and of
# the passetto flake, not services-flake's) and the `osrm-server` process (a nammayatri package). The
# services below, and the kafka `depends_on`, are as the user wrote them.
{ inputs, ... }:
{
  process-compose."external-services" = { lib, pkgs, ... }: {
    imports = [ inputs.services-flake.processComposeModules.default ];
    services = {
      redis."redis".enable = true;

      redis-cluster."cluster1".enable = true;

      zookeeper."zookeeper".enable = true;

      apache-kafka."kafka" = {
        enable = true;
        port = 29092;
        settings = {
          # Since the available brokers are only 1
          "offsets.topic.replication.factor" = 1;
          "zookeeper.connect" = [ "localhost:2181" ];
        };
      };


      nginx."nginx".enable = true;
    };
    # kafka should start only after zookeeper is healthy
    settings.processes.kafka.depends_on."zookeeper".condition = "process_healthy";
  };
}
