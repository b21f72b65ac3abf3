#!/usr/bin/env bash
# The calibration suite: every scenario here runs on the twin and on the real control plane
# (`kscale run --cluster`, real time), `kscale diff` compares the two, and table.py writes the
# calibration table (docs/calibration.md shows the latest).
#
# usage: calibration/run.sh [OUT_DIR] [SCENARIO.yaml ...]
#   OUT_DIR defaults to kscale-out/calibration; scenarios default to calibration/*.yaml.
#   KSCALE names the kscale binary (default: target/release/kscale, built if missing);
#   KSCALE_CONTROLPLANE_BIN the control plane's binaries (default: built into the cache).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/kscale-out/calibration}
shift || true
scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
  scenarios=("$root"/calibration/*.yaml)
fi
kscale=${KSCALE:-$root/target/release/kscale}
if [ ! -x "$kscale" ]; then
  (cd "$root" && cargo build --release --locked -q)
fi
mkdir -p "$out"
for s in "${scenarios[@]}"; do
  name=$(basename "$s" .yaml)
  dir="$out/$name"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "== $name" >&2
  "$kscale" run "$s" --out "$dir/twin" -q
  "$kscale" run "$s" --cluster --out "$dir/cluster" -q
  code=0
  "$kscale" diff "$dir/twin" "$dir/cluster" --out "$dir/diff" >"$dir/diff.txt" || code=$?
  echo "$code" >"$dir/diff.exit"
  if [ "$code" -ge 2 ]; then
    cat "$dir/diff.txt" >&2
    exit "$code"
  fi
done
python3 "$root/calibration/table.py" "$out" | tee "$out/table.md"
