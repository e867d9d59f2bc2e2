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
# Webhooks (python and node): the `stripe listen` secret the stand-in signs
# with while recording, the one the app is configured with at replay, and one
# that is not the app's (its receiver must reject every delivery).
LISTEN_SECRET=whsec_e2eListenSecretForRecording0123456789
APP_SECRET=whsec_e2eAppSecretForReplay9876543210abcdef
WRONG_SECRET=whsec_e2eWrongSecretNotTheAppsOne00000000
# At least this many events per flow (created, succeeded, charges, refund…).
MIN_EVENTS=5
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

# E2E_INSTALL_ONLY=1: install the SDKs and stop (CI does it early, while it
# compiles, so the run later finds them in place).
if [ -z "${E2E_INSTALL_ONLY:-}" ]; then
  log "cargo build --workspace --bins"
  cargo build --workspace --bins --quiet
fi

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
if [ -n "${E2E_INSTALL_ONLY:-}" ]; then
  exit 0
fi

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

# start_standin DIR [ARGS...]: sets STANDIN_PID and UPSTREAM.
start_standin() {
  local dir=$1
  shift
  "$STANDIN" --listen 127.0.0.1:0 --cert-out "$dir/standin-ca.pem" --seed "$SEED" "$@" \
    >"$dir/standin.out" 2>"$dir/standin.log" &
  STANDIN_PID=$!
  CHILDREN+=("$STANDIN_PID")
  UPSTREAM=$(wait_for_line "$dir/standin.out" 's/^listening on //p' "$STANDIN_PID") || {
    REASON="the stand-in did not start: $(tail -n 3 "$dir/standin.log")"
    return 1
  }
}

# start_vcr NAME DIR ARGS...: runs `stripe-vcr ARGS` with output in DIR/NAME.{out,log},
# listening on $VCR_LISTEN (default 127.0.0.1:0); sets VCR_PID and PORT.
start_vcr() {
  local name=$1 dir=$2
  shift 2
  "$VCR" "$@" --listen "${VCR_LISTEN:-127.0.0.1:0}" --cassettes "$dir/cassettes" --certs "$dir/certs" --validate strict \
    >"$dir/$name.out" 2>"$dir/$name.log" &
  VCR_PID=$!
  CHILDREN+=("$VCR_PID")
  PORT=$(wait_for_line "$dir/$name.out" 's|^  listening   https://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$VCR_PID") || {
    REASON="stripe-vcr $name did not start: $(tail -n 3 "$dir/$name.log")"
    return 1
  }
}

# free_port: a port nothing listens on at 127.0.0.1 (the stand-in must know
# the proxy's webhook URL before the proxy, which needs the stand-in's, starts).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_receiver CLIENT DIR NAME SECRET: the client's webhook receiver app,
# verifying with SECRET, its verified events in DIR/NAME.events and its
# rejections in DIR/NAME.rejected; sets RECEIVER_PID and RECEIVER_PORT.
start_receiver() {
  local client=$1 dir=$2 name=$3 secret=$4
  local args=(--secret "$secret" --transcript "$dir/$name.events" --rejections "$dir/$name.rejected")
  case "$client" in
    python) "$VENV/bin/python" "$ROOT/e2e/python/receiver.py" "${args[@]}" >"$dir/$name.out" 2>"$dir/$name.log" & ;;
    node) E2E_NODE_DIR=$NODE_DIR node "$ROOT/e2e/node/receiver.mjs" "${args[@]}" >"$dir/$name.out" 2>"$dir/$name.log" & ;;
  esac
  RECEIVER_PID=$!
  CHILDREN+=("$RECEIVER_PID")
  RECEIVER_PORT=$(wait_for_line "$dir/$name.out" '1{/^[0-9][0-9]*$/p;}' "$RECEIVER_PID") || {
    REASON="the $name did not start: $(tail -n 3 "$dir/$name.log")"
    return 1
  }
}

# json_get FILE KEY...: prints FILE's JSON value at that path (a key or list index each).
json_get() {
  python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"
}

# lines FILE: how many lines FILE has (0 if it does not exist).
lines() {
  if [ -f "$1" ]; then grep -c '' "$1" || true; else echo 0; fi
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
  # The exit status, for callers that check it (STOPPED_STATUS).
  STOPPED_STATUS=0
  wait "$pid" 2>/dev/null || STOPPED_STATUS=$?
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

# check_replayed_events DIR: the replay receiver verified the same events, in
# the same order, as the recording receiver, and rejected none.
check_replayed_events() {
  local dir=$1
  if [ -s "$dir/replay-receiver.rejected" ]; then
    REASON="replay: the receiver rejected deliveries:"$'\n'"$(sed 's/^/    /' "$dir/replay-receiver.rejected")"
    return 1
  fi
  if ! diff -u --label record --label replay "$dir/record-receiver.events" "$dir/replay-receiver.events" \
    >"$dir/events-diff.txt"; then
    REASON="replay delivered other events than recording did:"$'\n'"$(sed 's/^/    /' "$dir/events-diff.txt")"
    return 1
  fi
}

# check_wrong_secret CLIENT MODE DIR: replayed again to a receiver that
# verifies with another secret than the proxy signs with, every delivery is
# rejected (the signature is real), and the proxy counts them failed.
check_wrong_secret() {
  local client=$1 mode=$2 dir=$3 expected rejected failed
  expected=$(lines "$dir/record-receiver.events")
  start_receiver "$client" "$dir" wrong-receiver "$WRONG_SECRET" || return 1
  start_vcr replay-wrong "$dir" replay --webhook-forward-to "http://127.0.0.1:$RECEIVER_PORT/webhook" \
    --webhook-secret "$APP_SECRET" --webhook-retries 0 --fail-on-webhook-error || return 1
  KEY=sk_test_e2eReplay${client}Key9876543210
  if ! run_flow "$client" "$mode" "$dir/C"; then
    REASON="replay (wrong secret): the flow failed:"$'\n'"$(tail -n 15 "$dir/C.err" | sed 's/^/    /')"
    return 1
  fi
  if ! curl -sS --fail -X POST "http://127.0.0.1:$PORT/__stripe-vcr/webhooks/flush" >"$dir/wrong-flush.json" 2>&1 ||
    ! curl -sS --fail "http://127.0.0.1:$PORT/__stripe-vcr/stats" >"$dir/wrong-stats.json" 2>&1; then
    REASON="replay (wrong secret): flush or stats failed: $(cat "$dir/wrong-flush.json" "$dir/wrong-stats.json" 2>/dev/null)"
    return 1
  fi
  stop "$VCR_PID" INT || { REASON="stripe-vcr replay (wrong secret) did not stop on SIGINT"; return 1; }
  if [ "$STOPPED_STATUS" -eq 0 ]; then
    REASON="replay (wrong secret): --fail-on-webhook-error, yet stripe-vcr exited 0 with every delivery refused"
    return 1
  fi
  stop "$RECEIVER_PID" TERM || true
  rejected=$(lines "$dir/wrong-receiver.rejected")
  # (stripe-vcr 0c12ce9 nests the webhook counters under "sets".)
  failed=$(json_get "$dir/wrong-stats.json" webhooks failed 2>/dev/null ||
    json_get "$dir/wrong-stats.json" sets webhooks failed 2>/dev/null || echo "?")
  if [ -s "$dir/wrong-receiver.events" ] || [ "$rejected" != "$expected" ] || [ "$failed" != "$expected" ]; then
    REASON="replay (wrong secret): the receiver accepted $(lines "$dir/wrong-receiver.events") and rejected $rejected deliveries, the proxy counts $failed failed; expected all $expected rejected and failed"
    return 1
  fi
  if ! diff -u --label record --label replay-wrong "$dir/A.txt" "$dir/C.txt" >"$dir/diff-wrong.txt"; then
    REASON="replay (wrong secret) differs from record:"$'\n'"$(sed 's/^/    /' "$dir/diff-wrong.txt")"
    return 1
  fi
}

# check_faults CLIENT MODE DIR: replayed with --webhook-duplicates and
# --webhook-shuffle, the receiver (the SDK's verification) gets every recorded
# event exactly twice, each right after itself, and the events that followed
# one interaction in another order than recorded.
check_faults() {
  local client=$1 mode=$2 dir=$3
  start_receiver "$client" "$dir" faults-receiver "$APP_SECRET" || return 1
  start_vcr replay-faults "$dir" replay --webhook-forward-to "http://127.0.0.1:$RECEIVER_PORT/webhook" \
    --webhook-secret "$APP_SECRET" --webhook-duplicates --webhook-shuffle || return 1
  KEY=sk_test_e2eReplay${client}Key9876543210
  if ! run_flow "$client" "$mode" "$dir/D"; then
    REASON="replay (faults): the flow failed:"$'\n'"$(tail -n 15 "$dir/D.err" | sed 's/^/    /')"
    return 1
  fi
  if ! curl -sS --fail -X POST "http://127.0.0.1:$PORT/__stripe-vcr/webhooks/flush" >"$dir/faults-flush.json" 2>&1; then
    REASON="replay (faults): flush failed: $(cat "$dir/faults-flush.json")"
    return 1
  fi
  stop "$VCR_PID" INT || { REASON="stripe-vcr replay (faults) did not stop on SIGINT"; return 1; }
  stop "$RECEIVER_PID" TERM || true
  if ! python3 - "$dir/record-receiver.events" "$dir/faults-receiver.events" "$dir/faults-receiver.rejected" >"$dir/faults.txt" 2>&1 <<'PY'
import sys
recorded = open(sys.argv[1]).read().splitlines()
got = open(sys.argv[2]).read().splitlines()
try:
    rejected = open(sys.argv[3]).read().splitlines()
except FileNotFoundError:
    rejected = []
assert not rejected, f"the receiver rejected {len(rejected)} deliveries"
assert len(got) == 2 * len(recorded), f"{len(got)} deliveries for {len(recorded)} events"
pairs = [got[i] for i in range(0, len(got), 2)]
assert all(got[i] == got[i + 1] for i in range(0, len(got), 2)), "a duplicate did not follow its event"
assert sorted(pairs) == sorted(recorded), "not the recorded events"
assert pairs != recorded, "shuffled, yet in the recorded order"
print(f"{len(recorded)} events, each twice, {sum(a != b for a, b in zip(pairs, recorded))} out of place")
PY
  then
    REASON="replay (faults): $(tail -n 1 "$dir/faults.txt")"
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

  # Webhooks for the SDK clients: the stand-in sends its events, as `stripe
  # listen` forwards them, to the proxy, which records them and forwards them
  # to the client's receiver app; replay delivers them again, signed afresh.
  local hooks=false
  local standin_hooks=() record_hooks=() replay_hooks=()
  [ "$client" = curl ] || hooks=true

  # Record: flow -> stripe-vcr record -> seeded stand-in.
  if $hooks; then
    start_receiver "$client" "$dir" record-receiver "$LISTEN_SECRET" || return 1
    record_hooks=(--webhook-forward-to "http://127.0.0.1:$RECEIVER_PORT/webhook" --webhook-secret "$LISTEN_SECRET")
    VCR_LISTEN=127.0.0.1:$(free_port)
    standin_hooks=(--webhook-url "http://$VCR_LISTEN/__stripe-vcr/webhooks" --webhook-secret "$LISTEN_SECRET")
  fi
  start_standin "$dir" "${standin_hooks[@]}" || return 1
  start_vcr record "$dir" record --upstream "$UPSTREAM" --upstream-ca "$dir/standin-ca.pem" "${record_hooks[@]}" || return 1
  VCR_LISTEN=
  KEY=sk_test_e2eRecordOnly${client}Key0123456789
  if ! run_flow "$client" "$mode" "$dir/A"; then
    REASON="record: the flow failed:"$'\n'"$(tail -n 15 "$dir/A.err" | sed 's/^/    /')"
    return 1
  fi
  if $hooks; then
    # Every event the flow caused has gone through the proxy to the receiver.
    if ! curl -sS --fail --cacert "$dir/standin-ca.pem" -X POST "$UPSTREAM/__standin/webhooks/flush" \
      >"$dir/standin-flush.json" 2>&1; then
      REASON="record: the stand-in's webhook flush failed: $(cat "$dir/standin-flush.json")"
      return 1
    fi
  fi
  stop "$VCR_PID" INT || { REASON="stripe-vcr record did not stop on SIGINT"; return 1; }
  stop "$STANDIN_PID" TERM || true
  if $hooks; then
    stop "$RECEIVER_PID" TERM || true
    local sent events failed_sends
    sent=$(json_get "$dir/standin-flush.json" delivered)
    failed_sends=$(json_get "$dir/standin-flush.json" failed)
    events=$(lines "$dir/record-receiver.events")
    if [ "$failed_sends" != 0 ] || [ "$sent" -lt "$MIN_EVENTS" ] || [ "$events" != "$sent" ]; then
      REASON="record: the stand-in sent $sent events ($failed_sends failed), the receiver verified $events; expected at least $MIN_EVENTS, all verified"
      return 1
    fi
    if [ -s "$dir/record-receiver.rejected" ]; then
      REASON="record: the receiver rejected deliveries:"$'\n'"$(sed 's/^/    /' "$dir/record-receiver.rejected")"
      return 1
    fi
    if grep -q 'webhook signature does not check\|webhook delivery without a Stripe-Signature' "$dir/record.log"; then
      REASON="record: the proxy found a bad stand-in signature: $(grep -m1 'webhook' "$dir/record.log")"
      return 1
    fi
    if [ "$(find "$dir/cassettes" -name 'webhook-*.json' | wc -l)" != "$sent" ]; then
      REASON="record: $sent events sent but $(find "$dir/cassettes" -name 'webhook-*.json' | wc -l) event cassettes"
      return 1
    fi
    start_receiver "$client" "$dir" replay-receiver "$APP_SECRET" || return 1
    replay_hooks=(--webhook-forward-to "http://127.0.0.1:$RECEIVER_PORT/webhook" --webhook-secret "$APP_SECRET")
  fi

  # Replay: no upstream at all, another key.
  start_vcr replay "$dir" replay "${replay_hooks[@]}" || return 1
  KEY=sk_test_e2eReplay${client}Key9876543210
  if ! run_flow "$client" "$mode" "$dir/B"; then
    REASON="replay: the flow failed:"$'\n'"$(tail -n 15 "$dir/B.err" | sed 's/^/    /')"
    return 1
  fi
  if $hooks && ! curl -sS --fail -X POST "http://127.0.0.1:$PORT/__stripe-vcr/webhooks/flush" \
    >"$dir/replay-flush.json" 2>&1; then
    REASON="replay: the proxy's webhook flush failed: $(cat "$dir/replay-flush.json")"
    return 1
  fi
  stop "$VCR_PID" INT || { REASON="stripe-vcr replay did not stop on SIGINT"; return 1; }
  if $hooks; then
    stop "$RECEIVER_PID" TERM || true
    check_replayed_events "$dir" || return 1
    # Signatures and delivery faults do not depend on how the app reached
    # the proxy: checked once per SDK.
    if [ "$mode" = base-url ]; then
      check_wrong_secret "$client" "$mode" "$dir" || return 1
      check_faults "$client" "$mode" "$dir" || return 1
    fi
  fi

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

# The cases are independent (each its own directory, stand-in, proxy and
# ports), and mostly wait on processes starting and answering: two run at a
# time (E2E_JOBS). Results are printed in case order once all are done.
cases=()
for client in "${CLIENTS[@]}"; do
  case "$client" in
    curl) modes=(base-url proxy cli-form) ;;
    *) modes=(base-url proxy) ;;
  esac
  for mode in "${modes[@]}"; do
    cases+=("$client $mode")
  done
done

# one_case CLIENT MODE: runs a case in a subshell of its own, its result in
# RUN/CLIENT-MODE.result; its processes are stopped however it ends.
one_case() {
  local client=$1 mode=$2
  CHILDREN=()
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  if run_case "$client" "$mode"; then
    echo "PASS $client $mode" >"$RUN/$client-$mode.result"
  else
    echo "FAIL $client $mode: $REASON" >"$RUN/$client-$mode.result"
  fi
}

JOBS=${E2E_JOBS:-2}
started=$SECONDS
running=0
for c in "${cases[@]}"; do
  # shellcheck disable=SC2086 # "client mode", split on purpose
  (one_case $c) &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

passed=0
failed=0
for c in "${cases[@]}"; do
  result="$RUN/${c/ /-}.result"
  if [ -f "$result" ] && grep -q '^PASS ' "$result"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
  cat "$result" 2>/dev/null || echo "FAIL $c: the case ended without a result"
done
log "$((SECONDS - started)) s; files in ${RUN#"$ROOT"/}/"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
