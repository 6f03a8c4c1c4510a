#!/usr/bin/env bash
# Run examples/KotlinChat.kt (compiled with the test sources) against the native library cargo built.
#   bindings/kotlin/chat.sh ws://127.0.0.1:PORT user1@app.acc.voximplant.com secret [PEER]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
cd "$HERE"
mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >&2
exec java -Djna.library.path="$TARGET/debug" \
  -cp "target/classes:target/test-classes:$(cat target/classpath.txt)" \
  com.vox.messenger.examples.KotlinChatKt "$@"
