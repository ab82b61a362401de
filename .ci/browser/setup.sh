#!/usr/bin/env bash
# Installs what the browser checks need on a fresh machine: Debian's chromium (Playwright's
# own browser download cannot work on these machines) and the pinned npm packages of
# package-lock.json. Idempotent, so later runs are fast. Prints the chromium path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi
if [ ! -d "$here/node_modules/playwright-core" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --silent --no-audit --no-fund)
fi
command -v chromium
