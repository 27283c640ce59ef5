#!/usr/bin/env bash
# Builds the servers of test/packages.json that come from the Go module proxy (entries with "go":
# "<module>@<version>"), each once: the binary goes to the entry's "check" path, whose directory
# names the version (/opt/services-ts/go/<attr>/<version>/bin/<program>), so a run that finds it
# builds nothing and a version change builds afresh.
#
# Entry fields: "go" (module@version), "goPackage" (the main package inside the module, "." when
# absent), "goLdflags" (extra -ldflags, the version stamp upstream's release builds set), "goTags"
# (build tags). As in install-process-compose.sh, the module is fetched with `go mod download`
# (`go install mod@version` would also ask the proxy for version lists, which it may refuse) and
# built inside the module cache with CGO_ENABLED=0, at nice 10: CI's machine has 2 cores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

node -e '
  const { packages } = require("./test/packages.json");
  for (const [attr, p] of Object.entries(packages)) {
    if (!p.go) continue;
    // Separated by US (\x1f), which, unlike a tab, read does not merge when a field is empty:
    // attr, module@version, package, ldflags, tags, check.
    console.log([attr, p.go, p.goPackage ?? ".", p.goLdflags ?? "", p.goTags ?? "", p.check].join("\x1f"));
  }
' | while IFS=$'\x1f' read -r attr spec pkg ldflags tags check; do
  [ -n "$check" ] || { echo "error: test/packages.json entry $attr has \"go\" but no \"check\" path" >&2; exit 1; }
  if [ -x "$check" ]; then
    echo "already built: $spec ($check)"
    continue
  fi
  echo "building $spec ($pkg) for $attr"
  start=$(date +%s)
  dir=$(go mod download -json "$spec" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || { echo "error: go mod download $spec gave no directory" >&2; exit 1; }
  mkdir -p "$(dirname "$check")"
  (cd "$dir" && GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 10 go build -trimpath \
    -tags "$tags" -ldflags "-s -w $ldflags" -o "$check.part" "$pkg")
  mv "$check.part" "$check"
  echo "built $check in $(($(date +%s) - start)) s"
done
