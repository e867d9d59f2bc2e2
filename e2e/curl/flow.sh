#!/usr/bin/env bash
# The e2e flow's core with curl, through stripe-vcr, in one of three forms:
#
#   flow.sh base-url PORT CA   curl --cacert CA https://127.0.0.1:PORT/v1/...
#   flow.sh proxy    PORT CA   curl --cacert CA -x http://127.0.0.1:PORT https://api.stripe.com/v1/...
#   flow.sh cli-form PORT      plain http://127.0.0.1:PORT, Bearer key, parameters in the Stripe
#                              CLI's -d syntax (what `stripe ... --api-base http://127.0.0.1:PORT`
#                              sends; the CLI only accepts plain http for local bases)
#
# Prints a normalised transcript, one JSON object per line (see transcript.py).
set -euo pipefail

mode=${1:?mode: base-url, proxy or cli-form}
port=${2:?port}
ca=${3:-}
key=${E2E_KEY:-sk_test_e2eCurlFlowKey0123456789}
here=$(cd "$(dirname "$0")" && pwd)
order=e2e-curl-1001

case "$mode" in
  base-url)
    base="https://127.0.0.1:$port"
    api=(curl -sS --cacert "$ca" -u "$key:")
    ;;
  proxy)
    base="https://api.stripe.com"
    api=(curl -sS --cacert "$ca" -x "http://127.0.0.1:$port" -u "$key:")
    ;;
  cli-form)
    base="http://127.0.0.1:$port"
    api=(curl -sS -H "Authorization: Bearer $key")
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac

body=$(mktemp)
trap 'rm -f "$body"' EXIT

# call STEP CURL-ARGS...: runs the request, prints the transcript line.
call() {
  local step=$1
  shift
  local status
  status=$("${api[@]}" -o "$body" -w '%{http_code}' "$@")
  python3 "$here/transcript.py" "$step" "$status" "$body"
}

call create "$base/v1/payment_intents" \
  -d amount=2000 -d currency=usd \
  -d "description=Order $order" \
  -d "metadata[order_id]=$order" \
  -d "shipping[name]=Jenny Rosen" \
  -d "shipping[address][line1]=510 Townsend St" \
  -d "shipping[address][city]=San Francisco" \
  -d "shipping[address][state]=CA" \
  -d "shipping[address][postal_code]=94103" \
  -d "shipping[address][country]=US" \
  -d "payment_method_types[]=card" \
  -d capture_method=manual \
  -d "expand[]=customer"
pi=$(python3 "$here/transcript.py" --id "$body")

call retrieve "$base/v1/payment_intents/$pi"
call update "$base/v1/payment_intents/$pi" -d "description=Order $order (gift)" -d "metadata[gift]=yes"
call confirm "$base/v1/payment_intents/$pi/confirm" -d payment_method=pm_card_visa
call capture "$base/v1/payment_intents/$pi/capture" -X POST

call create_second "$base/v1/payment_intents" \
  -d amount=1500 -d currency=eur -d "metadata[order_id]=e2e-curl-1002" -d "payment_method_types[]=card"
second=$(python3 "$here/transcript.py" --id "$body")
call cancel "$base/v1/payment_intents/$second/cancel" -d cancellation_reason=requested_by_customer

# The same Idempotency-Key twice (a retry: curl --retry, or an app's own), then an
# identical create with another key: replay serves each the intent recording saw.
retried=(-d amount=600 -d currency=usd -d "metadata[order_id]=e2e-curl-1003")
call create_key_a "$base/v1/payment_intents" -H "Idempotency-Key: e2e-curl-$mode-a" "${retried[@]}"
call retry_key_a "$base/v1/payment_intents" -H "Idempotency-Key: e2e-curl-$mode-a" "${retried[@]}"
call create_key_b "$base/v1/payment_intents" -H "Idempotency-Key: e2e-curl-$mode-b" "${retried[@]}"

call list "$base/v1/payment_intents" -G -d limit=1
last=$(python3 "$here/transcript.py" --last-id "$body")
call list_next "$base/v1/payment_intents" -G -d limit=1 -d "starting_after=$last"

call search "$base/v1/payment_intents/search" -G --data-urlencode "query=metadata['order_id']:'$order'"

# Deliberately invalid: no amount (stripe-vcr --validate strict answers it itself).
call error_missing_amount "$base/v1/payment_intents" -d currency=usd
call error_unknown_id "$base/v1/payment_intents/pi_e2eDoesNotExist000000000"
echo '{"step": "done"}'
