# lib.sh: a Citus coordinator and two workers on loopback, each a throwaway
# cluster (test/lib/cluster.sh), for test/citus/suite.sh and
# test/bench/bench_citus.sh.  Source after test/lib/cluster.sh with PGBIN set.
#   citus_available      Citus's files are installed in the server of pg_config
#   citus_up [conf...]   start citus-coord, citus-w1, citus-w2 (extra
#                        postgresql.conf lines for all three), add the workers,
#                        CREATE EXTENSION chronicle; stopped at exit (at_exit)
#   q NODE ARGS...       psql on coord, w1 or w2 (unaligned tuples)
#   err NODE SQL         the SQLSTATE SQL fails with, empty if it succeeds

citus_available() {
    [[ -e $("$PG_CONFIG" --pkglibdir)/citus.so && -e $("$PG_CONFIG" --sharedir)/extension/citus.control ]]
}

# Three free loopback ports, distinct from each other.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        if ! (echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null && [[ " ${ports[*]:-} " != *" $p "* ]]; then
            echo $p
            return
        fi
    done
}
ports=()
declare -A port

# q NODE SQL...: run SQL on a node, print unaligned tuples.
q() {
    local n=$1
    shift
    "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${port[$n]}" -U postgres -d postgres "$@"
}
# err NODE SQL: the SQLSTATE the statement fails with (empty if it succeeds).
err() {
    local n=$1
    shift
    q "$n" -v VERBOSITY=sqlstate -c "$1" 2>&1 >/dev/null | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\).*/\1/p' | head -1
}

citus_up() {
    local n
    for n in coord w1 w2; do
        port[$n]=$(free_port)
        ports+=("${port[$n]}")
    done
    for n in coord w1 w2; do
        cluster_up "citus-$n" "listen_addresses = '127.0.0.1'" "port = ${port[$n]}" \
            "shared_preload_libraries = 'citus,chronicle'" "max_connections = 100" "$@" || return 1
    done
    for n in coord w1 w2; do
        q $n -c "CREATE EXTENSION citus" || return 1
    done
    q coord -c "SELECT citus_set_coordinator_host('127.0.0.1', ${port[coord]})" >/dev/null || return 1
    q coord -c "SELECT citus_add_node('127.0.0.1', ${port[w1]})" >/dev/null || return 1
    q coord -c "SELECT citus_add_node('127.0.0.1', ${port[w2]})" >/dev/null || return 1
    q coord -c "CREATE EXTENSION chronicle" || return 1
}
