#!/usr/bin/env bash
# Prepares everything the platform needs, doing only what is missing or out of date:
# npm dependencies, the mediasoup worker binary, and the TypeScript and web builds.
#   --test  also what the test suite needs (Chromium)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/node-env.sh
meet_use_node
log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
start=$SECONDS

if [[ "${1:-}" == --test ]]; then bash scripts/setup-system.sh --test; fi

# 1. npm dependencies (again only when package-lock.json changed). mediasoup's own
#    postinstall is skipped: obtaining the worker is step 2, which also works offline.
lock_hash="$(sha256sum package-lock.json | cut -c1-16)"
if [[ "$(cat node_modules/.meet-lock-hash 2>/dev/null)" != "$lock_hash" ]]; then
  log "installing npm dependencies (npm ci)"
  MEDIASOUP_WORKER_BIN=skip npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.meet-lock-hash
fi

# 2. The mediasoup worker binary (cached; built from source when no prebuilt is reachable).
if ! worker_bin="$(bash media-worker/scripts/obtain-worker.sh)"; then
  log "ERROR: could not obtain the mediasoup worker"
  exit 1
fi
worker_bin="$(tail -n 1 <<<"$worker_bin")"
echo "$worker_bin" > media-worker/worker-bin.path

# 3. The Prisma client (generated from prisma/schema.prisma), TypeScript (incremental) and
#    the web app (only when its inputs changed). `prisma generate` does not use Prisma's
#    schema engine, but the CLI insists on one (downloaded from a host that may be
#    unreachable): any existing file satisfies it.
schema_hash="$(cat prisma/schema.prisma package-lock.json | sha256sum | cut -c1-16)"
if [[ "$(cat server/src/generated/prisma/.meet-hash 2>/dev/null)" != "$schema_hash" ]]; then
  log "generating the Prisma client"
  PRISMA_SCHEMA_ENGINE_BINARY="${PRISMA_SCHEMA_ENGINE_BINARY:-$(type -P true)}" npx prisma generate >/dev/null
  echo "$schema_hash" > server/src/generated/prisma/.meet-hash
fi
log "building server"
npx tsc -b
web_hash="$(find web/src web/static web/svelte.config.js web/vite.config.ts protocol/src package-lock.json -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
if [[ "$(cat web/build/.meet-hash 2>/dev/null)" != "$web_hash" ]]; then
  log "building web app"
  npm run build -w web --silent >/dev/null
  echo "$web_hash" > web/build/.meet-hash
fi
log "ready in $((SECONDS - start))s"
