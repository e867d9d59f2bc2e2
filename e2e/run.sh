#!/usr/bin/env bash
# End-to-end client suite: the official Stripe SDKs (and curl) through stripe-vcr,
# recorded against the seeded stand-in upstream, then replayed with no upstream at
# all; every (client x connection mode) must give the same transcript both times.
#
#   e2e/run.sh                 # from the repository root; see e2e/README.md
#   e2e/run.sh python node     # only these clients (python, node, curl)
#
# Installs pinned SDKs under target/e2e/ (skipped when already there), keeps all
# scratch files under target/e2e/run/, talks to 127.0.0.1 only, and ends with
# the line "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
E2E=$ROOT/target/e2e
RUN=$E2E/run
VENV=$E2E/venv
NODE_DIR=$E2E/node
VCR=$ROOT/target/debug/stripe-vcr
STANDIN=$ROOT/target/debug/stripe-vcr-standin

PY_STRIPE=15.3.1
NODE_STRIPE=22.5.0
NODE_PROXY_AGENT=9.1.0
SEED=4242
# How long one flow may take before it counts as hung.
FLOW_TIMEOUT=120

# Only 127.0.0.1 is ever a target: no client may pick up a proxy from the environment.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
export NO_COLOR=1

# Children still running (stand-in, proxy); killed by pid on exit.
declare -a CHILDREN=()
cleanup() {
  local pid
  for pid in "${CHILDREN[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '== %s\n' "$*" >&2; }

# --- build and install --------------------------------------------------------

log "cargo build --workspace --bins"
cargo build --workspace --bins --quiet

install_python() {
  if [ -x "$VENV/bin/python" ] &&
    "$VENV/bin/python" -c "import stripe, sys; sys.exit(stripe.VERSION != '$PY_STRIPE')" 2>/dev/null; then
    log "stripe-python $PY_STRIPE already in ${VENV#"$ROOT"/}"
    return
  fi
  log "installing stripe-python $PY_STRIPE into ${VENV#"$ROOT"/}"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "stripe==$PY_STRIPE"
}

node_pkg_version() {
  node -p "require('$NODE_DIR/node_modules/$1/package.json').version" 2>/dev/null || true
}

install_node() {
  if [ "$(node_pkg_version stripe)" = "$NODE_STRIPE" ] &&
    [ "$(node_pkg_version https-proxy-agent)" = "$NODE_PROXY_AGENT" ]; then
    log "stripe-node $NODE_STRIPE and https-proxy-agent $NODE_PROXY_AGENT already in ${NODE_DIR#"$ROOT"/}"
    return
  fi
  log "installing stripe-node $NODE_STRIPE and https-proxy-agent $NODE_PROXY_AGENT into ${NODE_DIR#"$ROOT"/}"
  mkdir -p "$NODE_DIR"
  # No lock file: it would record registry host names.
  npm install --prefix "$NODE_DIR" --no-package-lock --no-audit --no-fund --loglevel=error \
    "stripe@$NODE_STRIPE" "https-proxy-agent@$NODE_PROXY_AGENT" >&2
}

CLIENTS=("$@")
[ ${#CLIENTS[@]} -gt 0 ] || CLIENTS=(python node curl)
for client in "${CLIENTS[@]}"; do
  case "$client" in
    python) install_python ;;
    node) install_node ;;
    curl) ;;
    *) echo "unknown client $client (python, node, curl)" >&2; exit 2 ;;
  esac
done

rm -rf "$RUN"
mkdir -p "$RUN"

# --- processes ----------------------------------------------------------------

# wait_for_line FILE SED-EXPR PID: prints the first match of SED-EXPR in FILE,
# waiting up to 20 s, as long as PID lives.
wait_for_line() {
  local file=$1 expr=$2 pid=$3 value i
  for ((i = 0; i < 200; i++)); do
    value=$(sed -n "$expr" "$file" 2>/dev/null | head -n 1)
    if [ -n "$value" ]; then
      printf '%s\n' "$value"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# start_standin DIR: sets STANDIN_PID and UPSTREAM.
start_standin() {
  local dir=$1
  "$STANDIN" --listen 127.0.0.1:0 --cert-out "$dir/standin-ca.pem" --seed "$SEED" \
    >"$dir/standin.out" 2>"$dir/standin.log" &
  STANDIN_PID=$!
  CHILDREN+=("$STANDIN_PID")
  UPSTREAM=$(wait_for_line "$dir/standin.out" 's/^listening on //p' "$STANDIN_PID") || {
    REASON="the stand-in did not start: $(tail -n 3 "$dir/standin.log")"
    return 1
  }
}

# start_vcr NAME DIR ARGS...: runs `stripe-vcr ARGS` with output in DIR/NAME.{out,log};
# sets VCR_PID and PORT.
start_vcr() {
  local name=$1 dir=$2
  shift 2
  "$VCR" "$@" --listen 127.0.0.1:0 --cassettes "$dir/cassettes" --certs "$dir/certs" --validate strict \
    >"$dir/$name.out" 2>"$dir/$name.log" &
  VCR_PID=$!
  CHILDREN+=("$VCR_PID")
  PORT=$(wait_for_line "$dir/$name.out" 's|^  listening   https://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$VCR_PID") || {
    REASON="stripe-vcr $name did not start: $(tail -n 3 "$dir/$name.log")"
    return 1
  }
}

# stop PID SIGNAL: signals PID and waits (10 s at most) for it to exit.
stop() {
  local pid=$1 signal=$2 i
  kill "-$signal" "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  local status=0
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    status=1
  fi
  wait "$pid" 2>/dev/null || true
  # Reaped: forget it, so cleanup never signals a recycled pid.
  local kept=() child
  for child in "${CHILDREN[@]}"; do
    [ "$child" = "$pid" ] || kept+=("$child")
  done
  CHILDREN=("${kept[@]}")
  return "$status"
}

# --- the flows ----------------------------------------------------------------

# Requests each flow makes (the SDKs' auto-pagination fetches two pages), not
# counting the SDK's automatic retries: the SDK flows are 18 Payment Intents
# requests and then a 10-request checkout (customers, payment_methods, refunds,
# charges), every one of which must be recorded, none forwarded unrecorded.
declare -A FLOW_REQUESTS=([python]=28 [node]=28 [curl]=15)

# run_flow CLIENT MODE OUT: runs one flow against 127.0.0.1:$PORT with CA $CA.
run_flow() {
  local client=$1 mode=$2 out=$3
  case "$client" in
    python)
      timeout "$FLOW_TIMEOUT" "$VENV/bin/python" "$ROOT/e2e/python/flow.py" \
        --mode "$mode" --port "$PORT" --ca "$CA" --key "$KEY" >"$out.txt" 2>"$out.err"
      ;;
    node)
      NODE_EXTRA_CA_CERTS=$CA E2E_NODE_DIR=$NODE_DIR timeout "$FLOW_TIMEOUT" \
        node "$ROOT/e2e/node/flow.mjs" --mode "$mode" --port "$PORT" --key "$KEY" >"$out.txt" 2>"$out.err"
      ;;
    curl)
      E2E_KEY=$KEY timeout "$FLOW_TIMEOUT" \
        bash "$ROOT/e2e/curl/flow.sh" "$mode" "$PORT" "$CA" >"$out.txt" 2>"$out.err"
      ;;
  esac
}

# summary FILE: prints "total hits misses recorded forwarded errors" from the
# proxy's closing line.
summary() {
  sed -n 's/^stripe-vcr summary: \([0-9]*\) requests\{0,1\}: \([0-9]*\) hits\{0,1\}, \([0-9]*\) miss\(es\)\{0,1\}, \([0-9]*\) recorded, \([0-9]*\) forwarded unrecorded, \([0-9]*\) errors\{0,1\}.*/\1 \2 \3 \5 \6 \7/p' "$1" | tail -n 1
}

# check_validation NAME LOG: exactly one request rejected by strict validation,
# the flow's deliberate create without an amount.
check_validation() {
  local name=$1 log=$2 rejected
  rejected=$(grep 'breaks the documented shape' "$log" || true)
  if [ "$(printf '%s' "$rejected" | grep -c .)" != 1 ] || ! grep -q 'Missing required param: amount' <<<"$rejected"; then
    REASON="$name: strict validation should reject exactly the missing-amount create; it rejected:"$'\n'"$(sed 's/^/    /' <<<"${rejected:-(nothing)}")"
    return 1
  fi
}

# run_case CLIENT MODE: record, then replay, then compare. Sets REASON on failure.
run_case() {
  local client=$1 mode=$2 dir="$RUN/$1-$2" expected rec rep
  local total hits misses recorded forwarded errors
  mkdir -p "$dir"
  REASON=""
  CA=$dir/certs/ca.pem

  # Record: flow -> stripe-vcr record -> seeded stand-in.
  start_standin "$dir" || return 1
  start_vcr record "$dir" record --upstream "$UPSTREAM" --upstream-ca "$dir/standin-ca.pem" || return 1
  KEY=sk_test_e2eRecordOnly${client}Key0123456789
  if ! run_flow "$client" "$mode" "$dir/A"; then
    REASON="record: the flow failed:"$'\n'"$(tail -n 15 "$dir/A.err" | sed 's/^/    /')"
    return 1
  fi
  stop "$VCR_PID" INT || { REASON="stripe-vcr record did not stop on SIGINT"; return 1; }
  stop "$STANDIN_PID" TERM || true

  # Replay: no upstream at all, another key.
  start_vcr replay "$dir" replay || return 1
  KEY=sk_test_e2eReplay${client}Key9876543210
  if ! run_flow "$client" "$mode" "$dir/B"; then
    REASON="replay: the flow failed:"$'\n'"$(tail -n 15 "$dir/B.err" | sed 's/^/    /')"
    return 1
  fi
  stop "$VCR_PID" INT || { REASON="stripe-vcr replay did not stop on SIGINT"; return 1; }

  if [ "$(tail -n 1 "$dir/A.txt")" != '{"step": "done"}' ] && [ "$(tail -n 1 "$dir/A.txt")" != '{"step":"done"}' ]; then
    REASON="record: the transcript does not end with the done step"
    return 1
  fi
  if ! diff -u --label record --label replay "$dir/A.txt" "$dir/B.txt" >"$dir/diff.txt"; then
    REASON="replay differs from record:"$'\n'"$(sed 's/^/    /' "$dir/diff.txt")"
    return 1
  fi
  check_validation record "$dir/record.log" || return 1
  check_validation replay "$dir/replay.log" || return 1

  rec=$(summary "$dir/record.out")
  rep=$(summary "$dir/replay.out")
  if [ -z "$rec" ] || [ -z "$rep" ]; then
    REASON="no 'stripe-vcr summary:' line (record: '$rec', replay: '$rep')"
    return 1
  fi
  expected=${FLOW_REQUESTS[$client]}
  read -r total hits misses recorded forwarded errors <<<"$rec"
  if [ "$client" != curl ]; then
    # The SDK retried the create the stand-in failed once (a 500 recorded
    # before the 200) and the one it answered with Stripe-Should-Retry: true:
    # two requests more.
    expected=$((expected + 2))
    if ! grep -q 'outcome=recorded status=500' "$dir/record.log"; then
      REASON="record: no recorded 500, so the SDK's retry was not exercised"
      return 1
    fi
  fi
  if ! grep -rq '"reuses_idempotency_key_of"' "$dir/cassettes"; then
    REASON="record: no cassette records a retry with the same Idempotency-Key"
    return 1
  fi
  if [ "$total" != "$expected" ] || [ "$recorded" != $((expected - 1)) ] || [ "$misses" != 0 ] ||
    [ "$errors" != 1 ] || [ "$forwarded" != 0 ]; then
    REASON="record summary is '$(grep '^stripe-vcr summary' "$dir/record.out")'; expected $expected requests, $((expected - 1)) recorded, 0 forwarded unrecorded, 1 error (the missing amount)"
    return 1
  fi
  local rec_total=$total rec_recorded=$recorded
  read -r total hits misses recorded forwarded errors <<<"$rep"
  if [ "$misses" != 0 ] || [ "$total" != "$rec_total" ] || [ "$hits" != "$rec_recorded" ] || [ "$errors" != 1 ]; then
    REASON="replay summary is '$(grep '^stripe-vcr summary' "$dir/replay.out")'; expected 0 misses and $rec_recorded hits of $rec_total requests"
    return 1
  fi
  if [ "$client" != curl ] && ! grep -q 'outcome=hit status=500' "$dir/replay.log"; then
    REASON="replay: the recorded 500 was not served before the retry's 200"
    return 1
  fi

  # Nothing secret reached the cassettes.
  if grep -rq "e2eRecordOnly" "$dir/cassettes"; then
    REASON="the record key reached a cassette: $(grep -rl e2eRecordOnly "$dir/cassettes" | head -n 3)"
    return 1
  fi
  if ! "$VCR" verify --cassettes "$dir/cassettes" >"$dir/verify.out" 2>&1; then
    REASON="stripe-vcr verify found problems:"$'\n'"$(tail -n 10 "$dir/verify.out" | sed 's/^/    /')"
    return 1
  fi
}

passed=0
failed=0
started=$SECONDS
for client in "${CLIENTS[@]}"; do
  case "$client" in
    curl) modes=(base-url proxy cli-form) ;;
    *) modes=(base-url proxy) ;;
  esac
  for mode in "${modes[@]}"; do
    if run_case "$client" "$mode"; then
      echo "PASS $client $mode"
      passed=$((passed + 1))
    else
      echo "FAIL $client $mode: $REASON"
      failed=$((failed + 1))
    fi
    cleanup
    CHILDREN=()
  done
done
log "$((SECONDS - started)) s; files in ${RUN#"$ROOT"/}/"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
