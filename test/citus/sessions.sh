# Sessions that outlive a statement, for test/citus's sections (sourced by
# test/citus/suite.sh; q, work and test/lib's fail and at_exit come from there).
#   hold_open NODE STREAM TYPE / hold_commit NODE
#       a transaction on NODE that appended to STREAM and stays open
#   session_open NODE / session_send NODE SQL / session_close NODE
#       a psql session on NODE (errors do not end it), fed statement by
#       statement; session_send returns once SQL has run

# hold_open NODE STREAM TYPE: on NODE, a transaction appends to STREAM and
# stays open (a fifo-fed psql) until hold_commit NODE.
declare -A hold_fd hold_pid
hold_open() {
    local n=$1 f="$work/subhold-$1" fd
    rm -f "$f" "$f.ready"
    at_exit rm -f "$f" "$f.ready" "$f.out"
    mkfifo "$f"
    chmod a+rw "$f"
    q "$n" <"$f" >"$f.out" 2>&1 &
    hold_pid[$n]=$!
    exec {fd}>"$f"
    hold_fd[$n]=$fd
    echo "BEGIN; SELECT chronicle.append('$2', '$3', '{}');" >&"$fd"
    echo "\\! touch $f.ready" >&"$fd"
    while [[ ! -e $f.ready ]]; do sleep 0.1; done
}
hold_commit() {
    local n=$1
    # \q: the fifo's write end may be open in another holder's psql too.
    printf 'COMMIT;\n\\q\n' >&"${hold_fd[$n]}"
    eval "exec ${hold_fd[$n]}>&-"
    wait "${hold_pid[$n]}"
    grep -q '^ERROR' "$work/subhold-$n.out" && fail "the held transaction on $n: $(cat "$work/subhold-$n.out")"
}
# session_open NODE: a psql on NODE fed through a fifo (session_send NODE
# SQL; session_close NODE waits for it), for a backend that outlives a
# change made elsewhere.
declare -A session_fd session_pid
session_open() {
    local n=$1 f="$work/session-$1" fd
    rm -f "$f" "$f".ok*
    at_exit rm -f "$f" "$f.out"
    mkfifo "$f"
    chmod a+rw "$f"
    q "$n" <"$f" >"$f.out" 2>&1 &
    session_pid[$n]=$!
    exec {fd}>"$f"
    session_fd[$n]=$fd
    printf '\\set ON_ERROR_STOP 0\n\\set VERBOSITY sqlstate\n' >&"$fd"
}
# session_send NODE SQL: run SQL there and wait until it has run.
session_step=0
session_send() {
    local n=$1 f="$work/session-$1"
    session_step=$((session_step + 1))
    printf '%s\n\\! touch %s.ok%d\n' "$2" "$f" "$session_step" >&"${session_fd[$n]}"
    while [[ ! -e $f.ok$session_step ]]; do sleep 0.1; done
}
session_close() {
    local n=$1
    printf '\\q\n' >&"${session_fd[$n]}"
    eval "exec ${session_fd[$n]}>&-"
    wait "${session_pid[$n]}"
    rm -f "$work/session-$n".ok*
}
