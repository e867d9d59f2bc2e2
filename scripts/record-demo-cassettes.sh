#!/usr/bin/env bash
# Re-records the demo cassettes in cassettes/ through stripe-vcr from the
# deterministic stand-in upstream (standin/, --seed 42), so the
# same ids come back every time. Run from the repository root:
#
#   scripts/record-demo-cassettes.sh
#
# Only 127.0.0.1 is contacted.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --quiet --workspace --bins
work=$(mktemp -d)
cleanup() {
  [[ -n "${proxy_pid:-}" ]] && kill "$proxy_pid" 2>/dev/null || true
  [[ -n "${standin_pid:-}" ]] && kill "$standin_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# 1. The stand-in "Stripe", deterministic.
target/debug/stripe-vcr-standin --listen 127.0.0.1:0 --cert-out "$work/standin-ca.pem" --seed 42 >"$work/standin.out" 2>/dev/null &
standin_pid=$!
until grep -q '^listening on ' "$work/standin.out" 2>/dev/null; do sleep 0.1; done
upstream=$(sed -n 's/^listening on //p' "$work/standin.out")

# 2. stripe-vcr recording into a fresh cassette directory.
rm -rf cassettes.new
target/debug/stripe-vcr record --upstream "$upstream" --upstream-ca "$work/standin-ca.pem" \
  --listen 127.0.0.1:0 --cassettes cassettes.new --certs "$work/certs" >"$work/proxy.out" 2>"$work/proxy.err" &
proxy_pid=$!
until grep -q 'listening   https://' "$work/proxy.out" 2>/dev/null; do sleep 0.1; done
base=$(sed -n 's/^  listening   \(https:\/\/[0-9.:]*\).*/\1/p' "$work/proxy.out")

# 3. The demo session: the same curl commands the README shows.
api() { curl -sS --cacert "$work/certs/ca.pem" -u sk_test_demo_recording_key: "$@"; }
id=$(api "$base/v1/payment_intents" -d amount=2000 -d currency=usd \
  -d "metadata[order_id]=6735" -d "payment_method_types[]=card" | sed -n 's/^  "id": "\(pi_[A-Za-z0-9]*\)".*/\1/p')
echo "created $id"
api "$base/v1/payment_intents/$id" >/dev/null
api "$base/v1/payment_intents/$id" -d "description=Order 6735" >/dev/null
api "$base/v1/payment_intents/$id/confirm" -d payment_method=pm_card_visa >/dev/null
api "$base/v1/payment_intents/$id" >/dev/null
api "$base/v1/payment_intents?limit=3" -G >/dev/null
api "$base/v1/payment_intents/search" -G --data-urlencode "query=metadata['order_id']:'6735'" >/dev/null
api "$base/v1/payment_intents" -d currency=usd >/dev/null   # the 400: amount is missing
# Beyond Payment Intents (after them, so their ids and times stay as they were).
cus=$(api "$base/v1/customers" -d email=jenny.rosen@example.com -d "name=Jenny Rosen" | sed -n 's/^  "id": "\(cus_[A-Za-z0-9]*\)".*/\1/p')
echo "created $cus"
api "$base/v1/customers/$cus" >/dev/null

kill -INT "$proxy_pid"
wait "$proxy_pid" || true
proxy_pid=
tail -n 1 "$work/proxy.out"
rm -rf cassettes
mv cassettes.new cassettes
ls cassettes
