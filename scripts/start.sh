#!/usr/bin/env bash
# `npm start`: prepares whatever is missing (first run: minutes, with progress), then runs
# the server with the web app on http://localhost:${PORT:-3000}.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/node-env.sh
meet_use_node
bash scripts/setup.sh
exec node server/dist/main.js
