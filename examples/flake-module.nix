# The examples as process-compose-flake configurations (a flake-parts module):
# `process-compose.stack` and `process-compose.load-test`, each a package and an
# app of the flake. ./flake.nix imports it; the tests evaluate it with
# flake-parts too, so `nix run ./examples#load-test` runs what they run.
{
  perSystem = { ... }: {
    process-compose."stack".imports = [ ./stack.nix ];
    process-compose."load-test".imports = [ ./load-test.nix ];
  };
}
