#!/usr/bin/env bash
# `npm start`: prepares whatever is missing (first run: minutes, with progress), then runs
# the server with the web app on http://localhost:${PORT:-3000}.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/node-env.sh
meet_use_node
bash scripts/setup.sh
# glibc returns freed blocks of 128 KiB and more to the system at once instead of keeping
# them in its arenas: the embedded database's start-up churn does not stay resident
# (docs/footprint.md: about 35 MiB less when idle).
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-131072}"
exec node server/dist/main.js
