#!/usr/bin/env bash
# scripts/so-link.sh DIR: next to DIR/libvox_messenger.so, create the link named like its SONAME
# (libvox_messenger.so.<ABI>, see build.rs), which programs linked against the library load at
# run time. Idempotent; a no-op where the library has no SONAME (not Linux).
set -euo pipefail
DIR=$1
LIB=$DIR/libvox_messenger.so
[ -f "$LIB" ] || { echo "no $LIB"; exit 1; }
SONAME=$(readelf -d "$LIB" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ -n "$SONAME" ] && [ "$SONAME" != libvox_messenger.so ]; then
  ln -sfn libvox_messenger.so "$DIR/$SONAME"
fi
