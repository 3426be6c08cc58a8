#!/usr/bin/env bash
# Installs with apt-get what building and testing chronicle needs, and only
# what is missing: one `apt-get update` first, nothing at all when complete.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
# python3-psycopg (psycopg 3): the Python client of test/drivers and test/crash.
wanted=(make g++ "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
    python3-psycopg)
missing=()
for pkg in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done

# Packages only some commands need (make bench, make check-valgrind: valgrind), space-separated.
for pkg in ${EXTRA_PACKAGES:-}; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done

# Test drivers (fuzzers, randomized tests) are Python scripts.
command -v python3 >/dev/null || missing+=(python3)
# The Node.js client of test/drivers (node-postgres from npm, pinned by its
# package-lock.json).  A nodejs from elsewhere (NodeSource) brings its own npm,
# which Debian's npm package would conflict with: look for the commands.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if ((${#missing[@]} == 0)); then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "chronicle needs these packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
