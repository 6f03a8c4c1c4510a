#!/usr/bin/env bash
# Interop: a C++ program (bindings/cpp/examples/chat.cpp, C++ wrapper only) and a Kotlin program
# (bindings/kotlin/examples/KotlinChat.kt, Kotlin wrapper only) chat with each other through a
# real vox-messenger-server: C++ opens a conversation and writes, Kotlin receives it and answers,
# C++ receives the answer. Needs the C++ examples built (bindings/cpp/run-tests.sh does it) and
# Maven. Fails (non-zero) when a line does not arrive within 60 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
CPP_CHAT=${VOX_CPP_CHAT:-$TARGET/cpp-build/vox_chat}
[ -x "$CPP_CHAT" ] || { echo "no C++ chat example at $CPP_CHAT (run bindings/cpp/run-tests.sh)"; exit 1; }

D=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$D"
}
trap cleanup EXIT
mkfifo "$D/ready" "$D/kotlin.in" "$D/cpp.in"

"$TARGET/debug/vox-messenger-server" --dev --db "$D/db.sqlite3" --listen 127.0.0.1:0 \
  --plain-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$D/ready" 2>"$D/server.log" &
PIDS+=($!)
read -r -t 30 LINE <"$D/ready" || { echo "server did not start"; cat "$D/server.log"; exit 1; }
WS=$(printf '%s' "${LINE#READY }" | sed -n 's/.*"ws":"\([^"]*\)".*/\1/p')

# Hold both stdin pipes open for the lifetime of the chat programs.
exec 3<>"$D/kotlin.in" 4<>"$D/cpp.in"

# wait_for FILE TEXT: until FILE contains TEXT, at most 60 s (polls the program's output).
wait_for() {
  local deadline=$((SECONDS + 60))
  until grep -qF -- "$2" "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "timed out waiting for '$2' in $1:"; cat "$1"; return 1
    fi
    sleep 0.2
  done
}

bindings/kotlin/chat.sh "ws://$WS" user2@app.acc.voximplant.com secret <&3 >"$D/kotlin.out" 2>&1 &
PIDS+=($!)
wait_for "$D/kotlin.out" "waiting for a message"

"$CPP_CHAT" chat "ws://$WS" user1@app.acc.voximplant.com secret user2@app.acc <&4 >"$D/cpp.out" 2>&1 &
PIDS+=($!)
wait_for "$D/cpp.out" "conversation open"

echo "hello Kotlin, this is C++" >&4
wait_for "$D/kotlin.out" "hello Kotlin, this is C++"
echo "hi C++, Kotlin here" >&3
wait_for "$D/cpp.out" "hi C++, Kotlin here"
echo "--- C++ side"; cat "$D/cpp.out"
echo "--- Kotlin side"; grep -v '^\s*$' "$D/kotlin.out" | sed 's/\x1b\[[0-9;]*m//g'
echo "C++ and Kotlin chatted through the server"
