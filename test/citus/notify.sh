# NOTIFY chronicle_events on a Citus cluster (docs/design/citus.md, "LISTEN
# on a cluster"): the notification is sent by the node that appends, in its
# transaction, so a listener hears the appends of the node it is connected
# to, and a listener on the coordinator hears none.  Sourced by
# test/citus/suite.sh (q, check, $a on w1, $b on w2; sessions.sh's helpers).

for n in coord w1 w2; do
    session_open $n
    session_send $n "LISTEN chronicle_events;"
done
q coord -c "SELECT chronicle.append('$a', 'Deposited', '{\"amount\": 1}')" >/dev/null
q coord -c "SELECT chronicle.append('$b', 'Deposited', '{\"amount\": 1}')" >/dev/null
q coord -c "SELECT chronicle.append('$b', 'Deposited', '{\"amount\": 1}')" >/dev/null
# A statement in each listening session prints what has arrived by then
# (each append above had committed when its psql returned).
for n in coord w1 w2; do
    session_send $n "SELECT 1;"
    session_close $n
done
heard() { grep -c 'Asynchronous notification "chronicle_events" with payload "account"' "$work/session-$1.out"; }
check "a LISTEN on a worker hears that worker's appends, the coordinator none" "0|1|2" "$(heard coord)|$(heard w1)|$(heard w2)"
