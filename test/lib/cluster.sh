# cluster.sh: throwaway PostgreSQL clusters for tests, benchmarks and the demo.
# Source it; it defines functions and touches nothing until they are called.
#
# The extension is installed into a private copy of the server's directory
# tree (binaries copied, libraries and share files symlinked) rather than into
# the system, so tests never depend on or disturb what `make install` put
# there, and several checkouts can test at once.  PostgreSQL finds its share
# and lib directories relative to the postgres binary, so the copied binary
# sees chronicle's files next to the stock ones.
#
# initdb refuses to run as root: as root, every server command runs as the
# `postgres` user (runuser), and the work tree is made writable for it.
# Clusters listen on a Unix socket only (listen_addresses = ''), in their own
# directory, so they never collide on a port.

CHRONICLE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_CONFIG=${PG_CONFIG:-pg_config}

# Where clusters live: tmp/ in the project, unless the postgres user cannot
# reach it (a checkout under /root, say); then a private directory in /tmp.
chronicle_workdir() {
    local dir="$CHRONICLE_ROOT/tmp"
    if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$CHRONICLE_ROOT"; then
        dir="/tmp/chronicle-$(echo "$CHRONICLE_ROOT" | md5sum | cut -c1-12)"
    fi
    mkdir -p "$dir"
    echo "$dir"
}

# Run a command as the cluster's owner.
as_pg() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# private_install DIR [SOURCE]: build, install chronicle (from SOURCE, by default
# this checkout) into DIR's copy of the server tree, and set PGBIN to its binaries.
private_install() {
    local tree=$1 source=${2:-$CHRONICLE_ROOT}
    local bindir pkglibdir sharedir
    bindir=$("$PG_CONFIG" --bindir)
    pkglibdir=$("$PG_CONFIG" --pkglibdir)
    sharedir=$("$PG_CONFIG" --sharedir)

    rm -rf "$tree"
    make -s -C "$source" install DESTDIR="$tree" >/dev/null
    mkdir -p "$tree$bindir"
    cp -a "$bindir/." "$tree$bindir/"
    local src
    for src in "$pkglibdir"/* "$sharedir"/* "$sharedir"/extension/*; do
        local dst="$tree$src"
        [[ -e $dst ]] || ln -s "$src" "$dst"
    done
    chmod -R a+rX "$tree"
    PGBIN="$tree$bindir"
}

# cluster_init NAME [postgresql.conf lines...]: a new data directory under the workdir.
cluster_init() {
    local name=$1
    shift
    local base
    base="$(chronicle_workdir)/$name"
    as_pg "$PGBIN/pg_ctl" -D "$base/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$base"
    mkdir -p "$base/sock"
    [[ $(id -u) -eq 0 ]] && chown -R postgres "$base"
    as_pg "$PGBIN/initdb" -D "$base/data" -U postgres --auth=trust --no-sync \
        --encoding=UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 ||
        { cat "$base/initdb.log" >&2; return 1; }
    {
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$base/sock'"
        echo "port = 5432"
        echo "fsync = off"
        echo "max_prepared_transactions = 10"
        echo "lc_messages = 'C'"
        local line
        for line in "$@"; do echo "$line"; done
    } >>"$base/data/postgresql.conf"
}

# cluster_start NAME: start it and point libpq's variables at it.
cluster_start() {
    local base
    base="$(chronicle_workdir)/$1"
    as_pg "$PGBIN/pg_ctl" -D "$base/data" -l "$base/server.log" -w -t 120 start >/dev/null ||
        { cat "$base/server.log" >&2; return 1; }
    cluster_env "$1"
}

# cluster_env NAME: libpq's variables for NAME.
cluster_env() {
    local base
    base="$(chronicle_workdir)/$1"
    export PGHOST="$base/sock" PGPORT=5432 PGUSER=postgres PGDATABASE=postgres
}

# cluster_stop NAME: stop it (fast) and remove its files.
cluster_stop() {
    local base
    base="$(chronicle_workdir)/$1"
    if [[ -d $base/data ]]; then
        as_pg "$PGBIN/pg_ctl" -D "$base/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    [[ ${KEEP_CLUSTERS:-} == 1 ]] || rm -rf "$base"
}
