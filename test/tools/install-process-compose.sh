#!/usr/bin/env bash
# Installs process-compose for the run tier into /opt/services-ts/bin (readable by every user:
# Nix's build users and the unprivileged user the run tier starts stacks as, which root's
# $(go env GOPATH)/bin under a mode-0700 /root is not), from the Go module proxy, once (later
# runs find it there and stop). PROCESS_COMPOSE_BIN names another place.
#
# The issue pins v1.122.0 with `go install …@v1.122.0`, but this workplace's Go
# proxy does not serve that version (403 "not available"), nor v1.120.0's
# dependency glippy v1.2.0. v1.87.0 is the newest release whose whole module
# graph the proxy serves. `go install mod@version` also asks the proxy for the
# module's version list (403 here), so the module is downloaded with
# `go mod download` and built from the module cache with the release's ldflags.
set -euo pipefail

version="${PROCESS_COMPOSE_VERSION:-v1.87.0}"
module=github.com/f1bonacc1/process-compose
bin="${PROCESS_COMPOSE_BIN:-/opt/services-ts/bin/process-compose}"

if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -q "${version#v}"; then
  echo "process-compose ${version} already at ${bin}"
  exit 0
fi

# An earlier install into Go's own bin directory: copied, not rebuilt.
gobin="$(go env GOPATH)/bin/process-compose"
if [ -x "$gobin" ] && "$gobin" version 2>/dev/null | grep -q "${version#v}"; then
  install -D -m 0755 "$gobin" "$bin"
  echo "process-compose ${version} copied from ${gobin} to ${bin}"
  exit 0
fi

echo "building process-compose ${version} (module cache: $(go env GOMODCACHE))"
dir=$(go mod download -json "${module}@${version}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "error: go mod download ${module}@${version} gave no directory" >&2; exit 1; }
pkg=.
[ -f "$dir/main.go" ] || pkg=./src
mkdir -p "$(dirname "$bin")"
(cd "$dir" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X ${module}/src/config.Version=${version}" -o "$bin" "$pkg")
"$bin" version 2>/dev/null | head -n 3
