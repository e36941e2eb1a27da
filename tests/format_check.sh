#!/bin/sh
# tests/format_check.sh — fails when a C or C++ file of the tree drifts from .clang-format.
#
# Every .cc, .h and .c under the source folders must be exactly what clang-format
# makes of it; the failure lists the files. Fix with
#   clang-format -i $(git ls-files '*.cc' '*.h' '*.c')
set -eu
cd "$POSTERN_SRCDIR"
command -v clang-format >/dev/null || { echo "format_check: clang-format is not installed (./install-deps installs it)"; exit 1; }
files=$(find lib master smtpd qmgr auth ctl man tests -name '*.cc' -o -name '*.h' -o -name '*.c' | sort)
drift=""
for f in $files; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || drift="$drift $f"
done
if [ -n "$drift" ]; then
  echo "format_check: these files differ from what .clang-format makes of them:"
  for f in $drift; do echo "  $f"; done
  exit 1
fi
echo "format_check: $(echo "$files" | wc -l) files follow .clang-format"
