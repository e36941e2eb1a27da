#!/usr/bin/env python3
"""tests/system/imports_check.py — every system test and the modules it uses are present.

Loads each tests/system/*_test.py without running it (their work is under
`if __name__ == "__main__"`), so that a module missing from the source
tree or from the distribution tarball (a helper such as next_hop.py left out
of EXTRA_DIST) fails here, in seconds. `make distcheck` runs this instead
of the system tests themselves, which run-tests has already run twice on
the same sources (release and sanitizers).
"""

import glob
import importlib.util
import os
import sys
import traceback

sys.dont_write_bytecode = True  # nothing written into the source tree


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    tests = sorted(glob.glob(os.path.join(here, "*_test.py")))
    if not tests:
        print("no *_test.py beside %s" % __file__)
        return 1
    failed = 0
    for path in tests:
        name = os.path.basename(path)[:-3]
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
        except Exception:  # noqa: BLE001 — every failure to load is reported
            failed += 1
            print("FAIL %s cannot be loaded:\n%s" % (name, traceback.format_exc()))
    print("%d of %d system tests load" % (len(tests) - failed, len(tests)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
