#!/usr/bin/env bash
# `make fuzz`: seeds the corpora from tests/fixtures, builds every target with cargo-fuzz and runs
# each for FUZZ_RUNS executions (default 1,500,000; 8 targets = 12M, plus the github target runs
# 3,000,000 as it covers nine event parsers). Prints executions per target and their total;
# fails on any crash, timeout or memory blow-up (libFuzzer writes the input to
# fuzz/artifacts/<target>/; reproduce with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <file>`).
#
# cargo-fuzz needs nightly compiler features; on the stable toolchain RUSTC_BOOTSTRAP=1 enables
# them. Install it once with `cargo install cargo-fuzz`.
set -euo pipefail
cd -- "$(dirname -- "${BASH_SOURCE[0]}")"

RUNS="${FUZZ_RUNS:-1500000}"
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null 2>&1 || { echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2; exit 1; }

./seed.sh
cargo fuzz build --release --target-dir "$TARGET_DIR"

declare -A dict=([github]=json [pagerduty]=json [jira]=json [linear]=json [generic_deployment]=json
                 [generic_incident]=json [signature]=signature [config]=config)
declare -A runs=([github]=$((RUNS * 2)))
targets=(github pagerduty jira linear generic_deployment generic_incident signature config)
mkdir -p logs
total=0
summary=()
for t in "${targets[@]}"; do
  n="${runs[$t]:-$RUNS}"
  echo "==> fuzz $t: $n runs"
  start=$SECONDS
  status=0
  cargo fuzz run --release --target-dir "$TARGET_DIR" "$t" -- \
    -runs="$n" -dict="dict/${dict[$t]}.dict" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 >"logs/$t.log" 2>&1 || status=$?
  done_line=$(grep -E '^Done [0-9]+ runs' "logs/$t.log" | tail -1 || true)
  execs=$(grep -E 'stat::number_of_executed_units' "logs/$t.log" | tail -1 | awk '{print $2}')
  execs=${execs:-0}
  if ((status != 0)); then
    echo "fuzz $t FAILED (exit $status); last lines of fuzz/logs/$t.log:" >&2
    tail -n 40 "logs/$t.log" >&2
    exit 1
  fi
  total=$((total + execs))
  summary+=("$(printf '%-20s %12s executions in %5ss  (%s)' "$t" "$execs" $((SECONDS - start)) "$done_line")")
done
echo
printf '%s\n' "${summary[@]}"
printf '%-20s %12s executions, 0 crashes\n' TOTAL "$total"
