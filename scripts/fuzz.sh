#!/usr/bin/env bash
# make fuzz: runs each cargo-fuzz target (fuzz/fuzz_targets/) for FUZZ_SECONDS seconds
# (default 60), seeded from the bodies and users of events/, then prints the executions and
# crashes of each. The invariants are those of tests/api/properties.rs, which make test runs
# on stable (tests/support/invariants.rs).
#
# cargo-fuzz (pinned) is installed into .venv/cargo from crates.io when missing. cargo fuzz
# needs nightly compiler flags: the script uses a nightly toolchain when rustup has one, and
# tries to install one when it has none; where that cannot be fetched (these machines reach
# only the package registries), it runs the stable compiler with RUSTC_BOOTSTRAP=1, which
# lets stable rustc take the same -Z flags.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
targets=(authentication payload user_path)
version=0.13.2
export PATH="$PWD/.venv/cargo/bin:$PATH"

if ! cargo fuzz --version 2>/dev/null | grep -q "$version"; then
  echo "fuzz: installing cargo-fuzz $version into .venv/cargo (crates.io)"
  cargo install cargo-fuzz --version "$version" --locked --root .venv/cargo
fi

toolchain=()
if rustup run nightly rustc --version >/dev/null 2>&1; then
  toolchain=(+nightly)
  echo "fuzz: using $(rustup run nightly rustc --version)"
elif rustup toolchain install nightly --profile minimal >/dev/null 2>&1; then
  toolchain=(+nightly)
  echo "fuzz: installed and using $(rustup run nightly rustc --version)"
else
  export RUSTC_BOOTSTRAP=1
  echo "fuzz: no nightly toolchain, and none could be installed: using $(rustc --version)" \
    "with RUSTC_BOOTSTRAP=1"
fi

python3 scripts/fuzz_corpus.py fuzz/corpus
mkdir -p fuzz/logs
status=0
summary=()
for target in "${targets[@]}"; do
  log="fuzz/logs/$target.log"
  echo "fuzz: $target for ${seconds}s (log: $log)"
  if cargo "${toolchain[@]}" fuzz run --fuzz-dir fuzz "$target" "fuzz/corpus/$target" \
      -- -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    result="no crash"
  else
    result="CRASH (see $log and fuzz/artifacts/$target/)"
    status=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  summary+=("$(printf '%-15s %12s executions  %s' "$target" "${runs:-?}" "$result")")
done
printf '%s\n' "fuzz: results" "${summary[@]}"
exit "$status"
