#!/usr/bin/env bash
# Every sql/*.sql is in sql/schedule, once, and every name there has its file:
# a test missing from the schedule would never run.  Exits non-zero otherwise.
# A file whose name ends in _known is a failing test of a known, unfixed
# defect, kept out of the schedule on purpose (run it by name: make test
# REGRESS="setup <name>"); the schedule must not name it.
set -uo pipefail
cd "$(dirname "$0")/../.."
scheduled=$(sed -n 's/^test:[[:space:]]*//p' sql/schedule | tr -s ' \t' '\n' | sed '/^$/d' | sort)
files=$(ls sql/*.sql | sed 's|^sql/||; s|\.sql$||' | grep -v '_known$' | sort)
status=0
for name in $(comm -23 <(echo "$files") <(echo "$scheduled" | sort -u)); do
    echo "sql/$name.sql is not in sql/schedule (add the line: test: $name)"
    status=1
done
for name in $(comm -13 <(echo "$files") <(echo "$scheduled" | sort -u)); do
    echo "sql/schedule names $name, but sql/$name.sql does not exist"
    status=1
done
for name in $(echo "$scheduled" | uniq -d); do
    echo "sql/schedule names $name twice"
    status=1
done
[[ $(sed -n 's/^test:[[:space:]]*//p' sql/schedule | head -1) == setup ]] || {
    echo "sql/schedule must start with setup (it defines what the others use)"
    status=1
}
((status == 0)) && echo "sql/schedule lists every sql/*.sql ($(echo "$files" | wc -l) files)"
exit $status
