#!/usr/bin/env bash
# One-run performance comparison of the bindings (issue 6's performance note). Not a test, not
# in CI. Release builds; ONE release server; then, back to back against that server, the same
# two workloads through
#   Rust    the public Rust API            examples/bench_bindings.rs
#   C       the raw C ABI, from C          bindings/kotlin/bench/ffi_baseline.c (gcc -O2)
#   C++     the C++ wrapper                bindings/cpp/examples/bench.cpp
#   Kotlin  the Kotlin wrapper (JNA)       bindings/kotlin/examples/KotlinBench.kt
# workload 1: $VOX_BENCH_LOCAL (10 000) get_me calls (local, no network; every binding gets the
#             whole current user and reads its name — Rust through Messenger::get_me_user);
# workload 2: $VOX_BENCH_TRIPS (1 000) sequential get_user round trips (by IM id).
# Each program warms up first (2 000 get_me, 50 round trips). Prints the machine load and one
# table with each binding's ratio to Rust.
#
#   scripts/bench-bindings.sh            # honours $CARGO_TARGET_DIR (default: target)
# Needs what the binding tests need (cmake, a C++17 compiler, Java 17+, Maven).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
export CARGO_TARGET_DIR=$TARGET
LOCAL=${VOX_BENCH_LOCAL:-10000}
TRIPS=${VOX_BENCH_TRIPS:-1000}
REL=$TARGET/release

echo "== building (release)" >&2
cargo build -q --release -p vox-messenger-server
# --lib too: with a target filter cargo would build the library only as an rlib (no cdylib).
cargo build -q --release -p vox-messenger --lib --example bench_bindings
scripts/so-link.sh "$REL"
cmake -S bindings/cpp -B "$TARGET/cpp-bench" -DCMAKE_BUILD_TYPE=Release -DVOX_LIB_DIR="$REL" \
  -DVOX_INCLUDE_DIR="$ROOT/include" -DVOX_BUILD_TESTS=OFF >/dev/null
cmake --build "$TARGET/cpp-bench" --target vox_bench -j 2 >/dev/null
gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I"$ROOT/include" bindings/kotlin/bench/ffi_baseline.c \
  -L"$REL" -lvox_messenger -Wl,-rpath,"$REL" -lpthread -ldl -lm -o "$TARGET/ffi_baseline"
(cd bindings/kotlin && mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >&2)
KCP="$ROOT/bindings/kotlin/target/classes:$ROOT/bindings/kotlin/target/test-classes:$(cat bindings/kotlin/target/classpath.txt)"

D=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$D"; }
trap cleanup EXIT
mkfifo "$D/ready"
"$REL/vox-messenger-server" --dev --db "$D/db.sqlite3" --listen 127.0.0.1:0 --plain-listen 127.0.0.1:0 \
  --admin-listen 127.0.0.1:0 --msg-rate-per-second 0 --msg-rate-per-minute 0 >"$D/ready" 2>"$D/server.log" &
SERVER=$!
read -r -t 30 LINE <"$D/ready" || { echo "server did not start"; cat "$D/server.log"; exit 1; }
WS=ws://$(printf '%s' "${LINE#READY }" | sed -n 's/.*"ws":"\([^"]*\)".*/\1/p')
# Keep draining the server's stdout.
cat "$D/ready" >/dev/null &

# The builds above load the machine: let the 1-minute load settle (below $VOX_BENCH_MAX_LOAD,
# default 1.0, for at most $VOX_BENCH_SETTLE_SECS, default 120 s) before measuring.
settle_end=$((SECONDS + ${VOX_BENCH_SETTLE_SECS:-120}))
while [ $SECONDS -lt $settle_end ] &&
  ! awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v m="${VOX_BENCH_MAX_LOAD:-1.0}" 'BEGIN { exit !(l < m) }'; do
  sleep 5
done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== one release server at $WS; load average before: $LOAD_BEFORE; $(nproc) CPUs" >&2
: >"$D/bench"
run() { echo "== $1" >&2; shift; "$@" | tee -a "$D/all" | grep '^BENCH ' >>"$D/bench"; grep -v '^BENCH ' "$D/all" >&2; : >"$D/all"; }
run Rust "$REL/examples/bench_bindings" "$WS" "$LOCAL" "$TRIPS"
run C "$TARGET/ffi_baseline" "$WS" "$LOCAL" "$TRIPS"
run C++ "$TARGET/cpp-bench/vox_bench" "$WS" "$LOCAL" "$TRIPS"
run Kotlin java -Djna.library.path="$REL" -cp "$KCP" com.vox.messenger.examples.KotlinBenchKt "$WS" "$LOCAL" "$TRIPS"
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "One run, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load average before $LOAD_BEFORE, after $LOAD_AFTER"
echo "(release builds, one server, loopback; ratio = binding / Rust, lower is better)"
echo
awk -v local="$LOCAL" -v trips="$TRIPS" '
  { name[NR] = $2; lus[NR] = $4 / $3; tus[NR] = $6 / $5; tms[NR] = $6 / 1000; if ($2 == "Rust") { rl = $4 / $3; rt = $6 / $5 } }
  END {
    printf "| binding | %d get_me: µs/call | ratio | %d get_user round trips: ms total | µs/trip | ratio |\n", local, trips
    printf "| --- | ---: | ---: | ---: | ---: | ---: |\n"
    for (i = 1; i <= NR; i++)
      printf "| %s | %.3f | %.1f× | %.1f | %.1f | %.2f× |\n", name[i], lus[i], lus[i] / rl, tms[i], tus[i], tus[i] / rt
  }' "$D/bench"
