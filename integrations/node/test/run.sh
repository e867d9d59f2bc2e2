#!/usr/bin/env bash
# The Node integration's suite: a sample project (test/sample: a small shop
# and its Jest, Vitest and node:test tests) with `stripe-vcr` installed from
# integrations/node and pinned jest, vitest and stripe from npm, recorded
# against the stand-in upstream, replayed offline, broken on purpose, run in
# `once` and `new_episodes` modes, and run with the binary from a platform
# package.
#
#   bash integrations/node/test/run.sh          # from anywhere in the repository
#
# STRIPE_VCR_BIN and STRIPE_VCR_STANDIN name the binaries (default: the
# workspace's target/debug ones, built first). npm installs are cached under
# target/node-integration/ (skipped when the pinned versions are there);
# scratch files go to target/node-integration/run/. Talks to 127.0.0.1 only.
# NODE_INTEGRATION_INSTALL_ONLY=1 installs and stops, without building or
# needing the binaries (for CI to do early, while it compiles).
# Ends with "N passed, N failed"; exits non-zero on any failure.
set -euo pipefail

cd "$(dirname "$0")/../../.."
ROOT=$PWD
PKG=$ROOT/integrations/node
WORK=$ROOT/target/node-integration
SAMPLE=$WORK/sample
RUN=$WORK/run

JEST=30.5.2
VITEST=4.1.12
STRIPE=22.5.0
TYPESCRIPT=5.9.3
TYPES_NODE=20.19.43
SEED=4242
# How long one test-runner invocation may take before it counts as hung.
RUNNER_TIMEOUT=180

# Only 127.0.0.1 is ever a target: no client may pick up a proxy from the environment.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
# Settings of the developer's shell must not leak into the cases.
unset STRIPE_VCR_RECORD STRIPE_VCR_UPSTREAM STRIPE_VCR_UPSTREAM_CA STRIPE_VCR_CASSETTES STRIPE_VCR_LOG STRIPE_VCR_RUNTIME
unset SAMPLE_AMOUNT_OFFSET SAMPLE_AUDIT STRIPE_API_KEY
export NO_COLOR=1 FORCE_COLOR=0

log() { printf '== %s\n' "$*" >&2; }
started=$SECONDS

# --- binaries -----------------------------------------------------------------

INSTALL_ONLY=${NODE_INTEGRATION_INSTALL_ONLY:-}
if [ -z "$INSTALL_ONLY" ] && { [ -z "${STRIPE_VCR_BIN:-}" ] || [ -z "${STRIPE_VCR_STANDIN:-}" ]; }; then
  log "cargo build --workspace --bins"
  cargo build --workspace --bins --quiet
fi
VCR=$(realpath -m "${STRIPE_VCR_BIN:-$ROOT/target/debug/stripe-vcr}")
STANDIN=$(realpath -m "${STRIPE_VCR_STANDIN:-$ROOT/target/debug/stripe-vcr-standin}")
if [ -z "$INSTALL_ONLY" ]; then
  for bin in "$VCR" "$STANDIN"; do
    [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }
  done
fi
export STRIPE_VCR_BIN=$VCR

# --- the sample project -------------------------------------------------------

PLATFORM=$(node -p 'process.platform + "-" + process.arch')
PLATFORM_DIR=$WORK/platform/$PLATFORM

mkdir -p "$SAMPLE"
# The platform package, as a release makes it, around this build's binary
# (a symlinked dependency of the sample: a new binary needs no reinstall).
# Installing only (CI, while the binaries build): the package without its binary.
if [ -x "$VCR" ]; then
  node "$PKG/scripts/platform-package.mjs" --binary "$VCR" --out "$PLATFORM_DIR" >/dev/null
else
  node "$PKG/scripts/platform-package.mjs" --manifest-only --out "$PLATFORM_DIR" >/dev/null
fi

# Sources afresh on every run; node_modules and the install stamp are kept.
find "$SAMPLE" -mindepth 1 -maxdepth 1 ! -name node_modules ! -name .installed -exec rm -rf {} +
cp -R "$PKG/test/sample/." "$SAMPLE/"
cat >"$SAMPLE/package.json" <<EOF
{
  "name": "stripe-vcr-sample",
  "private": true,
  "devDependencies": {
    "@stripe-vcr/$PLATFORM": "file:$PLATFORM_DIR",
    "@types/node": "$TYPES_NODE",
    "jest": "$JEST",
    "stripe": "$STRIPE",
    "stripe-vcr": "file:$PKG",
    "typescript": "$TYPESCRIPT",
    "vitest": "$VITEST"
  }
}
EOF
stamp=$( (cat "$SAMPLE/package.json"; node --version) | sha256sum | cut -d' ' -f1)
if [ -d "$SAMPLE/node_modules" ] && [ "$(cat "$SAMPLE/.installed" 2>/dev/null)" = "$stamp" ]; then
  log "jest $JEST, vitest $VITEST, stripe $STRIPE, typescript $TYPESCRIPT and stripe-vcr already in ${SAMPLE#"$ROOT"/}"
else
  log "npm install: jest $JEST, vitest $VITEST, stripe $STRIPE, typescript $TYPESCRIPT, stripe-vcr (integrations/node) into ${SAMPLE#"$ROOT"/}"
  rm -f "$SAMPLE/.installed"
  # No lock file: it would record registry host names.
  (cd "$SAMPLE" && npm install --no-package-lock --no-audit --no-fund --prefer-offline --loglevel=error >&2)
  echo "$stamp" >"$SAMPLE/.installed"
fi
if [ -n "$INSTALL_ONLY" ]; then
  exit 0
fi

rm -rf "$RUN" "$SAMPLE/cassettes"
mkdir -p "$RUN"

# --- processes ----------------------------------------------------------------

STANDIN_PID=
cleanup() {
  if [ -n "$STANDIN_PID" ] && kill -0 "$STANDIN_PID" 2>/dev/null; then
    kill "$STANDIN_PID" 2>/dev/null || true
    wait "$STANDIN_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_standin NAME: the seeded stand-in upstream on a free port; sets
# UPSTREAM and UPSTREAM_CA once it has printed the address it listens on.
start_standin() {
  local name=$1 i
  "$STANDIN" --listen 127.0.0.1:0 --cert-out "$RUN/$name-standin-ca.pem" --seed "$SEED" \
    >"$RUN/$name-standin.out" 2>"$RUN/$name-standin.log" &
  STANDIN_PID=$!
  UPSTREAM_CA=$RUN/$name-standin-ca.pem
  for ((i = 0; i < 200; i++)); do
    UPSTREAM=$(sed -n 's/^listening on //p' "$RUN/$name-standin.out" 2>/dev/null)
    [ -n "$UPSTREAM" ] && return 0
    kill -0 "$STANDIN_PID" 2>/dev/null || break
    sleep 0.1
  done
  REASON="the stand-in did not start: $(tail -n 3 "$RUN/$name-standin.log")"
  return 1
}

stop_standin() {
  kill "$STANDIN_PID" 2>/dev/null || true
  wait "$STANDIN_PID" 2>/dev/null || true
  STANDIN_PID=
}

# Runners, each with its output in RUN/NAME.out and a JSON report in
# RUN/NAME.json (jest, vitest); extra arguments go to the runner. Jest gets a
# fresh cache each time: with timings cached from a fast earlier run it
# would run the two files in band, and the suite checks parallel workers.
# RUNNER_PATH, if set, is the PATH the runner (and so the plugin) sees.
NODE=$(command -v node)
runner() {
  local name=$1
  shift
  (cd "$SAMPLE" && timeout "$RUNNER_TIMEOUT" env ${RUNNER_PATH:+PATH="$RUNNER_PATH"} "$NODE" "$@") >"$RUN/$name.out" 2>&1
}
jest() {
  local name=$1
  shift
  runner "$name" node_modules/jest/bin/jest.js --maxWorkers=2 \
    --cacheDirectory "$RUN/jest-cache-$name" --json --outputFile "$RUN/$name.json" "$@"
}
vitest() {
  local name=$1
  shift
  runner "$name" node_modules/vitest/vitest.mjs run --maxWorkers=2 \
    --reporter=default --reporter=json --outputFile.json="$RUN/$name.json" "$@"
}
nodetest() {
  runner "$1" --test test/node/orders.test.mjs
}

# check WHAT ARGS...: one of test/check.mjs's checks; its message is the REASON.
check() {
  local out
  if ! out=$(node "$PKG/test/check.mjs" "$@" 2>&1); then
    REASON=$out
    return 1
  fi
}

# passes NAME RUNNER [ARGS...]: the runner passes.
passes() {
  local name=$1 runner=$2
  shift 2
  if ! "$runner" "$name" "$@"; then
    REASON="$name: $runner failed:"$'\n'"$(tail -n 40 "$RUN/$name.out" | sed 's/^/    /')"
    return 1
  fi
}

# fails NAME RUNNER [ARGS...]: the runner fails (tests failed, nothing crashed).
fails() {
  local name=$1 runner=$2
  shift 2
  if "$runner" "$name" "$@"; then
    REASON="$name: $runner passed, but should have failed"
    return 1
  fi
  [ -s "$RUN/$name.json" ] || {
    REASON="$name: $runner wrote no report:"$'\n'"$(tail -n 20 "$RUN/$name.out" | sed 's/^/    /')"
    return 1
  }
}

# snapshot FILE: every cassette of the sample with its size and mtime.
snapshot() {
  (cd "$SAMPLE/cassettes" && find . -name '*.json' -printf '%p %s %T@\n' | sort) >"$1"
}

# --- the cases ----------------------------------------------------------------

# Sets each sample test must have, and the cassettes (file-name prefixes, one
# per request) each must hold.
CHECKOUT="customers.create payment_methods.create payment_methods.attach create confirm"
export EXPECTED_SETS="
test/jest/checkout.test/checkout-charges-the-cart=$CHECKOUT
test/jest/checkout.test/checkout-places-a-hold-best-effort-aa948140=create
test/jest/refunds.test/refunds-part-of-an-order=$CHECKOUT refunds.create
test/vitest/checkout.test/checkout-charges-the-cart=$CHECKOUT
test/vitest/checkout.test/checkout-places-a-hold-best-effort-aa948140=create
test/vitest/refunds.test/refunds-part-of-an-order=$CHECKOUT refunds.create
test/node/orders.test/charges-the-cart=$CHECKOUT
"

case_unit() {
  if ! node --test "$PKG/test/unit.test.mjs" >"$RUN/unit.out" 2>&1; then
    REASON="unit tests failed:"$'\n'"$(grep -B2 -A12 '^not ok\|^    not ok' "$RUN/unit.out" | head -n 60 | sed 's/^/    /')"
    return 1
  fi
  # What `npm publish` would ship holds every entry point.
  (cd "$PKG" && npm pack --dry-run --json --loglevel=error) >"$RUN/pack.json" 2>"$RUN/pack.err" || {
    REASON="npm pack failed: $(tail -n 5 "$RUN/pack.err")"
    return 1
  }
  check packed "$PKG/package.json" "$RUN/pack.json"
}

# The type declarations, used from TypeScript (ES module and CommonJS faces).
case_types() {
  if ! runner types node_modules/typescript/bin/tsc -p types; then
    REASON="tsc found errors:"$'\n'"$(head -n 30 "$RUN/types.out" | sed 's/^/    /')"
    return 1
  fi
}

# 1. Record every test against the stand-in (all), two workers per runner;
# every test's set holds its own requests and nobody else's.
case_record() {
  export SAMPLE_NOTES=$RUN/record.notes
  start_standin record || return 1
  export STRIPE_VCR_RECORD=all STRIPE_VCR_UPSTREAM=$UPSTREAM STRIPE_VCR_UPSTREAM_CA=$UPSTREAM_CA
  passes record-jest jest || return 1
  passes record-vitest vitest || return 1
  passes record-node nodetest || return 1
  unset STRIPE_VCR_RECORD STRIPE_VCR_UPSTREAM STRIPE_VCR_UPSTREAM_CA
  stop_standin
  check summary "$RUN/record-jest.out" record 12 recorded || return 1
  check summary "$RUN/record-vitest.out" record 12 recorded || return 1
  check summary "$RUN/record-node.out" record 5 recorded || return 1
  check sets "$SAMPLE/cassettes" "$SAMPLE_NOTES" all || return 1
  check workers "$SAMPLE_NOTES" jest 2 || return 1
  check workers "$SAMPLE_NOTES" vitest 2
}

# 2. Replay with the stand-in gone: every runner passes offline, with one run
# of proxies for all workers (global setup) and with one per test file.
case_replay() {
  export SAMPLE_NOTES=$RUN/replay.notes
  snapshot "$RUN/replay.before"
  passes replay-jest jest || return 1
  passes replay-vitest vitest || return 1
  passes replay-node nodetest || return 1
  passes replay-jest-per-file jest --config jest.per-file.config.cjs || return 1
  passes replay-vitest-per-file vitest --config vitest.per-file.config.mjs || return 1
  check summary "$RUN/replay-jest.out" replay 12 hits || return 1
  check summary "$RUN/replay-vitest.out" replay 12 hits || return 1
  check summary "$RUN/replay-node.out" replay 5 hits || return 1
  check sets "$SAMPLE/cassettes" "$SAMPLE_NOTES" none || return 1
  check workers "$SAMPLE_NOTES" jest 2 || return 1
  snapshot "$RUN/replay.after"
  if ! diff -u "$RUN/replay.before" "$RUN/replay.after" >"$RUN/replay.diff"; then
    REASON="replay changed cassettes:"$'\n'"$(sed 's/^/    /' "$RUN/replay.diff")"
    return 1
  fi
}

# 3. A changed parameter fails every test that sends it, with the proxy's
# near-miss message, even where the app swallows the SDK's error.
case_miss() {
  export SAMPLE_AMOUNT_OFFSET=1
  fails miss-jest jest || return 1
  fails miss-vitest vitest || return 1
  unset SAMPLE_AMOUNT_OFFSET
  check misses "$RUN/miss-jest.json" "$RUN/miss-jest.out" || return 1
  check misses "$RUN/miss-vitest.json" "$RUN/miss-vitest.out"
}

# 4. once: a test whose set is gone is recorded, the others are replayed
# (their cassettes untouched). new_episodes: a new request is recorded into
# the sets that make it, then replays offline; sets that did not get it miss.
case_once_and_new_episodes() {
  export SAMPLE_NOTES=$RUN/once.notes
  rm -rf "$SAMPLE/cassettes/test/jest/refunds.test" "$SAMPLE/cassettes/test/vitest/checkout.test/checkout-charges-the-cart"
  snapshot "$RUN/once.before"
  start_standin once || return 1
  export STRIPE_VCR_UPSTREAM=$UPSTREAM STRIPE_VCR_UPSTREAM_CA=$UPSTREAM_CA
  STRIPE_VCR_RECORD=once passes once-jest jest || return 1
  STRIPE_VCR_RECORD=once passes once-vitest vitest || return 1
  snapshot "$RUN/once.after"
  check sets "$SAMPLE/cassettes" "$SAMPLE_NOTES" once || return 1
  check summary "$RUN/once-jest.out" record 6 recorded || return 1
  check summary "$RUN/once-jest.out" replay 6 hits || return 1
  check summary "$RUN/once-vitest.out" record 5 recorded || return 1
  check summary "$RUN/once-vitest.out" replay 7 hits || return 1
  check kept "$RUN/once.before" "$RUN/once.after" || return 1

  snapshot "$RUN/episodes.before"
  SAMPLE_AUDIT=1 STRIPE_VCR_RECORD=new_episodes passes episodes-jest jest || return 1
  unset STRIPE_VCR_UPSTREAM STRIPE_VCR_UPSTREAM_CA
  stop_standin
  snapshot "$RUN/episodes.after"
  check summary "$RUN/episodes-jest.out" replay 2 recorded || return 1
  check added "$RUN/episodes.before" "$RUN/episodes.after" \
    ./test/jest/checkout.test/checkout-charges-the-cart/customers.list \
    ./test/jest/refunds.test/refunds-part-of-an-order/customers.list || return 1
  SAMPLE_AUDIT=1 passes episodes-replay-jest jest || return 1
  check summary "$RUN/episodes-replay-jest.out" replay 14 hits || return 1
  SAMPLE_AUDIT=1 fails episodes-replay-vitest vitest || return 1
  check failed "$RUN/episodes-replay-vitest.json" 2 'GET /v1/customers'
}

# 5. No STRIPE_VCR_BIN and no stripe-vcr on PATH: the binary comes from the
# platform package installed in the sample.
case_platform_package() {
  local bin_dir=$RUN/path-node-only
  mkdir -p "$bin_dir"
  ln -s "$(command -v node)" "$bin_dir/node"
  if PATH=$bin_dir command -v stripe-vcr >/dev/null 2>&1; then
    REASON="stripe-vcr is on the reduced PATH $bin_dir"
    return 1
  fi
  unset STRIPE_VCR_BIN
  RUNNER_PATH=$bin_dir
  passes platform-vitest vitest || return 1
  passes platform-jest jest --config jest.per-file.config.cjs || return 1
  check binary "$RUN/platform-vitest.out" "$PLATFORM_DIR/bin/stripe-vcr" "@stripe-vcr/$PLATFORM" || return 1
  check binary "$RUN/platform-jest.out" "$PLATFORM_DIR/bin/stripe-vcr" "@stripe-vcr/$PLATFORM"
}

# one_case NAME: runs case_NAME in a subshell of its own (its exports and
# stand-in end with it), its failure's reason in RUN/NAME.reason.
one_case() {
  trap cleanup EXIT
  REASON=
  "case_$1" && return 0
  printf '%s\n' "${REASON:-case_$1 failed}" >"$RUN/$1.reason"
  return 1
}

# The cases build on each other (record, then replay what was recorded…): in
# order. NODE_INTEGRATION_CASES="record miss" runs some (record first).
read -r -a cases <<<"${NODE_INTEGRATION_CASES:-unit types record replay miss once_and_new_episodes platform_package}"
passed=0
failed=0
for c in "${cases[@]}"; do
  t0=$SECONDS
  if (one_case "$c"); then
    echo "PASS $c ($((SECONDS - t0)) s)"
    passed=$((passed + 1))
  else
    echo "FAIL $c ($((SECONDS - t0)) s): $(cat "$RUN/$c.reason" 2>/dev/null || echo "(no reason)")"
    failed=$((failed + 1))
  fi
done
log "$((SECONDS - started)) s; files in ${RUN#"$ROOT"/}/"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
