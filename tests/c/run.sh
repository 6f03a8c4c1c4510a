#!/usr/bin/env bash
# Build the library and the server, compile tests/c/chat_test.c with gcc against the committed
# header, start the real server, and run the C test under valgrind (zero errors, zero leaks).
#
#   tests/c/run.sh            # valgrind (default)
#   VOX_C_TEST_TOOL=asan tests/c/run.sh   # AddressSanitizer + LeakSanitizer instead
#   VOX_C_TEST_TOOL=none tests/c/run.sh   # plain run
#
# Uses $CARGO_TARGET_DIR (default: target). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
TOOL=${VOX_C_TEST_TOOL:-valgrind}

cargo build -p vox-messenger -p vox-messenger-server
LIBDIR=$TARGET/debug
# The SONAME carries the ABI version; programs linked against the library load that name.
SONAME=$(readelf -d "$LIBDIR/libvox_messenger.so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
ABI=$(sed -n 's/^#define VOX_ABI_VERSION \([0-9]*\).*/\1/p' "$ROOT/include/vox_messenger.h")
[ "$SONAME" = "libvox_messenger.so.$ABI" ] || { echo "SONAME '$SONAME' is not libvox_messenger.so.$ABI"; exit 1; }
echo "SONAME $SONAME"
"$ROOT/scripts/so-link.sh" "$LIBDIR"
OUT=$TARGET/c-tests
mkdir -p "$OUT"

# The header also compiles as C++ (extern "C", static_assert), when a C++ compiler is there.
if command -v g++ >/dev/null; then
  printf '#include "vox_messenger.h"\nint main() { return vox_abi_version() == VOX_ABI_VERSION ? 0 : 1; }\n' |
    g++ -std=c++11 -Wall -Wextra -Werror -pedantic -I"$ROOT/include" -x c++ -fsyntax-only -
fi

CFLAGS=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -pedantic -g -I"$ROOT/include")
LINK=(-L"$LIBDIR" -lvox_messenger -Wl,-rpath,"$LIBDIR" -lpthread -ldl -lm)
RUN=()
case "$TOOL" in
  valgrind)
    command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)"; exit 1; }
    gcc "${CFLAGS[@]}" "$ROOT/tests/c/chat_test.c" -o "$OUT/chat_test" "${LINK[@]}"
    RUN=(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
         --errors-for-leak-kinds=definite,indirect,possible --suppressions="$ROOT/tests/c/valgrind.supp")
    ;;
  asan)
    gcc "${CFLAGS[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer "$ROOT/tests/c/chat_test.c" -o "$OUT/chat_test_asan" "${LINK[@]}"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    RUN=()
    ;;
  none)
    gcc "${CFLAGS[@]}" "$ROOT/tests/c/chat_test.c" -o "$OUT/chat_test" "${LINK[@]}"
    ;;
  *) echo "unknown VOX_C_TEST_TOOL=$TOOL"; exit 2 ;;
esac
BIN=$OUT/chat_test
[ "$TOOL" = asan ] && BIN=$OUT/chat_test_asan

# The real server on ephemeral ports; its first stdout line is `READY {json}`.
DB=$(mktemp -d)
FIFO=$DB/ready
mkfifo "$FIFO"
"$LIBDIR/vox-messenger-server" --dev --db "$DB/db.sqlite3" \
  --listen 127.0.0.1:0 --plain-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --msg-rate-per-second 0 --msg-rate-per-minute 0 >"$FIFO" 2>"$DB/server.log" &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DB"; }
trap cleanup EXIT
read -r -t 30 LINE <"$FIFO" || { echo "server did not start"; cat "$DB/server.log"; exit 1; }
WS=$(printf '%s' "${LINE#READY }" | sed -n 's/.*"ws":"\([^"]*\)".*/\1/p')
[ -n "$WS" ] || { echo "no ws address in: $LINE"; exit 1; }

echo "running $BIN against ws://$WS ($TOOL)"
"${RUN[@]}" "$BIN" "ws://$WS"
echo "C test passed ($TOOL)"
