"""chronicle's application flow with psycopg 3 (Debian's python3-psycopg).
Run by test/drivers/suite.sh against a database where chronicle and the
reducer drv_order exist.  Prints one line per check; exits 1 on a failure."""
import os
import sys
import threading
import uuid

import psycopg
from psycopg.types.json import Jsonb

failures = 0


def check(what, got, want):
    global failures
    ok = got == want
    failures += not ok
    print(f"{'ok' if ok else 'FAILED'} python: {what}" + ("" if ok else f": got {got!r}, want {want!r}"))


run = uuid.uuid4().hex[:8]
stream = f"py-order-{run}"
a = psycopg.connect("", autocommit=True)
b = psycopg.connect("", autocommit=True)

# 1. Append with an expected version; a conflict (SE001) caught by SQLSTATE, then a retry.
a.execute("SELECT chronicle.append(%s, 'OrderPlaced', %s, expected_version => 0)", (stream, Jsonb({"customer": "ann"})))
seen = 1  # what this client last read
b.execute("SELECT chronicle.append(%s, 'ItemAdded', %s)", (stream, Jsonb({"sku": "b-1", "price": 5})))
conflicts = 0
while True:
    try:
        v = a.execute("SELECT chronicle.append(%s, 'ItemAdded', %s, expected_version => %s)",
                      (stream, Jsonb({"sku": "a-1", "price": 10}), seen)).fetchone()[0]
        break
    except psycopg.DatabaseError as e:
        if e.sqlstate != "SE001" or conflicts > 0:
            raise
        conflicts += 1
        seen = a.execute("SELECT chronicle.stream_version(%s)", (stream,)).fetchone()[0]
check("append with expected version 1 conflicted once (SE001 by SQLSTATE), retried at 2", (conflicts, seen, v), (1, 2, 3))

# 2. A batch append.
batch = [{"type": "ItemAdded", "data": {"sku": f"s-{i}", "price": i}} for i in (1, 2, 3)]
v = a.execute("SELECT chronicle.append_batch(%s, %s, %s)", (stream, Jsonb(batch), v)).fetchone()[0]
check("batch of 3 appended at versions 4..6", v, 6)

# 3. Replay.
state = a.execute("SELECT chronicle.replay(%s, 'drv_order')", (stream,)).fetchone()[0]
check("replay", (state["total"], state["items"]), (21, ["b-1", "a-1", "s-1", "s-2", "s-3"]))

# 4. LISTEN: the notification arrives after another connection's append commits.
a.execute("LISTEN chronicle_events")
got = []


def listen():
    for n in a.notifies():
        got.append((n.channel, n.payload))
        break


t = threading.Thread(target=listen, daemon=True)
t.start()
b.execute("SELECT chronicle.append(%s, 'ItemAdded', %s)", (stream, Jsonb({"sku": "late", "price": 0})))
t.join(30)  # a hang guard: the notification is already on its way
check("notification after the other connection's commit", got, [("chronicle_events", "py")])
if t.is_alive():  # the listener still holds the connection: stop here rather than hang
    print("python: no notification within 30 s", flush=True)
    os._exit(1)
a.execute("UNLISTEN *")

# 5. subscribe / poll / ack.
sub = f"py_sub_{run}"
a.execute("SELECT chronicle.subscribe(%s, category => 'py')", (sub,))
rows = a.execute("SELECT stream_id, version, tx_id, global_position FROM chronicle.poll(%s, 100) WHERE stream_id = %s",
                 (sub, stream)).fetchall()
check("poll returns the stream's 7 events in order", [r[1] for r in rows], [1, 2, 3, 4, 5, 6, 7])
allrows = a.execute("SELECT tx_id, global_position FROM chronicle.poll(%s, 1000)", (sub,)).fetchall()
last = allrows[-1]
a.execute("SELECT chronicle.ack(%s, %s::xid8, %s)", (sub, last[0], last[1]))
after = a.execute("SELECT count(*) FROM chronicle.poll(%s, 100)", (sub,)).fetchone()[0]
b.execute("SELECT chronicle.append(%s, 'ItemAdded', %s)", (stream, Jsonb({"sku": "new", "price": 1})))
new = a.execute("SELECT stream_id, version FROM chronicle.poll(%s, 100)", (sub,)).fetchall()
check("after ack: nothing, then only the new event", (after, new), (0, [(stream, 8)]))

# 6. A tree move into the node's own subtree: TR001 caught by SQLSTATE, nothing changed.
tree = f"py_tree_{run}"
a.execute(f"CREATE TABLE {tree} (id int PRIMARY KEY, parent_id int REFERENCES {tree}, name text)")
a.execute("SELECT chronicle.tree_attach(%s)", (tree,))
a.execute(f"INSERT INTO {tree} VALUES (1, NULL, 'root'), (2, 1, 'child'), (3, 2, 'grandchild')")
before = a.execute(f"SELECT id, lft, rgt FROM {tree} ORDER BY id").fetchall()
state_of_error = None
try:
    a.execute("SELECT chronicle.tree_move(%s, 1, 3)", (tree,))
except psycopg.DatabaseError as e:
    state_of_error = e.sqlstate
after = a.execute(f"SELECT id, lft, rgt FROM {tree} ORDER BY id").fetchall()
problems = a.execute("SELECT count(*) FROM chronicle.tree_validate(%s)", (tree,)).fetchone()[0]
check("tree move into its own subtree is TR001, the tree unchanged", (state_of_error, after == before, problems),
      ("TR001", True, 0))

a.close()
b.close()
print(f"python (psycopg {psycopg.__version__}): {'all checks passed' if not failures else f'{failures} checks failed'}")
sys.exit(1 if failures else 0)
