#!/usr/bin/env bash
# Byte-identity check of the twin's outputs between two revisions: builds `kscale` at BASE (a
# git revision, default: origin/main or main) in a temporary worktree and at the working tree,
# runs every example and calibration scenario plus a 100-node, 6-hour benchmark day with both,
# and compares every file of every run directory (report.html included). Exit 0 when all are
# identical, 1 otherwise (the differing files are listed).
#
#   bash scripts/golden.sh [BASE]        # e.g. bash scripts/golden.sh HEAD~3
#
# Builds are debug builds without debug info (CARGO_PROFILE_DEV_DEBUG=0) in target/golden-*/;
# a cold base build takes a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-main}
root=$(pwd)
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base-src" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
export CARGO_PROFILE_DEV_DEBUG=0
git worktree add --detach "$work/base-src" "$base" >/dev/null
(cd "$work/base-src" && CARGO_TARGET_DIR="$root/target/golden-base" cargo build --quiet --locked --bin kscale)
CARGO_TARGET_DIR="$root/target/golden-head" cargo build --quiet --locked --bin kscale
run_all() { # run_all BIN OUT
  local bin=$1 out=$2 f name
  mkdir -p "$out"
  for f in $(grep -l "^kind: Scenario" examples/*/*.yaml calibration/*.yaml 2>/dev/null | sort); do
    name=$(echo "$f" | tr '/' '_' | sed 's/\.yaml$//')
    "$bin" run "$f" --out "$out/$name" -q > /dev/null 2>&1 || echo "exit $?" > "$out/$name.exit"
  done
  "$bin" bench-scenario --nodes 100 --duration 6h --out "$out/bench-src" > /dev/null
  "$bin" run "$out/bench-src/scenario.yaml" --out "$out/bench" -q > /dev/null 2>&1
  (cd "$out" && find . -type f ! -name .kscale-run | sort | xargs sha256sum) > "$out.sums"
}
run_all "$root/target/golden-base/debug/kscale" "$work/base"
run_all "$root/target/golden-head/debug/kscale" "$work/head"
if diff <(cat "$work/base.sums") <(cat "$work/head.sums") > "$work/diff"; then
  echo "golden: identical ($(wc -l < "$work/head.sums") files) between $base and the working tree"
else
  echo "golden: outputs differ between $base and the working tree:"
  grep '^[<>]' "$work/diff" | awk '{print $3}' | sort -u | sed 's/^/  /'
  exit 1
fi
