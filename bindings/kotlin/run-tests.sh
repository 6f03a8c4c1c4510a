#!/usr/bin/env bash
# Build the Rust library and server (honouring $CARGO_TARGET_DIR, default <repo>/target), then run
# the Kotlin/JVM binding's JUnit 5 tests against them (the tests start the real server).
#
#   bindings/kotlin/run-tests.sh
#   VOX_BENCH=1 bindings/kotlin/run-tests.sh   # also print the timings of BenchTest
#
# Needs cargo, Java 17+ and Maven 3.8+. Exits non-zero on any failure.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR=$ROOT/$CARGO_TARGET_DIR ;; esac

(cd "$ROOT" && cargo build -p vox-messenger -p vox-messenger-server)
test -f "$CARGO_TARGET_DIR/debug/libvox_messenger.so" || { echo "no $CARGO_TARGET_DIR/debug/libvox_messenger.so"; exit 1; }

cd "$HERE"
ARGS=(-q -B -Dstyle.color=never test)
if [ -n "${VOX_BENCH:-}" ]; then ARGS+=(-Dvox.bench=true); fi
mvn "${ARGS[@]}"
echo "Kotlin binding tests passed"
