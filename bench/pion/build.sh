#!/usr/bin/env bash
# Builds the capacity benchmark's media generator (bench/pion/main.go) offline, from Debian's
# Go toolchain and pion packages (installed by `bash scripts/setup-system.sh --bench`):
# GOPATH mode (GO111MODULE=off) against /usr/share/gocode, where Debian's golang-*-dev
# packages put their sources; no module download. Debian installs github.com/pion/webrtc/v3
# as .../pion/webrtc (no /v3 directory): Go's "minimal module compatibility" resolves the /v3
# import there, but only for "new" code (a go.mod beside it) that is itself inside a GOPATH
# tree, so main.go is copied into a temporary one, placed before Debian's, with a go.mod. Prints the binary's path. Rebuilds only when
# main.go changed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin/meet-pion-gen"
if ! command -v go >/dev/null; then
  echo "go is not installed: run 'bash scripts/setup-system.sh --bench' (as root) first" >&2
  exit 1
fi
if [[ ! -x $bin || $here/main.go -nt $bin ]]; then
  mkdir -p "$here/bin"
  gopath="$(mktemp -d)"
  trap 'rm -rf "$gopath"' EXIT
  mkdir -p "$gopath/src/meet-pion-gen"
  cp "$here/main.go" "$gopath/src/meet-pion-gen/"
  printf 'module meet-pion-gen\n\ngo 1.19\n' >"$gopath/src/meet-pion-gen/go.mod"
  (cd "$gopath/src/meet-pion-gen" && GOPATH="$gopath:/usr/share/gocode" GO111MODULE=off GOFLAGS= \
    GOPROXY=off go build -o "$bin" .) >&2
fi
echo "$bin"
