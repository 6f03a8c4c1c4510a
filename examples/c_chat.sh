#!/usr/bin/env bash
# The main job in one command: a vox-messenger-server on its embedded defaults (dev mode,
# SQLite, demo users) and two SDK clients chatting through the C ABI (examples/c_chat.c).
#
#   examples/c_chat.sh            # scripted two-user chat, then exit
#
# Uses $CARGO_TARGET_DIR (default: target).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build -q -p vox-messenger -p vox-messenger-server
scripts/so-link.sh "$TARGET/debug"   # libvox_messenger.so.<ABI>, the SONAME the program loads
gcc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -I"$ROOT/include" "$ROOT/examples/c_chat.c" \
  -L"$TARGET/debug" -lvox_messenger -Wl,-rpath,"$TARGET/debug" -lpthread -o "$TARGET/c_chat"

DIR=$(mktemp -d)
mkfifo "$DIR/ready"
"$TARGET/debug/vox-messenger-server" --dev --db "$DIR/db.sqlite3" \
  --listen 127.0.0.1:0 --plain-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$DIR/ready" 2>"$DIR/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
read -r -t 30 LINE <"$DIR/ready"
WS=$(printf '%s' "${LINE#READY }" | sed -n 's/.*"ws":"\([^"]*\)".*/\1/p')
echo "server ready at ws://$WS (interactive: $TARGET/c_chat chat ws://$WS user1@app.acc.voximplant.com secret user2@app.acc)"
"$TARGET/c_chat" demo "ws://$WS"
