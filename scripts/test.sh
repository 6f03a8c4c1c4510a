#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests (real sockets, real SQLite files), the C test
# program under valgrind, then the official Web SDK conformance test in headless Chromium against
# the real server binary.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo build"
cargo build --workspace --all-targets --locked

echo "== cargo test"
cargo test --workspace --locked

echo "== C test program against the real server, under valgrind"
./tests/c/run.sh

echo "== C++ binding: GoogleTest against the real server (and under valgrind)"
./bindings/cpp/run-tests.sh

echo "== Kotlin/JVM binding: JUnit 5 against the real server"
./bindings/kotlin/run-tests.sh

echo "== Interop: a C++ program and a Kotlin program chat through the server"
./tests/interop/cpp_kotlin_chat.sh

echo "== Swift binding: every C symbol it uses exists in the header (no Swift toolchain here)"
PYTHON_TS="$PWD/target/swift-venv/bin/python" ./bindings/swift/check-symbols.sh

echo "== Web SDK conformance (headless Chromium)"
VOX_SERVER_BIN="$PWD/target/debug/vox-messenger-server" npm --prefix conformance test
