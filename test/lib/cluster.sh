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
#
#   at_exit CMD [ARGS]         run CMD when the script exits (instead of trap ... EXIT)
#   private_install DIR [SRC]  build and install into DIR's copy of the server; sets PGBIN
#   install_if_needed          PGBIN from test/run.sh, or a private install of this checkout
#   scratch_dir DIR            DIR, emptied, writable by the cluster's owner
#   cluster_up NAME [conf...]  cluster_init + cluster_start, stopped and removed at exit
#   cluster_standby PRIM NAME  a pg_basebackup -R hot standby of PRIM, started; removed at exit
#   cluster_wait_replay PRIM NAME   wait until NAME has replayed what PRIM wrote
#   psql_on NAME DB [ARGS]     psql against cluster NAME without changing libpq's variables
#   scratch_db DB              a new database DB on the current cluster, dropped at exit

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

# at_exit COMMAND [ARGS...]: run COMMAND when the script exits, before the
# commands registered earlier (last in, first out), whatever the exit status,
# which stays the script's.  A failing command does not stop the others.
# Scripts that source this file use it instead of `trap ... EXIT`, which
# would replace the cleanups registered by the functions below.
[[ -v _chronicle_at_exit ]] || _chronicle_at_exit=() # sourced twice: keep what is registered
at_exit() {
    local cmd
    printf -v cmd '%q ' "$@"
    _chronicle_at_exit=("$cmd" "${_chronicle_at_exit[@]}")
    trap _chronicle_run_at_exit EXIT
}
_chronicle_run_at_exit() {
    local cmd
    for cmd in "${_chronicle_at_exit[@]}"; do
        eval "$cmd" || true
    done
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

# install_if_needed: use the private install whose binaries test/run.sh (or
# bench/run.sh) exported as PGBIN; a suite run on its own makes one.
install_if_needed() {
    if [[ -z ${PGBIN:-} ]]; then
        private_install "$(chronicle_workdir)/install" || return 1
    fi
    export PGBIN
}

# scratch_dir DIR: DIR, new and empty, that the cluster's owner may write to.
scratch_dir() {
    rm -rf "$1"
    mkdir -p "$1"
    chmod a+rwx "$1"
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

# cluster_up NAME [postgresql.conf lines...]: cluster_init and cluster_start;
# the cluster is stopped and removed when the script exits.
cluster_up() {
    at_exit cluster_stop "$1"
    cluster_init "$@" || return 1
    cluster_start "$1"
}

# cluster_standby PRIMARY NAME: a hot standby of the running cluster PRIMARY
# (pg_basebackup -R: standby.signal and primary_conninfo), started on its own
# socket directory; libpq's variables then point at it.  Stopped and removed
# at exit, before PRIMARY when PRIMARY was started with cluster_up first.
cluster_standby() {
    local primary=$1 name=$2 base
    base="$(chronicle_workdir)/$name"
    at_exit cluster_stop "$name"
    as_pg "$PGBIN/pg_ctl" -D "$base/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$base"
    mkdir -p "$base/sock"
    if [[ $(id -u) -eq 0 ]]; then chown -R postgres "$base"; fi
    (cluster_env "$primary" && as_pg "$PGBIN/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U postgres \
        -D "$base/data" -R -X stream -c fast --no-sync) || { echo "pg_basebackup of $primary failed" >&2; return 1; }
    echo "unix_socket_directories = '$base/sock'" >>"$base/data/postgresql.conf"
    cluster_start "$name"
}

# cluster_wait_replay PRIMARY STANDBY: wait until STANDBY has replayed
# everything PRIMARY has written so far: the LSNs are polled (60 s at most),
# never a sleep taken as an assertion.
cluster_wait_replay() {
    local target i
    target=$(psql_on "$1" postgres -A -t -c "SELECT pg_current_wal_lsn()") || return 1
    for ((i = 0; i < 600; i++)); do
        if [[ $(psql_on "$2" postgres -A -t -c "SELECT pg_last_wal_replay_lsn() >= '$target'::pg_lsn") == t ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "$2 did not replay up to $target within 60 s" >&2
    return 1
}

# psql_on NAME DB [psql arguments...]: psql (-X) against database DB of cluster
# NAME; libpq's variables of the caller are left as they are.
psql_on() {
    local name=$1 db=$2
    shift 2
    (cluster_env "$name" && "$PGBIN/psql" -X -d "$db" "$@")
}

# scratch_db NAME: a new, empty database NAME on the cluster libpq's variables
# point at (one left over by an earlier run is dropped first); dropped at exit.
scratch_db() {
    drop_db "$1"
    psql -X -q -d postgres -c "CREATE DATABASE $1" || return 1
    at_exit drop_db "$1"
}
drop_db() {
    psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1 || true
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
