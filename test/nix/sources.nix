# Upstream Nix sources pinned by ./upstream.lock.json, as store paths.
#
#   (import ./sources.nix).nixpkgs-lib   ==> "/nix/store/…-source"
#
# Each entry is a plain `builtins.fetchTarball { url; sha256; }`. No network is
# needed once `pnpm seed-upstream` has added the same trees to the local store:
# fetchTarball finds the fixed-output path `source` with that NAR hash and
# returns it without downloading anything.
let
  lock = builtins.fromJSON (builtins.readFile ./upstream.lock.json);
in
builtins.mapAttrs
  (_name: entry: builtins.fetchTarball {
    name = "source";
    inherit (entry) url sha256;
  })
  lock
