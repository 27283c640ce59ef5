# A whole development stack, written as a user writes it: postgres-with-replica,
# redis-cluster, redis and two plain postgres instances in one process-compose
# configuration. The run tier brings it up (twice, as a developer restarts it)
# and the `test` process checks every server answers.
{ config, pkgs, ... }:
{
  imports = [ ../../generated/default.nix ];

  services.postgres-with-replica."main" = {
    enable = true;
    port = 5461;
    replicaPort = 5462;
    extraMasterDBSettings.initialDatabases = [ { name = "app"; } ];
  };
  services.redis-cluster."cluster" = {
    enable = true;
    nodes = {
      n1.port = 22001;
      n2.port = 22002;
      n3.port = 22003;
      n4.port = 22004;
      n5.port = 22005;
      n6.port = 22006;
    };
  };
  services.redis."cache" = {
    enable = true;
    port = 6471;
  };
  services.postgres."analytics" = {
    enable = true;
    port = 5463;
    ensureDatabases = [ "events" ];
  };
  services.postgres."scratch" = {
    enable = true;
    port = 5464;
  };

  settings.processes.test = {
    command = pkgs.writeShellApplication {
      name = "dev-stack-test";
      runtimeInputs = [ config.services.postgres."analytics".package config.services.redis."cache".package pkgs.gnugrep ];
      text = ''
        psql -X -At -h 127.0.0.1 -p 5461 -d app -c "SELECT 1" | grep -x 1
        psql -X -At -h 127.0.0.1 -p 5462 -d app -c "SELECT pg_is_in_recovery()" | grep -x t
        psql -X -At -h 127.0.0.1 -p 5463 -d events -c "SELECT current_database()" | grep -x events
        psql -X -At -h 127.0.0.1 -p 5464 -d postgres -c "SELECT 1" | grep -x 1
        redis-cli -p 6471 ping | grep -x PONG
        redis-cli -p 22001 cluster info | grep -q '^cluster_state:ok'
        redis-cli -c -p 22002 set stack ok | grep -x OK
        test "$(redis-cli -c -p 22005 get stack)" = ok
      '';
    };
    depends_on = {
      "main".condition = "process_healthy";
      "main-replica".condition = "process_healthy";
      "cluster-cluster-create".condition = "process_completed_successfully";
      "cache".condition = "process_healthy";
      "analytics".condition = "process_healthy";
      "scratch".condition = "process_healthy";
    };
  };
}
