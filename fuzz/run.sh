#!/usr/bin/env bash
# Coverage-guided fuzzing of kscale's input layers (cargo-fuzz, libFuzzer; needs the nightly
# toolchain and `cargo install cargo-fuzz`).
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
# Seed corpora are built from the bundled examples into fuzz/corpus/ (not committed); crashes
# are copied to crates/fuzzing/regressions/TARGET/ to become regression tests. Prints the
# executions per target and in total (the figure in docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}; shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(scenario manifests quantity duration kubectl_args patch run)
if ! cargo +nightly --version >/dev/null 2>&1; then echo "fuzz: no nightly toolchain (rustup toolchain install nightly)"; exit 2; fi
if ! cargo fuzz --version >/dev/null 2>&1; then echo "fuzz: cargo-fuzz missing (cargo install cargo-fuzz)"; exit 2; fi
seed() { # seed TARGET: fill corpus/TARGET from the examples
  local t=$1 d=corpus/$1; mkdir -p "$d"
  case $t in
    scenario|run) grep -l "^kind: Scenario" ../examples/*/*.yaml | while read -r f; do cp "$f" "$d/$(echo "${f#../}" | tr / _)"; done ;;
    manifests) find ../examples -name '*.yaml' | xargs grep -L "^kind: Scenario" | while read -r f; do cp "$f" "$d/$(echo "${f#../}" | tr / _)"; done ;;
    quantity) for q in 250m 1.5Gi 1e3 -1 0.1 12345678901234567890Ki; do printf '%s' "$q" > "$d/$q"; done ;;
    duration) for q in 1h30m 250ms 99999h -1s 1.5h 0; do printf '%s' "$q" > "$d/$q"; done ;;
    kubectl_args) grep -ho 'run: kubectl.*' ../examples/*/*.yaml | sed 's/^run: //' | nl -nln | while read -r n l; do printf '%s' "$l" > "$d/$n"; done ;;
    patch) printf '\x00{"spec":{"replicas":3}}' > "$d/smp"; printf '\x01{"metadata":{"labels":null}}' > "$d/merge"; printf '\x02[{"op":"replace","path":"/spec/replicas","value":1}]' > "$d/json" ;;
  esac
}
# Release with debug assertions and overflow checks, AddressSanitizer (cargo-fuzz's default).
cargo +nightly fuzz build
total=0
for t in "${targets[@]}"; do
  seed "$t"
  log=$(mktemp)
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 2>"$log" || {
    mkdir -p "../crates/fuzzing/regressions/$t"; cp artifacts/"$t"/* "../crates/fuzzing/regressions/$t/" 2>/dev/null || true
    tail -40 "$log"; echo "fuzz: $t crashed; the input is in crates/fuzzing/regressions/$t/"; exit 1; }
  n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  echo "fuzz: $t: ${n:-0} executions in ${secs}s"
  total=$((total + ${n:-0}))
  rm -f "$log"
done
echo "fuzz: total ${total} executions"
