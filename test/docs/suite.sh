#!/usr/bin/env bash
# The documentation against the code (test/docs/doctest.py says how):
#   - every public function of the extension has a reference entry in
#     docs/reference/*.md, linked from README.md's index;
#   - every ```sql example in README.md and docs/ runs, in order, in a fresh
#     database per file, and prints exactly the ```text block that follows it;
#   - no file of src/, sql/, expected/, test/, docs/ or README.md points a
#     reader at a numbered section of the contract (the spec file is not in
#     the repository): references go to docs/reference or docs/design.  The
#     released 0.1.0 install script (src/upgrade/chronicle--0.1.0.sql) is
#     kept byte for byte as shipped, so it is left out.
# Run by test/run.sh against its cluster (libpq variables point at it).
# To write the output of a new example:  python3 test/docs/doctest.py --write FILE
# (then review the diff: the output is what the code printed, right or wrong).
set -euo pipefail
cd "$(dirname "$0")/../.."
spec_refs=$(git ls-files -co --exclude-standard -- src sql expected test docs README.md |
    grep -vx 'src/upgrade/chronicle--0.1.0.sql' |
    xargs -d '\n' grep -nIiE 'SPEC[[:space:]]*(section|§)|SPEC\.md' -- 2>/dev/null || true)
if [[ -n $spec_refs ]]; then
    echo "references to the contract's sections, which the repository does not contain"
    echo "(point to docs/reference/<module>.md or docs/design/<topic>.md instead):"
    echo "$spec_refs"
    exit 1
fi
echo "no file points at a section of the contract"
# python3 is installed by test/lib/deps.sh: a missing one is a failure, not a skip.
python3 test/docs/doctest.py
