#!/usr/bin/env bash
# The pytest plugin's CI: build the wheel with the stripe-vcr binary inside
# (PEP 517, through pip and maturin, as `pip install ./integrations/python`
# does), install it into a clean venv with nothing else of the repository on
# PATH, and run the plugin's tests with the bundled binary.
#
#   integrations/python/ci.sh            # after `cargo build` (the stand-in upstream)
#
# PROFILE=release builds the binary as a release would (default: dev, which
# reuses `cargo test`'s build). PY_INSTALL_ONLY=1 only prepares the build
# tools (for CI to run while it compiles).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/target/integrations/python"
PROFILE="${PROFILE:-dev}"
# The test dependencies, pinned (the same stripe-python as e2e/).
DEPS=(stripe==15.3.1 pytest==9.2.0 pytest-xdist==3.8.0)

log() { echo "integrations/python: $*" >&2; }
mkdir -p "$OUT"

# pip downloads maturin (the build backend) and the test dependencies into
# its cache; doing it early, with the network, makes the rest local.
if [ "${PY_INSTALL_ONLY:-}" = 1 ]; then
  python3 -m pip download -q --dest "$OUT/downloads" "maturin>=1.5,<2" "${DEPS[@]}" >&2
  exit 0
fi

rm -rf "$OUT/wheels" "$OUT/venv"
log "building the wheel (maturin bin bindings, profile $PROFILE)"
MATURIN_PEP517_ARGS="--profile $PROFILE" \
  python3 -m pip wheel -q --no-deps --wheel-dir "$OUT/wheels" "$ROOT/integrations/python" >&2
WHEEL=$(ls "$OUT"/wheels/pytest_stripe_vcr-*.whl)
python3 -m zipfile -l "$WHEEL" | grep -q 'data/scripts/stripe-vcr' || {
  log "the wheel does not bundle the stripe-vcr binary: $WHEEL"
  exit 1
}
log "installing $(basename "$WHEEL") into a clean venv"
python3 -m venv "$OUT/venv"
"$OUT/venv/bin/pip" install -q "$WHEEL" "${DEPS[@]}" >&2

log "running the plugin's tests with the bundled binary"
cd "$ROOT/integrations/python"
# Nothing of the repository on PATH, no STRIPE_VCR_BIN: the plugin must find
# the binary the wheel installed. The stand-in upstream is a dev-only binary.
env -u STRIPE_VCR_BIN PATH="$OUT/venv/bin:/usr/local/bin:/usr/bin:/bin" \
  STRIPE_VCR_STANDIN="$ROOT/target/debug/stripe-vcr-standin" \
  STRIPE_VCR_EXPECT_BUNDLED="$OUT/venv/bin/stripe-vcr" \
  "$OUT/venv/bin/python" -m pytest -p no:cacheprovider -q tests
