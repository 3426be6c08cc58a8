#!/usr/bin/env bash
# The documentation against the code (test/docs/doctest.py says how):
#   - every public function of the extension has a reference entry in
#     docs/reference/*.md, linked from README.md's index;
#   - every ```sql example in README.md and docs/ runs, in order, in a fresh
#     database per file, and prints exactly the ```text block that follows it.
# Run by test/run.sh against its cluster (libpq variables point at it).
# To write the output of a new example:  python3 test/docs/doctest.py --write FILE
# (then review the diff: the output is what the code printed, right or wrong).
set -euo pipefail
cd "$(dirname "$0")/../.."
# python3 is installed by test/lib/deps.sh: a missing one is a failure, not a skip.
python3 test/docs/doctest.py
