#!/usr/bin/env bash
# `npm test`: prepares what is missing (as `npm start` does, plus Chromium), checks types
# and formatting, then runs every test (unit, integration with real mediasoup workers,
# browser end-to-end with Debian Chromium) with node's test runner.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/node-env.sh
meet_use_node
bash scripts/setup.sh --test

echo "[test] type check (tsc, svelte-check), format (prettier) and lint (eslint)" >&2
npx tsc -b
npx tsc -p tsconfig.tests.json
npm run check -w web --silent
npx prettier --check . --log-level warn
npx eslint . --max-warnings 0

mapfile -t files < <(find protocol/test media-worker/test server/test web/test tests -name '*.test.ts' 2>/dev/null | sort)
echo "[test] running ${#files[@]} test files" >&2
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
