#!/usr/bin/env bash
# The README's first command: set up, build, and run the server in dev mode with the demo page.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release -p vox-messenger-server
exec ./target/release/vox-messenger-server serve --dev --web-root web "$@"
