#!/usr/bin/env bash
# The whole test suite: installs the real SIP peers the integration tests
# drive (SIPp, baresip, ...), then builds, tests, lints and checks the
# formatting. Runs every step even when an earlier one failed, prints a
# summary, and exits non-zero if any step failed. Needs no terminal.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
# Property tests use their own case counts.
unset PROPTEST_CASES

bash scripts/install-deps.sh

failed=()
step() {
    local name="$1"
    shift
    echo
    echo "==> $name: $*"
    local start=$SECONDS
    if "$@"; then
        echo "==> $name: ok ($((SECONDS - start)) s)"
    else
        echo "==> $name: FAILED ($((SECONDS - start)) s)" >&2
        failed+=("$name")
    fi
}

step build cargo build
step test cargo test --all-targets --no-fail-fast
step clippy cargo clippy --all-targets -- -D warnings
step fmt cargo fmt --check

echo
if [[ ${#failed[@]} -ne 0 ]]; then
    echo "test.sh: FAILED steps: ${failed[*]}" >&2
    exit 1
fi
echo "test.sh: all steps passed"
