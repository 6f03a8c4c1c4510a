#!/usr/bin/env bash
# Build the Rust library and server, configure and build the C++ wrapper's tests and examples
# with CMake, and run them with ctest (GoogleTest suite against the real server + an install /
# find_package / pkg-config check). Honours $CARGO_TARGET_DIR (default: target); the CMake build
# goes to $VOX_CPP_BUILD_DIR (default: $CARGO_TARGET_DIR/cpp-build). Exits non-zero on failure.
#
#   bindings/cpp/run-tests.sh
#   VOX_CPP_SANITIZE=1 bindings/cpp/run-tests.sh   # AddressSanitizer + UBSan on the C++ side
#   VOX_CPP_VALGRIND=0 bindings/cpp/run-tests.sh   # skip the valgrind run (default: on if installed)
#
# Needs: cargo, cmake >= 3.16, a C++17 compiler, GoogleTest (apt-get install -y cmake libgtest-dev).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case "$TARGET" in /*) ;; *) TARGET=$ROOT/$TARGET ;; esac
BUILD=${VOX_CPP_BUILD_DIR:-$TARGET/cpp-build}

CARGO_TARGET_DIR=$TARGET cargo build -p vox-messenger -p vox-messenger-server
"$ROOT/scripts/so-link.sh" "$TARGET/debug"   # libvox_messenger.so.<ABI>, the SONAME programs load

EXTRA=()
if [ "${VOX_CPP_SANITIZE:-0}" = 1 ]; then
  EXTRA+=(-DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer")
  BUILD=$BUILD-asan
  # The Rust library is not instrumented; only report what the C++ side does.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
elif [ "${VOX_CPP_VALGRIND:-1}" = 1 ] && command -v valgrind >/dev/null; then
  EXTRA+=(-DVOX_TEST_VALGRIND=ON)
else
  EXTRA+=(-DVOX_TEST_VALGRIND=OFF)
fi
cmake -S "$ROOT/bindings/cpp" -B "$BUILD" -DCMAKE_BUILD_TYPE=Debug \
  -DVOX_LIB_DIR="$TARGET/debug" -DVOX_INCLUDE_DIR="$ROOT/include" "${EXTRA[@]}"
cmake --build "$BUILD" -j "${VOX_CPP_JOBS:-2}"
cd "$BUILD"
ctest --output-on-failure --timeout 300
echo "C++ binding tests passed"
