#!/usr/bin/env bash
# Obtains a verified mediasoup-worker binary and prints its path on the last line of stdout.
#
# Order:
#   1. MEDIASOUP_WORKER_BIN from the environment, if set (verified, never rebuilt).
#   2. The cache ($MEET_CACHE_DIR/worker/<key>/mediasoup-worker), key = mediasoup version +
#      OpenSSL version + hash of the build recipe (RECIPE below, the meson patch, srtp shim).
#   3. mediasoup's own prebuilt download (its npm postinstall), where the network allows.
#      Skipped with MEET_WORKER_PREBUILT=0.
#   4. A build from the sources inside the mediasoup npm package against Debian's libraries
#      and a static OpenSSL built from the upstream tarball (Debian's libssl3 crashes the
#      worker on Chromium's DTLS 1.3 ClientHello; see docs/worker-build.md).
# Every candidate is verified (the binary starts and answers a request) before use.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg_dir="$(dirname "$here")"
cache_root="${MEET_CACHE_DIR:-$HOME/.cache/meet}"
jobs="${MEET_BUILD_JOBS:-$(nproc)}"

OPENSSL_VERSION=3.0.20
OPENSSL_DEB_VERSION=3.0.20-1~deb12u2
OPENSSL_SHA256=c80a01dfc70ece4dc21168932c37739042d404d46ccc81a5986dd75314ecda6f

log() { printf '[worker %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

verify() { MEDIASOUP_DIR="$ms_dir" node "$here/verify-worker.mjs" "$1" >&2; }

# Runs a long command with its output in a log file, printing a heartbeat with the log's
# last line every 15 s so that the user sees progress.
run_logged() {
  local name="$1" logfile="$2"; shift 2
  log "$name (log: $logfile)"
  "$@" >"$logfile" 2>&1 &
  local pid=$! start=$SECONDS
  local next=$((SECONDS + 15))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if ((SECONDS >= next)) && kill -0 "$pid" 2>/dev/null; then
      log "  $name: $((SECONDS - start))s, $(tail -n 1 "$logfile" | cut -c1-100)"
      next=$((SECONDS + 15))
    fi
  done
  if ! wait "$pid"; then
    tail -n 40 "$logfile" >&2
    die "$name failed (full log: $logfile)"
  fi
  log "$name done in $((SECONDS - start))s"
}

ms_dir="${MEDIASOUP_DIR:-$(cd "$pkg_dir" && node -p "require('path').resolve(require.resolve('mediasoup'), '../../..')")}"
ms_version="$(node -p "require('$ms_dir/package.json').version")"

# 1. Explicit binary.
if [[ -n "${MEDIASOUP_WORKER_BIN:-}" ]]; then
  verify "$MEDIASOUP_WORKER_BIN" || die "MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN does not run"
  echo "$MEDIASOUP_WORKER_BIN"; exit 0
fi

# Bump RECIPE when the meson options or build steps below change.
# 2: mediasoup 3.27 (no usrsctp/liburing; unordered_dense shim; libsrtp3 policy API shim).
RECIPE=2
compat_headers=(srtp.h ankerl/unordered_dense.h)
recipe_hash="$( (echo "$RECIPE"; cat "$here/patch-worker-meson.mjs"; for h in "${compat_headers[@]}"; do cat "$pkg_dir/build-patches/$h"; done) | sha256sum | cut -c1-12)"
key="mediasoup-${ms_version}-openssl-${OPENSSL_VERSION}-${recipe_hash}"
out_dir="$cache_root/worker/$key"
out_bin="$out_dir/mediasoup-worker"

# One build at a time per cache (setup, tests and CI may run this concurrently on one
# machine): the others wait here, then find the result in the cache.
mkdir -p "$cache_root"
exec 9>"$cache_root/worker.lock"
if ! flock -n 9; then
  log "another obtain-worker.sh is using $cache_root; waiting for it"
  flock 9
fi

# 2. Cache.
if [[ -x "$out_bin" ]] && verify "$out_bin"; then
  log "using cached worker $out_bin"
  echo "$out_bin"; exit 0
fi

mkdir -p "$cache_root/worker" "$cache_root/logs"

# 3. mediasoup's own prebuilt binary: already fetched by its npm postinstall (a normal
#    `npm install` with internet), or downloaded now (needs access to its release downloads).
if [[ -x "$ms_dir/worker/out/Release/mediasoup-worker" ]] && verify "$ms_dir/worker/out/Release/mediasoup-worker"; then
  log "using the worker installed by mediasoup's postinstall"
  echo "$ms_dir/worker/out/Release/mediasoup-worker"; exit 0
fi
prebuilt_dir="$cache_root/worker/prebuilt-${ms_version}"
if [[ "${MEET_WORKER_PREBUILT:-1}" != 0 ]]; then
  if [[ -x "$prebuilt_dir/mediasoup-worker" ]] && verify "$prebuilt_dir/mediasoup-worker"; then
    echo "$prebuilt_dir/mediasoup-worker"; exit 0
  fi
  log "trying mediasoup's prebuilt worker download"
  rm -rf "$prebuilt_dir"
  if node "$here/fetch-prebuilt-worker.mjs" "$ms_version" "$prebuilt_dir" >"$cache_root/logs/prebuilt.log" 2>&1 \
     && [[ -x "$prebuilt_dir/mediasoup-worker" ]] && verify "$prebuilt_dir/mediasoup-worker"; then
    log "using prebuilt worker $prebuilt_dir/mediasoup-worker"
    echo "$prebuilt_dir/mediasoup-worker"; exit 0
  fi
  rm -rf "$prebuilt_dir"
  log "no prebuilt worker reachable (see $cache_root/logs/prebuilt.log); building from source"
fi

# 4. Build from source, with Debian's compilers and libraries.
bash "$pkg_dir/../scripts/setup-system.sh" --worker-build || die "cannot install the build dependencies"
for tool in meson ninja pkg-config flatc g++; do
  command -v "$tool" >/dev/null || die "$tool is missing after scripts/setup-system.sh --worker-build"
done

# 4a. OpenSSL from the upstream tarball (via Debian's source repository), static.
ossl_prefix="$cache_root/openssl-$OPENSSL_VERSION"
if [[ ! -f "$ossl_prefix/.complete" ]]; then
  src_dir="$cache_root/src"
  mkdir -p "$src_dir"
  tarball="$src_dir/openssl_${OPENSSL_VERSION}.orig.tar.gz"
  if [[ ! -f "$tarball" ]] || ! echo "$OPENSSL_SHA256  $tarball" | sha256sum -c --quiet - 2>/dev/null; then
    log "downloading OpenSSL $OPENSSL_VERSION upstream source (apt-get source)"
    (cd "$src_dir" && apt-get source --download-only "openssl=$OPENSSL_DEB_VERSION" >"$cache_root/logs/openssl-download.log" 2>&1) \
      || [[ -f "$tarball" ]] || die "apt-get source openssl failed (deb-src entries missing? run scripts/setup-system.sh); see $cache_root/logs/openssl-download.log"
  fi
  echo "$OPENSSL_SHA256  $tarball" | sha256sum -c --quiet - || die "OpenSSL tarball checksum mismatch: $tarball"
  build_dir="$cache_root/build/openssl-$OPENSSL_VERSION"
  rm -rf "$build_dir" "$ossl_prefix"
  mkdir -p "$build_dir"
  tar -xzf "$tarball" -C "$build_dir" --strip-components=1
  run_logged "OpenSSL $OPENSSL_VERSION configure" "$cache_root/logs/openssl-configure.log" \
    bash -c "cd '$build_dir' && ./Configure --prefix='$ossl_prefix' --libdir=lib no-shared no-tests -fPIC"
  run_logged "OpenSSL $OPENSSL_VERSION build (about 1.5 min on 2 cores)" "$cache_root/logs/openssl-build.log" \
    bash -c "cd '$build_dir' && make -j'$jobs' build_libs && make install_dev"
  touch "$ossl_prefix/.complete"
  rm -rf "$build_dir"
fi

# 4b. The worker, from the sources in the npm package.
wbuild="$cache_root/build/worker-$key"
rm -rf "$wbuild"
mkdir -p "$wbuild"
cp -r "$ms_dir/worker" "$wbuild/src"
# Header shims for what Debian lacks (see the headers): put first on the include path.
for h in "${compat_headers[@]}"; do
  mkdir -p "$(dirname "$wbuild/src/meet-compat/$h")"
  cp "$pkg_dir/build-patches/$h" "$wbuild/src/meet-compat/$h"
done
node "$here/patch-worker-meson.mjs" "$wbuild/src" >&2
export PKG_CONFIG_PATH="$ossl_prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
run_logged "worker configure (meson)" "$cache_root/logs/worker-configure.log" \
  meson setup "$wbuild/out" "$wbuild/src" --buildtype=release -Db_ndebug=true --wrap-mode=nodownload
run_logged "worker build (about 4 min on 2 cores)" "$cache_root/logs/worker-build.log" \
  ninja -C "$wbuild/out" -j "$jobs" mediasoup-worker
verify "$wbuild/out/mediasoup-worker" || die "the built worker does not run"
mkdir -p "$out_dir"
cp "$wbuild/out/mediasoup-worker" "$out_bin.tmp" && mv "$out_bin.tmp" "$out_bin"
rm -rf "$wbuild"
log "worker ready: $out_bin"
echo "$out_bin"
