"""Crash-recovery load and checks for test/crash/suite.sh (psycopg 3).

  crash.py setup DIR              schema: reducer, projection, attached tree
  crash.py load DIR ROUND TARGET  clients append, insert and move until the
                                  server goes away; DIR/reached appears once
                                  TARGET writes of this round were acknowledged
  crash.py kill DIR               kill -9 of a backend blocked inside append
  crash.py check DIR              every acknowledged write is there, and more

Each client records a write in DIR/acks/client-K.log only after COMMIT
returned.  Lines: "E stream version event_id" (an event), "N id parent" (a
node inserted), "M id parent" (a node moved), "D id parent" (a tree write in
flight when the connection was lost: it may or may not have committed).
The crash moment is "after TARGET acknowledged writes"; no check depends on
timing.
"""
import os
import random
import sys
import threading
import time
import uuid

import psycopg
from psycopg.types.json import Jsonb

CLIENTS = 4
STREAMS_PER_CLIENT = 4
NODE_BASE = 1_000_000


def connect(autocommit=False):
    return psycopg.connect("", autocommit=autocommit)


def wait_for_server(limit=120):
    """Connect again after a crash restart (a hang guard, not an assertion)."""
    deadline = time.monotonic() + limit
    while True:
        try:
            with connect(autocommit=True) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def setup(d):
    os.makedirs(os.path.join(d, "acks"), exist_ok=True)
    with connect(autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS chronicle")
        conn.execute("""SELECT chronicle.define_reducer('crash_acct',
            '{"Deposit": {"add": {"balance": "$.amount", "n": 1}, "set": {"last": "@event_id"}}}',
            category => 'acct')""")
        conn.execute("""SELECT chronicle.define_projection('crash_proj', 'crash_acct', 'crash_proj',
            '{"balance": "numeric", "n": "bigint", "last": "text"}')""")
        conn.execute("""CREATE TABLE crash_tree (id bigint PRIMARY KEY,
            parent_id bigint REFERENCES crash_tree, name text)""")
        conn.execute("SELECT chronicle.tree_attach('crash_tree')")


class Shared:
    def __init__(self, target, reached_path):
        self.lock = threading.Lock()
        self.acked = 0
        self.target = target
        self.reached_path = reached_path

    def ack(self, n=1):
        with self.lock:
            self.acked += n
            if self.acked >= self.target and not os.path.exists(self.reached_path):
                open(self.reached_path, "w").close()


def client(k, rnd, d, shared, result):
    rng = random.Random(rnd * 100 + k)
    log = open(os.path.join(d, "acks", f"client-{k}.log"), "a", buffering=1)
    conn = connect()
    streams = [f"acct-{k}-{i}" for i in range(STREAMS_PER_CLIENT)]
    with conn.cursor() as cur:
        versions = {}
        for s in streams:
            cur.execute("SELECT chronicle.stream_version(%s)", (s,))
            versions[s] = cur.fetchone()[0]
        cur.execute("SELECT id, parent_id FROM crash_tree WHERE id >= %s AND id < %s",
                    ((k + 1) * NODE_BASE, (k + 2) * NODE_BASE))
        nodes = dict(cur.fetchall())
        cur.execute("SELECT coalesce(max(id) %% %s, 0) FROM crash_tree WHERE id >= %s AND id < %s",
                    (NODE_BASE, (k + 1) * NODE_BASE, (k + 2) * NODE_BASE))
        next_node = cur.fetchone()[0] + 1
    conn.commit()
    fresh = 0
    in_flight = None  # the tree write whose commit may be lost
    deadline = time.monotonic() + 100  # hang guard only: the suite crashes the server long before
    try:
        while time.monotonic() < deadline:
            op = rng.choice(["single", "single", "batch", "shared", "new", "insert", "insert", "move"])
            with conn.cursor() as cur:
                if op == "single":
                    s = rng.choice(streams)
                    eid = uuid.uuid4()
                    cur.execute("SELECT chronicle.append(%s, 'Deposit', %s, expected_version => %s, event_id => %s)",
                                (s, Jsonb({"amount": rng.randint(1, 100)}), versions[s], eid))
                    v = cur.fetchone()[0]
                    assert v == versions[s] + 1, (s, v, versions[s])
                    conn.commit()
                    versions[s] = v
                    log.write(f"E {s} {v} {eid}\n")
                    shared.ack()
                elif op == "batch":
                    s = rng.choice(streams)
                    eids = [uuid.uuid4() for _ in range(3)]
                    batch = [{"type": "Deposit", "data": {"amount": i + 1}, "event_id": str(e)}
                             for i, e in enumerate(eids)]
                    cur.execute("SELECT chronicle.append_batch(%s, %s, %s)", (s, Jsonb(batch), versions[s]))
                    v = cur.fetchone()[0]
                    assert v == versions[s] + 3, (s, v, versions[s])
                    conn.commit()
                    for i, e in enumerate(eids):
                        log.write(f"E {s} {versions[s] + 1 + i} {e}\n")
                    versions[s] = v
                    shared.ack(3)
                elif op == "shared":
                    # Every client writes these streams: no expected version.
                    s = f"shared-{rng.randint(1, 2)}"
                    eid = uuid.uuid4()
                    cur.execute("SELECT chronicle.append(%s, 'Noted', %s, event_id => %s)",
                                (s, Jsonb({"client": k}), eid))
                    v = cur.fetchone()[0]
                    conn.commit()
                    log.write(f"E {s} {v} {eid}\n")
                    shared.ack()
                elif op == "new":
                    fresh += 1
                    s = f"acct-{k}-r{rnd}-{fresh}"
                    eid = uuid.uuid4()
                    cur.execute("SELECT chronicle.append(%s, 'Deposit', %s, expected_version => 0, event_id => %s)",
                                (s, Jsonb({"amount": 1}), eid))
                    assert cur.fetchone()[0] == 1
                    conn.commit()
                    log.write(f"E {s} 1 {eid}\n")
                    shared.ack()
                elif op == "insert":
                    nid = (k + 1) * NODE_BASE + next_node
                    next_node += 1
                    parent = rng.choice([None] + list(nodes)) if nodes else None
                    in_flight = (nid, parent)
                    if rng.random() < 0.5:
                        cur.execute("INSERT INTO crash_tree (id, parent_id, name) VALUES (%s, %s, 'n')",
                                    (nid, parent))
                    else:
                        cur.execute("SELECT chronicle.tree_insert('crash_tree', %s, %s::bigint)",
                                    (Jsonb({"id": nid, "name": "t"}), parent))
                    conn.commit()
                    in_flight = None
                    nodes[nid] = parent
                    log.write(f"N {nid} {parent}\n")
                    shared.ack()
                elif op == "move" and nodes:
                    nid = rng.choice(list(nodes))
                    parent = rng.choice([None] + list(nodes))
                    in_flight = (nid, parent)
                    try:
                        if rng.random() < 0.5:
                            cur.execute("SELECT chronicle.tree_move('crash_tree', %s::bigint, %s::bigint)",
                                        (nid, parent))
                        else:
                            cur.execute("UPDATE crash_tree SET parent_id = %s WHERE id = %s", (parent, nid))
                        conn.commit()
                    except psycopg.DatabaseError as e:
                        if e.sqlstate != "TR001":  # into its own subtree: refused, nothing written
                            raise
                        conn.rollback()
                        in_flight = None
                        continue
                    in_flight = None
                    nodes[nid] = parent
                    log.write(f"M {nid} {parent}\n")
                    shared.ack()
        result[k] = "still running at the hang guard"
    except psycopg.OperationalError:
        # The server went away: this client's in-flight write is in doubt.
        if in_flight is not None:
            log.write(f"D {in_flight[0]} {in_flight[1]}\n")
        result[k] = "lost"
    except Exception as e:  # noqa: BLE001 - reported, and fails the suite
        result[k] = f"error: {type(e).__name__}: {e}"
    log.close()


def load(d, rnd, target):
    reached = os.path.join(d, "reached")
    if os.path.exists(reached):
        os.remove(reached)
    shared = Shared(target, reached)
    result = {}
    threads = [threading.Thread(target=client, args=(k, rnd, d, shared, result)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = {k: r for k, r in result.items() if r != "lost"}
    print(f"round {rnd}: {shared.acked} writes acknowledged, "
          f"{sum(r == 'lost' for r in result.values())} of {CLIENTS} clients cut off by the crash")
    if bad or len(result) != CLIENTS:
        print(f"clients that did not end by losing the server: {bad}", file=sys.stderr)
        sys.exit(1)


def kill_backend(d):
    """kill -9 of a backend inside chronicle.append: it waits for the stream
    lock that another open transaction holds.  Neither append may survive."""
    holder = connect()
    victim = connect()
    watch = connect(autocommit=True)
    e1, e2 = uuid.uuid4(), uuid.uuid4()
    holder.execute("SELECT chronicle.append('acct-locked', 'Deposit', '{\"amount\": 5}', event_id => %s)", (e1,))
    pid = victim.execute("SELECT pg_backend_pid()").fetchone()[0]
    out = {}

    def blocked():
        try:
            victim.execute("SELECT chronicle.append('acct-locked', 'Deposit', '{\"amount\": 7}', event_id => %s)", (e2,))
            victim.commit()
            out["r"] = "committed"
        except psycopg.OperationalError:
            out["r"] = "lost"

    t = threading.Thread(target=blocked)
    t.start()
    deadline = time.monotonic() + 30  # hang guard
    while True:
        row = watch.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
        if row and row[0] == "Lock":
            break
        if time.monotonic() > deadline:
            sys.exit("the second append never waited for the stream lock")
        time.sleep(0.05)
    os.kill(pid, 9)
    t.join()
    for c in (holder, watch):
        try:
            c.close()
        except Exception:  # noqa: BLE001
            pass
    if out.get("r") != "lost":
        sys.exit(f"the killed backend's append: {out.get('r')}")
    with open(os.path.join(d, "never.log"), "a") as f:
        f.write(f"{e1}\n{e2}\n")
    print(f"kill -9 of backend {pid} waiting inside chronicle.append; the postmaster restarted the others")
    wait_for_server()


NO_DOUBT = object()


def parent_of(text):
    return None if text == "None" else int(text)


def read_acks(d):
    events, nodes = [], {}
    for name in sorted(os.listdir(os.path.join(d, "acks"))):
        with open(os.path.join(d, "acks", name)) as f:
            for line in f:
                kind, *rest = line.split()
                if kind == "E":
                    events.append((rest[0], int(rest[1]), rest[2]))
                elif kind in ("N", "M"):
                    nodes[int(rest[0])] = {"parent": parent_of(rest[1]), "doubt": NO_DOUBT}
                elif kind == "D":
                    n = nodes.setdefault(int(rest[0]), {"parent": "absent", "doubt": NO_DOUBT})
                    n["doubt"] = parent_of(rest[1])
    return events, nodes


def check(d):
    events, nodes = read_acks(d)
    problems = []
    # The clients were cut off, so the postmaster's reset has begun; wait for
    # its recovery to end (a connection made right after a kill -9 can come
    # before the postmaster has even noticed the death).
    wait_for_server(180)
    with connect(autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE acked (stream_id text, version bigint, event_id uuid)")
        with conn.cursor().copy("COPY acked FROM STDIN") as cp:
            for row in events:
                cp.write_row(row)
        missing = conn.execute("""SELECT a.stream_id, a.version, a.event_id FROM acked a
            LEFT JOIN chronicle.events e USING (stream_id, version, event_id)
            WHERE e.event_id IS NULL""").fetchall()
        if missing:
            problems.append(f"{len(missing)} acknowledged events missing, e.g. {missing[:3]}")
        print(f"acknowledged events present: {len(events) - len(missing)} of {len(events)}")

        gaps = conn.execute("""SELECT s.stream_id, s.version, count(e.version), min(e.version), max(e.version)
            FROM chronicle.streams s LEFT JOIN chronicle.events e USING (stream_id)
            GROUP BY s.stream_id, s.version
            HAVING count(e.version) <> s.version OR min(e.version) <> 1 OR max(e.version) <> s.version""").fetchall()
        if gaps:
            problems.append(f"streams whose versions are not 1..version: {gaps[:3]}")
        nstreams = conn.execute("SELECT count(*) FROM chronicle.streams").fetchone()[0]
        print(f"streams with contiguous versions 1..version: {nstreams - len(gaps)} of {nstreams}")

        never = []
        p = os.path.join(d, "never.log")
        if os.path.exists(p):
            never = [line.strip() for line in open(p)]
        there = conn.execute("SELECT count(*) FROM chronicle.events WHERE event_id = ANY(%s::uuid[])",
                             (never,)).fetchone()[0]
        if there:
            problems.append(f"{there} events of uncommitted appends (killed backend) are present")
        if never:
            print(f"uncommitted appends of the killed backend present: {there} of {len(never)}")

        verify = conn.execute("SELECT * FROM chronicle.verify()").fetchall()
        if verify:
            problems.append(f"verify(): {verify[:3]}")
        print(f"verify(): {len(verify)} problems")

        tv = conn.execute("SELECT * FROM chronicle.tree_validate('crash_tree')").fetchall()
        if tv:
            problems.append(f"tree_validate: {tv[:3]}")
        print(f"tree_validate: {len(tv)} problems")
        have = dict(conn.execute("SELECT id, parent_id FROM crash_tree").fetchall())
        wrong = []
        for nid, n in nodes.items():
            allowed = {n["parent"]}
            if n["doubt"] is not NO_DOUBT:
                allowed.add(n["doubt"])
            got = have.get(nid, "absent")
            if got not in allowed:
                wrong.append((nid, got, allowed))
        acked_nodes = sum(n["parent"] != "absent" for n in nodes.values())
        if wrong:
            problems.append(f"{len(wrong)} tree nodes not where the acknowledged writes put them: {wrong[:3]}")
        print(f"acknowledged tree nodes in place: {acked_nodes - len(wrong)} of {acked_nodes} "
              f"({len(have)} rows)")

        # The projection equals a rebuild from the log, and covers every account stream.
        conn.execute("CREATE TEMP TABLE proj_before AS SELECT * FROM crash_proj")
        rows = conn.execute("SELECT chronicle.rebuild_projection('crash_proj')").fetchone()[0]
        diff = conn.execute("""SELECT count(*) FROM (
            (TABLE proj_before EXCEPT ALL TABLE crash_proj) UNION ALL
            (TABLE crash_proj EXCEPT ALL TABLE proj_before)) d""").fetchone()[0]
        if diff:
            problems.append(f"projection differs from its rebuild in {diff} rows")
        stale = conn.execute("""SELECT count(*) FROM chronicle.streams s LEFT JOIN proj_before p USING (stream_id)
            WHERE s.category = 'acct' AND p.version IS DISTINCT FROM s.version""").fetchone()[0]
        if stale:
            problems.append(f"{stale} account streams whose projection row is missing or behind")
        print(f"projection equals its rebuild: {rows} rows, {diff} differing, {stale} behind the log")

        # Writes continue.
        v = conn.execute("SELECT chronicle.stream_version('acct-after')").fetchone()[0]
        nv = conn.execute("SELECT chronicle.append('acct-after', 'Deposit', '{\"amount\": 1}', expected_version => %s)",
                          (v,)).fetchone()[0]
        pv = conn.execute("SELECT version FROM crash_proj WHERE stream_id = 'acct-after'").fetchone()
        nid = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM crash_tree WHERE id < %s", (NODE_BASE,)).fetchone()[0]
        conn.execute("INSERT INTO crash_tree (id, parent_id, name) VALUES (%s, NULL, 'after')", (nid,))
        tv2 = conn.execute("SELECT count(*) FROM chronicle.tree_validate('crash_tree')").fetchone()[0]
        if nv != v + 1 or pv != (nv,) or tv2:
            problems.append(f"writes after the restart: version {v} -> {nv}, projection {pv}, tree problems {tv2}")
        print(f"writes continue: append {v} -> {nv}, projection row at {pv[0] if pv else None}, tree insert valid")
    if problems:
        for p in problems:
            print("FAIL:", p, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "setup":
        setup(d)
    elif cmd == "load":
        load(d, int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "kill":
        kill_backend(d)
    elif cmd == "check":
        check(d)
    else:
        sys.exit(f"unknown command {cmd}")
