#!/usr/bin/env bash
# Installs the Debian packages a group of tasks needs, idempotently (nothing is done when
# they are already installed). Needs root, or sudo.
#   --worker-build  compilers and libraries to build the mediasoup worker from source, and
#                   a deb-src entry so that `apt-get source openssl` works
#   --test          Chromium and Firefox ESR for the browser tests, iproute2 and iptables for
#                   the network namespaces some of them run in and their link conditions
#                   (tests/helpers/netns.ts), espeak-ng for the fake microphone's speech
#                   (tests/helpers/audio-files.ts), fonts-noto-color-emoji (without it
#                   Chromium draws emoji as boxes), coturn for the TURN tests, redis-server
#                   and haproxy for the cluster tests (tests/helpers/redis.ts, cluster.ts:
#                   each test runs its own on a free port; the system services these
#                   packages bring are neither started nor enabled here), and a running
#                   PostgreSQL server on 127.0.0.1:5432 for the chat tests
#   --bench         Go and Debian's pion packages, to build the capacity benchmark's media
#                   generator offline (bench/pion/build.sh, bench/capacity.ts); not a test need
set -euo pipefail

worker_build=(meson ninja-build pkg-config g++ make perl dpkg-dev libuv1-dev libsrtp2-dev
  libabsl-dev libflatbuffers-dev flatbuffers-compiler)
test_pkgs=(chromium firefox-esr iproute2 iptables coturn espeak-ng fonts-noto-color-emoji redis-server
  haproxy openssl)
bench_pkgs=(golang-go golang-github-pion-webrtc.v3-dev golang-github-pion-ice.v2-dev
  golang-github-pion-dtls.v2-dev golang-github-pion-rtp-dev golang-github-pion-rtcp-dev)
# Installed for their binaries only: tests start their own instances, so their Debian services
# are kept from starting at installation (and from starting at boot).
no_service=(redis-server haproxy)
ensure_postgres=0

want=()
need_deb_src=0
for arg in "$@"; do
  case "$arg" in
    --worker-build) want+=("${worker_build[@]}"); need_deb_src=1 ;;
    --test) want+=("${test_pkgs[@]}"); ensure_postgres=1 ;;
    --bench) want+=("${bench_pkgs[@]}") ;;
    *) echo "usage: $0 [--worker-build] [--test] [--bench]" >&2; exit 2 ;;
  esac
done

log() { printf '[system %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

deb_src_file=/etc/apt/sources.list.d/meet-deb-src.sources
add_deb_src=0
if [[ $need_deb_src == 1 && ! -f $deb_src_file ]] && ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  add_deb_src=1
fi

# A PostgreSQL server for the tests: the one already listening on 127.0.0.1:5432 if any,
# else Debian's, installed and started here (password "postgres" for the postgres role).
postgres_ready() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; }
if [[ $ensure_postgres == 1 ]] && ! postgres_ready; then
  dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q 'install ok installed' || missing+=(postgresql)
fi

start_postgres() {
  [[ $ensure_postgres == 1 ]] || return 0
  postgres_ready && return 0
  log "starting PostgreSQL"
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  "${sudo[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do postgres_ready && break; sleep 1; done
  postgres_ready || { log "ERROR: PostgreSQL did not start"; exit 1; }
  "${sudo[@]}" su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
}

sudo=()
[[ $EUID -ne 0 ]] && command -v sudo >/dev/null && sudo=(sudo)
if [[ ${#missing[@]} -eq 0 && $add_deb_src == 0 ]]; then
  start_postgres
  exit 0
fi

if [[ $EUID -ne 0 ]]; then
  if [[ ${#sudo[@]} -eq 0 ]]; then
    log "ERROR: these packages are needed and this is not root: ${missing[*]}"
    log "run as root: apt-get install ${missing[*]}"
    exit 1
  fi
fi

if [[ $add_deb_src == 1 ]]; then
  log "adding Debian source entries ($deb_src_file) for the OpenSSL upstream tarball"
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | "${sudo[@]}" tee "$deb_src_file" >/dev/null
  else
    grep -h '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
      "${sudo[@]}" tee "${deb_src_file%.sources}.list" >/dev/null
  fi
fi

# Debian starts a package's service when it installs it (invoke-rc.d / deb-systemd-invoke),
# unless /usr/sbin/policy-rc.d says no. For the packages of no_service being installed now,
# a policy-rc.d that refuses exactly their services is put in place for the duration of the
# install (an existing policy-rc.d, e.g. a container's deny-all one, is left as it is).
# Without it a system redis-server would take 127.0.0.1:6379 (or fail to start when
# something else has it, which fails the install). Then, under systemd, their units (which
# the packages enable) are disabled, so that they do not start at the next boot either.
# Packages that were already installed are not touched.
new_services=()
for pkg in "${missing[@]}"; do
  for svc in "${no_service[@]}"; do [[ $pkg == "$svc" ]] && new_services+=("$svc"); done
done
policy=/usr/sbin/policy-rc.d
policy_written=0
remove_policy() {
  if [[ $policy_written == 1 ]]; then "${sudo[@]}" rm -f "$policy"; fi
  policy_written=0
}
if [[ ${#new_services[@]} -gt 0 && ! -e $policy ]]; then
  printf '%s\n' '#!/bin/sh' \
    "# Temporary, from meet's scripts/setup-system.sh: keeps ${new_services[*]} from starting." \
    'for arg in "$@"; do case "$arg" in' "  $(IFS='|'; echo "${new_services[*]}")) exit 101 ;;" 'esac; done' \
    'exit 0' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 0755 "$policy"
  policy_written=1
  trap remove_policy EXIT
fi

log "installing Debian packages: ${missing[*]:-(none)}"
"${sudo[@]}" apt-get update -qq
if [[ ${#missing[@]} -gt 0 ]]; then
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" |
    grep -E '^(Setting up|Unpacking) ' | sed 's/^/  /' >&2 || true
  for pkg in "${missing[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || { log "ERROR: $pkg did not install"; exit 1; }
  done
fi
remove_policy
if [[ ${#new_services[@]} -gt 0 && -d /run/systemd/system ]]; then
  log "disabling the system services of ${new_services[*]} (the tests start their own)"
  "${sudo[@]}" systemctl disable --now "${new_services[@]}" >/dev/null 2>&1 || true
fi
start_postgres
log "system packages ready"
