#!/usr/bin/env bash
# Runs every fuzz target of stripe-vcr for a bounded time each.
#
#   fuzz/run.sh            # 60 s per target
#   fuzz/run.sh 300        # 5 minutes per target
#   fuzz/run.sh 60 search  # only some targets
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). cargo-fuzz passes nightly
# `-Z` flags to rustc; on a stable toolchain RUSTC_BOOTSTRAP=1 lets it, and
# AddressSanitizer works (its runtime ships with stable rustc on
# x86_64-unknown-linux-gnu). A crash stops that target and leaves its input
# in fuzz/artifacts/<target>/; reproduce it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
set -euo pipefail

cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(params canonical search cassette)
fi
export RUSTC_BOOTSTRAP=1

# Seed corpora from what the project already has, so the fuzzers start from
# realistic input rather than from nothing.
seed() {
    local target="$1"
    local dir="corpus/$target"
    mkdir -p "$dir"
    [ -n "$(ls -A "$dir")" ] && return
    case "$target" in
        cassette)
            cp ../cassettes/*.json "$dir"/ 2>/dev/null || true
            ;;
        params)
            printf 'amount=2000&currency=usd&metadata[order_id]=6735&payment_method_types[]=card' >"$dir/form"
            printf '{"amount":2000,"currency":"usd","metadata":{"order_id":"6735"},"expand":["latest_charge"]}' >"$dir/json"
            ;;
        canonical)
            printf 'POST\0/v1/payment_intents\x002026-07-29.dahlia\0acct_1\0amount=2000&currency=usd&shipping[address][city]=Paris' >"$dir/create"
            ;;
        search)
            printf "status:'succeeded' AND metadata['order_id']:'6735'" >"$dir/and"
            printf 'amount>=1000 OR -currency:"usd" OR created<1700000000' >"$dir/or"
            ;;
    esac
}

status=0
for target in "${targets[@]}"; do
    seed "$target"
    echo "=== fuzz target $target for ${secs}s"
    if ! cargo fuzz run "$target" -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096; then
        echo "=== $target FOUND A CRASH: see fuzz/artifacts/$target/"
        status=1
    fi
done
exit "$status"
