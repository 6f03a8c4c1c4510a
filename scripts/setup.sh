#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
[ -f /usr/include/gtest/gtest.h ] || missing+=(libgtest-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v clang >/dev/null 2>&1 || missing+=(clang)
python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi

for dir in web conformance; do
  if [ -f "$dir/package.json" ]; then
    echo "== npm install in $dir"
    if [ -f "$dir/package-lock.json" ]; then
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    else
      (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    fi
  fi
done

# A Swift parser for the Swift package's syntax check (there is no Swift toolchain here).
if [ ! -x target/swift-venv/bin/python ] || ! target/swift-venv/bin/python -c 'import tree_sitter_swift' 2>/dev/null; then
  echo "== tree-sitter-swift (pip, in target/swift-venv)"
  python3 -m venv target/swift-venv
  target/swift-venv/bin/pip install -q tree-sitter==0.26.1 tree-sitter-swift==0.7.4
fi
