#!/usr/bin/env bash
# The README's first command: set up, build, and run the main job on the embedded default —
# a vox-messenger-server (dev mode: SQLite, demo users) and two SDK clients chatting through the
# C ABI (examples/c_chat.sh). Then, unless --no-serve is given, keep a dev server running with
# the browser demo page (official Web SDK) at https://127.0.0.1:8443/ until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== two SDK clients chat through the C ABI"
./examples/c_chat.sh
if [ "${1:-}" = "--no-serve" ]; then
  exit 0
fi
echo "== dev server with the browser demo page (Ctrl-C to stop)"
cargo build --release -p vox-messenger-server
exec ./target/release/vox-messenger-server --dev --web-root web "$@"
