#!/bin/sh
# tests/fuzz/replay.sh — replays every fuzz target's seed corpus (make check).
set -eu
status=0
for target in command_parser server_session ipc_decoder dns_message; do
  corpus="$POSTERN_SRCDIR/tests/fuzz/corpus/$target"
  [ -d "$corpus" ] || { echo "missing corpus $corpus"; exit 1; }
  "$POSTERN_BUILDDIR/tests/fuzz/${target}_replay" "$corpus"/* || status=1
done
exit $status
