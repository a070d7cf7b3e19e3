#!/usr/bin/env bash
# Seeds the fuzz corpora (git-ignored) from the committed fixtures.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/beam corpus/archive
cp ../fixtures/packs/*/ebin/*.beam corpus/beam/
for f in ../fixtures/bad/*.beam; do
  # The bombs are large and teach nothing new after the first run.
  case "$f" in *bomb*) continue ;; esac
  cp "$f" corpus/beam/
done
cp ../fixtures/packs/*/expected.avm ../fixtures/bad/*.avm corpus/archive/ 2>/dev/null || true
n=0; for f in ../fixtures/packs/*/expected.avm; do cp "$f" "corpus/archive/golden_$n.avm"; n=$((n+1)); done
