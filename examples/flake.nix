# The examples as a flake, for machines with nixpkgs:
#
#   nix run ./examples#stack        the whole backend (./stack.nix)
#   nix run ./examples#load-test    the backend plus its load test (./load-test.nix);
#                                   exits 0 when every threshold is met
#
# Without nixpkgs (this repository's CI machines), `pnpm demo [stack|load-test]`
# runs the same modules with the test-only package set.
{
  description = "services-ts examples: a whole development stack, and a load test that ends the run";

  inputs = {
    nixpkgs.url = "github:nixos/nixpkgs/nixpkgs-unstable";
    flake-parts.url = "github:hercules-ci/flake-parts";
    process-compose-flake.url = "github:Platonic-Systems/process-compose-flake";
  };

  outputs = inputs:
    inputs.flake-parts.lib.mkFlake { inherit inputs; } {
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      imports = [ inputs.process-compose-flake.flakeModule ./flake-module.nix ];
    };
}
