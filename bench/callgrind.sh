#!/usr/bin/env bash
# Instructions per replayed request, in user space, counted by callgrind:
# repeatable to about 1 % whatever else the machine is doing, unlike req/s.
#
#   bench/callgrind.sh [stripe-vcr|baseline] [GET|LIST|POST|JSON] [N]
#
# Prints instructions and heap allocations (calls to malloc, calloc and
# realloc) per request. With BIN=<path> another stripe-vcr binary is
# measured (an earlier build, to compare).
# With HTTP2=1 the requests go over HTTP/2 (4 connections, by ALPN).
# With KEEP=<file> the callgrind profile is kept there, for
# `callgrind_annotate --inclusive=yes <file>` or kcachegrind.
#
# Needs the fixture bench/run.py records (target/bench/cassettes and certs),
# valgrind, oha and a release build. The server runs under callgrind with
# instrumentation off; after 200 warm-up requests it is switched on for N
# requests (oha, 4 connections, HTTP/1.1 over TLS) and off again. SHA-256
# runs in software under valgrind (no SHA extensions), which adds about
# 10,000 instructions per request to stripe-vcr's count.
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=${1:-stripe-vcr}; REQUEST=${2:-GET}; N=${3:-3000}
W=target/bench
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -d "$W/cassettes" ] || { echo "run python3 bench/run.py once first (it records $W/cassettes)" >&2; exit 2; }
ID=$(python3 -c "import json,glob;print(json.load(open(glob.glob('$W/cassettes/retrieve-*.json')[0]))['request']['path'].rsplit('/',1)[1])")
case $SERVER in
  stripe-vcr) CMD=("${BIN:-target/release/stripe-vcr}" replay --listen 127.0.0.1:0 --cassettes "$W/cassettes" --certs "$W/certs");;
  baseline) CMD=(target/release/examples/bench-baseline 127.0.0.1:0 "$W/cassettes" "$W/certs");;
  *) echo "server: stripe-vcr or baseline" >&2; exit 2;;
esac
RUST_LOG=${RUST_LOG:-stripe_vcr=info} valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.%p" \
  --instr-atstart=no "${CMD[@]}" >"$OUT/stdout" 2>/dev/null &
PID=$!
PORT=
for _ in $(seq 600); do
  PORT=$(grep -oE 'https://127\.0\.0\.1:[0-9]+' "$OUT/stdout" | head -1 | cut -d: -f3 || true)
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "$PORT" ] || { echo "server did not start" >&2; kill "$PID"; exit 1; }
URL=https://127.0.0.1:$PORT
# The same key, Stripe-Version and create body as bench/run.py.
read -r KEY VERSION BODY < <(python3 -c "import sys; sys.path.insert(0, 'bench'); import run; print(run.KEY, run.VERSION, run.CREATE_BODY)")
JSON_BODY=$(python3 -c "import sys; sys.path.insert(0, 'bench'); import run; print(run.CREATE_JSON)")
case $REQUEST in
  GET) ARGS=(-m GET "$URL/v1/payment_intents/$ID");;
  LIST) ARGS=(-m GET "$URL/v1/payment_intents?limit=3");;
  POST) ARGS=(-m POST -d "$BODY" -T application/x-www-form-urlencoded "$URL/v1/payment_intents");;
  JSON) ARGS=(-m POST -d "$JSON_BODY" -T application/json "$URL/v1/payment_intents");;
  *) echo "request: GET, LIST, POST or JSON" >&2; kill "$PID"; exit 2;;
esac
PROTO=(); [ -n "${HTTP2:-}" ] && PROTO=(--http2)
OHA=(oha --no-tui --output-format json -c 4 "${PROTO[@]}" --cacert "$W/certs/ca.pem"
     -H "Authorization: Bearer $KEY" -H "Stripe-Version: $VERSION" "${ARGS[@]}")
"${OHA[@]}" -n 200 >/dev/null
callgrind_control -i on "$PID" >/dev/null 2>&1
"${OHA[@]}" -n "$N" >"$OUT/oha.json"
callgrind_control -i off "$PID" >/dev/null 2>&1
callgrind_control -d "$PID" >/dev/null 2>&1
sleep 1
kill -INT "$PID"; sleep 2; kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true
PROFILE=$(ls -S "$OUT"/cg.* | head -1)
if [ -n "${KEEP:-}" ]; then cp "$PROFILE" "$KEEP"; fi
TOTAL=$(callgrind_annotate "$PROFILE" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",","",$1); print $1; done=1}')
python3 - "$OUT/oha.json" "$TOTAL" "$N" "$SERVER" "$REQUEST" "$PROFILE" <<'PY'
import json, re, sys
res, total, n, server, request, profile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
codes = json.load(open(res)).get("statusCodeDistribution", {})
if set(codes) != {"200"}:
    sys.exit(f"unexpected statuses {codes}")
# Calls to the allocator's entry points, from callgrind's call records
# (function names are compressed to "(id)" after their first mention).
names, allocs, callee = {}, 0, None
for line in open(profile, errors="replace"):
    m = re.match(r"c?fn=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(2):
            names[m.group(1)] = m.group(2).strip()
        callee = names.get(m.group(1)) if line.startswith("cfn=") else None
    elif line.startswith("calls=") and callee in ("malloc", "calloc", "realloc"):
        allocs += int(line.split("=", 1)[1].split()[0])
print(f"{server} {request}: {total / n:,.0f} instructions, {allocs / n:.1f} allocations per request ({n} requests)")
PY
