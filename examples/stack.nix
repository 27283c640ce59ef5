# The whole backend in one place, as the seed's nammayatri.nix: a PostgreSQL
# primary with a streaming replica, a six-node Redis Cluster, a Redis cache and
# the notes-app example with its own private PostgreSQL instance.
#
#   nix run ./examples#stack        (with nixpkgs; see ./flake.nix)
#   pnpm demo stack                 (this repository's machines: the test-only package set)
#
# A process-compose-flake module; `load-test.nix` imports it and adds load.
# Ports (all on 127.0.0.1): postgres 5432 (replica 5433), notes-app 8090 (its
# database 5434), redis 6379, redis-cluster 7001–7006. Data: ./data/<instance>.
{ pkgs, ... }:
{
  imports = [ ../generated/default.nix ];

  # services.postgres."db" (the primary), services.postgres."db-replica", pg-basebackup-db.
  services.postgres-with-replica."db" = {
    enable = true;
    port = 5432;
    replicaPort = 5433;
  };

  # Six nodes, 3 masters with a replica each; below Linux's ephemeral port range
  # (the cluster bus is each port + 10000).
  services.redis-cluster."kv" = {
    enable = true;
    nodes = {
      n1.port = 7001;
      n2.port = 7002;
      n3.port = 7003;
      n4.port = 7004;
      n5.port = 7005;
      n6.port = 7006;
    };
  };

  services.redis."cache" = {
    enable = true;
    port = 6379;
  };

  # The app and services.postgres."notes-db", its private database.
  services.notes-app."notes" = {
    enable = true;
    package = pkgs.callPackage ./notes-app { };
    port = 8090;
    dbPort = 5434;
  };
}
