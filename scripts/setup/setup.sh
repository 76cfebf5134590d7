#!/usr/bin/env bash
# `npm run setup`: what the tests need on a fresh machine. The Debian packages of system-packages.txt, the npm
# packages, then every step in scripts/setup/steps/ in name order (the engines, the Python toolchains). Each step
# caches what it builds per version under .cache/ or its own git-ignored directory, prints its progress, and does
# nothing but check when its cache is complete, so a second run works offline.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup/install-system-packages.sh
npm ci
for step in scripts/setup/steps/*; do
  [[ -f $step ]] || continue
  echo "setup: $(basename "$step")"
  case $step in
    *.sh) bash "$step" ;;
    *.mjs) node "$step" ;;
    *.ts) npx tsx "$step" ;;
    *) echo "setup: $step is neither .sh, .mjs nor .ts" >&2; exit 1 ;;
  esac
done
