#!/usr/bin/env bash
# Runs every check: lint, formatting, types, then all tests (unit and integration against real
# MariaDB, OpenBao, journal files and Chromium). Ends with one plain summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
echo "== lint" && npx eslint . || status=1
echo "== format" && npx prettier --check . >/dev/null || { npx prettier --check . ; status=1; }
echo "== typecheck" && npx tsc -p tsconfig.json --noEmit || status=1
echo "== tests"
rm -f .vitest-results.json
npx vitest run --reporter=default --reporter=json --outputFile.json=.vitest-results.json "$@" || status=1
node -e '
  const fs = require("fs");
  let r = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, success: false };
  try { r = JSON.parse(fs.readFileSync(".vitest-results.json", "utf8")); } catch {}
  const failed = r.numFailedTests + (r.success || r.numFailedTests ? 0 : 1);
  console.log(`tests: ${r.numPassedTests} passed, ${failed} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
'
exit $status
