#!/usr/bin/env python3
"""Pairwise concurrency suite for chronicle (issue 17).

For every pair (A, B) of chronicle's writing operations (OPS below, A may
equal B), three sessions run transactions against the same few objects:
session 0 runs A, session 1 runs B, session 2 either.  A controller steps
them statement by statement (BEGIN, the operation, COMMIT or ROLLBACK) in a
seeded random order.  After most steps it waits until the statement has
finished or is blocked on another session's lock (pg_isolation_test_session_
is_blocked, as the isolation tester does), so transactions are held open
while others run into their locks; after the others it goes on at once, so
two statements also run truly at the same time.  When every session is mid-
statement and blocked, only PostgreSQL's deadlock detector can end the wait.

A round fails on:
  - 40P01 (deadlock) or XX000 (internal error) from any statement, a lost
    connection, or an error code the operation does not list as a legitimate
    answer (an unknown name, a refused move, 40001 under REPEATABLE READ, ...);
  - a wait nobody can end (every session blocked for HANG_SECONDS);
  - afterwards: an event committed by the driver that is missing, one it did
    not commit that is there, a duplicated one, a gap in a stream's versions
    or a stream version that is not its event count, verify() rows; a tree
    table attached without chronicle's triggers or with them but not
    attached; a tree that tree_validate() faults; a projection row (or a missing or extra one)
    that differs from a full fold of the log; a snapshot of a reducer's
    current revision that differs from a full fold up to its version; a
    replay() that differs from the full fold.
After a failed check the state is repaired (projection rebuilt, snapshots
pruned, tree rebuilt) so later pairs are judged on their own.

The interleavings are seeded (CONCURRENCY_SEED, printed), the work is
bounded (CONCURRENCY_ROUNDS rounds per pair, TXNS transactions per session
and round); how far a statement that runs concurrently gets before the next
is sent depends on the machine, so a failure is reported with its pair,
round and the statements run, and CONCURRENCY_ONLY=op[,op] reruns the pairs
that involve those operations.

A new writing function joins by one entry in OPS.
"""
import os
import random
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pq  # noqa: E402

DB = os.environ.get("CONCURRENCY_DB", "chronicle_concurrency")
SEED = int(os.environ.get("CONCURRENCY_SEED", "17"))
ROUNDS = int(os.environ.get("CONCURRENCY_ROUNDS", "3"))
TXNS = int(os.environ.get("CONCURRENCY_TXNS", "3"))
ONLY = [o for o in os.environ.get("CONCURRENCY_ONLY", "").split(",") if o]
HANG_SECONDS = 60
SESSIONS = 3

STREAMS = ["acc-1", "acc-2", "acc-3"]
REDUCERS = ["bal", "tagsum"]
PROJECTIONS = {"pbal": "pbal", "pbal2": "pbal2"}  # name -> table (in public)
TREES = ["tr", "tu", "tx"]  # tr scoped by site; tx is attached and detached
ATTACH_ARGS = {"tr": "'tr', scope_column => 'site'", "tu": "'tu'", "tx": "'tx'"}

# Two spellings of each definition: redefining alternates between them, so
# every call changes the stored row (and fires its triggers) while what the
# definitions compute stays checkable.  bal's two forms compute the same
# state (its projection must stay equal to a fold without a rebuild, which
# is documented as needed after a change of meaning); tagsum's differ (a
# new revision: its older snapshots are simply never used).
BAL_RULES = [
    '{"Dep": {"add": {"balance": "$.amount"}}, "Wd": {"sub": {"balance": "$.amount"}}}',
    '{"Dep": [{"add": {"balance": "$.amount"}}], "Wd": [{"sub": {"balance": "$.amount"}}]}',
]
TAGSUM_RULES = [
    '{"Tag": {"add": {"total": "$.w"}, "max": {"top": "$.n"}}}',
    '{"Tag": {"add": {"total": "$.w"}, "max": {"top": "$.n"}}, "Dep": {"add": {"deps": 1}}}',
]
DEP_SCHEMAS = [
    '{"type": "object", "properties": {"amount": {"type": "integer"}}}',
    '{"type": "object", "properties": {"amount": {"type": "number"}}}',
]

SETUP = """
CREATE EXTENSION chronicle;
SELECT chronicle.define_reducer('bal', '%s'::jsonb, 'acc', 3);
SELECT chronicle.define_reducer('tagsum', '%s'::jsonb, 'acc', 2);
SELECT chronicle.define_event_type('Dep', '%s'::jsonb);
SELECT chronicle.define_upcaster('Tag', 1, '{"set": {"w": 1}}');
SELECT chronicle.define_projection('pbal', 'bal', 'public.pbal', '{"balance": "numeric"}');
SELECT chronicle.subscribe('subA', 'acc');
CREATE SEQUENCE tree_ids START 1000;
CREATE TABLE tr (id int PRIMARY KEY, parent_id int, site int NOT NULL);
CREATE TABLE tu (id int PRIMARY KEY, parent_id int);
CREATE TABLE tx (id int PRIMARY KEY, parent_id int);
INSERT INTO tr SELECT g, NULL, g FROM generate_series(1, 3) g;
INSERT INTO tr SELECT g, 1 + g %% 3, 1 + g %% 3 FROM generate_series(4, 30) g;
INSERT INTO tu SELECT g, NULLIF(g / 2, 0) FROM generate_series(1, 30) g;
INSERT INTO tx SELECT g, NULLIF(g / 3, 0) FROM generate_series(1, 30) g;
SELECT chronicle.tree_attach(%s);
SELECT chronicle.tree_attach(%s);
SELECT chronicle.tree_attach(%s);
""" % (BAL_RULES[0], TAGSUM_RULES[0], DEP_SCHEMAS[0], ATTACH_ARGS["tr"], ATTACH_ARGS["tu"], ATTACH_ARGS["tx"])


class World:
    """What the driver knows: the events it committed, the largest tree id."""

    def __init__(self):
        self.expected = set()  # event_ids committed by the driver
        self.max_id = {t: 30 for t in TREES}
        self.ids = {t: [] for t in TREES}
        self.focus(random.Random(0))

    def focus(self, rng):
        """The objects one round's operations mostly use, so that they meet."""
        self.streams = rng.sample(STREAMS, rng.randint(1, 2))
        self.tree = rng.choice(TREES)
        self.reducer = rng.choice(REDUCERS)

    def stream(self, rng):
        return rng.choice(self.streams if rng.random() < 0.9 else STREAMS)

    def tree_table(self, rng):
        return self.tree if rng.random() < 0.9 else rng.choice(TREES)

    def reducer_name(self, rng):
        return self.reducer if rng.random() < 0.8 else rng.choice(REDUCERS)

    def uuid(self, rng):
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def q(s):
    return "'" + s.replace("'", "''") + "'"


# ---------------------------------------------------------------- operations
# Each entry: name -> (generate(rng, world) -> (sql, effect), allowed codes,
# options).  effect is the set of event_ids the statement appends (applied
# when its transaction commits), or None.  Options: "tx": False runs the
# statement outside a transaction block (a procedure that commits);
# "requires": a function that must exist, else the entry is skipped (listed
# for functions still to come).

def op_append(rng, w):
    s = w.stream(rng)
    t = rng.choice(["Dep", "Wd", "Tag", "Dep", "Wd", "Tag", "U1", "U2", "U3"])
    data = '{"amount": %d}' % rng.randint(1, 9) if t in ("Dep", "Wd") else '{"n": %d}' % rng.randint(1, 9)
    e = w.uuid(rng)
    return ("SELECT chronicle.append(%s, %s, %s, NULL, NULL, %s)" % (q(s), q(t), q(data), q(e)), {e})


def op_append_batch(rng, w):
    s = w.stream(rng)
    ids, items = set(), []
    for _ in range(rng.randint(2, 4)):
        e = w.uuid(rng)
        ids.add(e)
        t = rng.choice(["Dep", "Wd", "Tag", "U1"])
        data = '{"amount": %d}' % rng.randint(1, 9) if t in ("Dep", "Wd") else '{"n": %d}' % rng.randint(1, 9)
        items.append('{"type": "%s", "data": %s, "event_id": "%s"}' % (t, data, e))
    return ("SELECT chronicle.append_batch(%s, %s)" % (q(s), q("[" + ", ".join(items) + "]")), ids)


def op_append_events(rng, w):
    # append_events (docs/reference/dcb.md) over two streams, without a condition or with
    # one over the same few tags and types the sessions write, so that
    # conditions meet each other's writes (crossing conditions included),
    # after the position of the newest event its transaction sees.
    a, b = rng.sample(STREAMS, 2)
    ea, eb = w.uuid(rng), w.uuid(rng)
    ta, tb = rng.choice(["t:x", "t:y", "t:z"]), rng.choice(["t:x", "t:y", "t:z"])
    events = ('[{"stream_id": "%s", "type": "Dep", "data": {"amount": 1}, "event_id": "%s", "tags": ["%s"]},'
              ' {"stream_id": "%s", "type": "Wd", "data": {"amount": 1}, "event_id": "%s", "tags": ["%s", "t:w"]}]'
              % (a, ea, ta, b, eb, tb))
    cond = rng.choice([None, '{"items": [{"tags": ["t:x"]}]}', '{"items": [{"tags": ["t:y"]}]}',
                       '{"items": [{"tags": ["t:z"]}, {"tags": ["t:x"]}]}', '{"items": [{"types": ["Wd"]}]}',
                       '{"items": [{"tags": ["t:nothing"]}]}'])
    if cond is None:
        return ("SELECT count(*) FROM chronicle.append_events(%s)" % q(events), {ea, eb})
    newest = "(SELECT %s FROM chronicle.events ORDER BY tx_id DESC, global_position DESC LIMIT 1)"
    return ("SELECT count(*) FROM chronicle.append_events(%s, %s, %s, %s)"
            % (q(events), q(cond), newest % "tx_id", newest % "global_position"), {ea, eb})


def op_redact(rng, w):
    return ("SELECT chronicle.redact(%s, NULL, ARRAY['note'], 'test')" % q(w.stream(rng)), None)


def op_define_reducer(rng, w):
    if rng.random() < 0.3:
        # One nobody replays: definitions that do not queue on bal's or tagsum's row.
        return ("SELECT chronicle.define_reducer(%s, %s::jsonb)" % (q(rng.choice(["r1", "r2"])),
                                                                  q(rng.choice(TAGSUM_RULES))), None)
    if rng.random() < 0.5:
        return ("SELECT chronicle.define_reducer('bal', %s::jsonb, 'acc', 3)" % q(rng.choice(BAL_RULES)), None)
    return ("SELECT chronicle.define_reducer('tagsum', %s::jsonb, 'acc', 2)" % q(rng.choice(TAGSUM_RULES)), None)


def op_define_event_type(rng, w):
    t = rng.choice(["Dep", "U1", "U2", "U3"])
    return ("SELECT chronicle.define_event_type(%s, %s::jsonb)" % (q(t), q(rng.choice(DEP_SCHEMAS))), None)


def op_define_upcaster(rng, w):
    # Tag's upcaster changes what tagsum computes; U1..U3 (which no reducer
    # reads) let sessions define upcasters of different types at once, as
    # the report of issue 17 did (the same type queues on its row instead).
    t = rng.choice(["Tag", "U1", "U2", "U3"])
    return ("SELECT chronicle.define_upcaster(%s, 1, '{\"set\": {\"w\": %d}}')" % (q(t), rng.randint(1, 3)), None)


def op_define_projection(rng, w):
    return ("SELECT chronicle.define_projection('pbal2', 'bal', 'public.pbal2', '{\"balance\": \"numeric\"}')", None)


def op_rebuild_projection(rng, w):
    return ("SELECT chronicle.rebuild_projection(%s)" % q(rng.choice(list(PROJECTIONS))), None)


def op_drop_projection(rng, w):
    return ("SELECT chronicle.drop_projection('pbal2')", None)


def op_take_snapshot(rng, w):
    return ("SELECT chronicle.take_snapshot(%s, %s)" % (q(w.stream(rng)), q(w.reducer_name(rng))), None)


def op_snapshot_all(rng, w):
    return ("CALL chronicle.snapshot_all(%s, 1, 2)" % q(w.reducer_name(rng)), None)


def op_prune_snapshots(rng, w):
    return ("SELECT chronicle.prune_snapshots(%s, %d)" % (q(w.reducer_name(rng)), rng.randint(0, 2)), None)


def op_subscribe(rng, w):
    return ("SELECT chronicle.subscribe('subA', 'acc')", None)


def op_poll(rng, w):
    g = rng.randint(1, 2)
    return ("SELECT count(*) FROM chronicle.poll('subA', 5, %d, %d)" % (rng.randrange(g), g), None)


def op_ack(rng, w):
    g = rng.randint(1, 2)
    m = rng.randrange(g)
    return ("SELECT chronicle.ack('subA', p.tx_id, p.global_position, %d) FROM"
            " (SELECT * FROM chronicle.poll('subA', 5, %d, %d) ORDER BY tx_id DESC, global_position DESC LIMIT 1) p"
            % (m, m, g), None)


def op_park(rng, w):
    return ("SELECT chronicle.park('subA', e.event_id, 'boom') FROM chronicle.events e"
            " WHERE e.stream_id = %s ORDER BY e.version DESC LIMIT 1" % q(w.stream(rng)), None)


def op_replay_parked(rng, w):
    return ("SELECT count(*) FROM chronicle.replay_parked('subA')", None)


def op_unsubscribe(rng, w):
    return ("SELECT chronicle.unsubscribe('subA')", None)


def _node(rng, w, t):
    """A node of t as of the round's start (it may be gone by now), or now and then any id."""
    if w.ids[t] and rng.random() < 0.9:
        return rng.choice(w.ids[t])
    return rng.randint(1, w.max_id[t])


def op_tree_insert(rng, w):
    t = w.tree_table(rng)
    a = _node(rng, w, t)
    site = ", 'site', p.site" if t == "tr" else ""
    return ("SELECT chronicle.tree_insert('%s', jsonb_build_object('id', nextval('tree_ids')%s), p.id,"
            " %s) FROM %s p WHERE p.id = %d"
            % (t, site, q(rng.choice(["first_child", "last_child", "before", "after"])), t, a), None)


def op_tree_move(rng, w):
    t = w.tree_table(rng)
    return ("SELECT chronicle.tree_move('%s', %d, %d, %s)"
            % (t, _node(rng, w, t), _node(rng, w, t), q(rng.choice(["first_child", "last_child", "after"]))),
            None)


def op_tree_delete(rng, w):
    t = w.tree_table(rng)
    return ("SELECT chronicle.tree_delete('%s', %d, %s)"
            % (t, _node(rng, w, t), q(rng.choice(["cascade", "promote", "restrict"]))), None)


def op_tree_rebuild(rng, w):
    return ("SELECT chronicle.tree_rebuild('%s')" % w.tree_table(rng), None)


def op_tree_attach(rng, w):
    return ("SELECT chronicle.tree_attach('tx')", None)


def op_tree_detach(rng, w):
    return ("SELECT chronicle.tree_detach('tx')", None)


def op_sql_on_tree(rng, w):
    """Plain SQL on an attached (or, for tx, maybe detached) table."""
    t = w.tree_table(rng)
    a, b = _node(rng, w, t), _node(rng, w, t)
    kind = rng.choice(["insert", "update", "delete", "upsert"])
    if t == "tx":
        kind = "insert"  # tx may be detached: keep it a forest attach can number
    if kind == "insert":
        cols, sel = ("id, parent_id, site", "nextval('tree_ids'), p.id, p.site") if t == "tr" else \
            ("id, parent_id", "nextval('tree_ids'), p.id")
        return ("INSERT INTO %s (%s) SELECT %s FROM %s p WHERE p.id = %d" % (t, cols, sel, t, a), None)
    if kind == "update":
        same = " AND site = (SELECT site FROM tr WHERE id = %d)" % b if t == "tr" else ""
        return ("UPDATE %s SET parent_id = %d WHERE id = %d%s" % (t, b, a, same), None)
    if kind == "delete":
        return ("DELETE FROM %s WHERE id = %d" % (t, a), None)
    # An upsert: INSERT's and UPDATE's statement triggers both fire.
    if t == "tr":
        return ("INSERT INTO tr (id, parent_id, site) SELECT %d, p.id, p.site FROM tr p WHERE p.id = %d"
                " AND p.site = coalesce((SELECT site FROM tr WHERE id = %d), p.site)"
                " ON CONFLICT (id) DO UPDATE SET parent_id = EXCLUDED.parent_id" % (a, b, a), None)
    return ("INSERT INTO %s (id, parent_id) VALUES (%d, %d)"
            " ON CONFLICT (id) DO UPDATE SET parent_id = EXCLUDED.parent_id" % (t, a, b), None)


TREE_CODES = {"TR001", "TR002"}
# name: (generator, legitimate error codes, options)
OPS = {
    "append":             (op_append, set(), {}),
    "append_batch":       (op_append_batch, set(), {}),
    "append_events":      (op_append_events, {"SE007"}, {"requires": "append_events"}),
    "redact":             (op_redact, set(), {"requires": "redact"}),
    "define_reducer":     (op_define_reducer, set(), {}),
    "define_event_type":  (op_define_event_type, set(), {}),
    "define_upcaster":    (op_define_upcaster, set(), {}),
    "define_projection":  (op_define_projection, {"42710"}, {}),
    "rebuild_projection": (op_rebuild_projection, {"42704"}, {}),
    "drop_projection":    (op_drop_projection, {"42704"}, {}),
    "take_snapshot":      (op_take_snapshot, set(), {}),
    "snapshot_all":       (op_snapshot_all, set(), {"tx": False}),
    "prune_snapshots":    (op_prune_snapshots, set(), {}),
    "subscribe":          (op_subscribe, set(), {}),
    "poll":               (op_poll, {"SE006"}, {}),
    # 22023: the group size changed under the consumer (another poll gave
    # a new one), so its member number is out of range: the answer it must get.
    "ack":                (op_ack, {"SE006", "22023"}, {}),
    "park":               (op_park, {"SE006"}, {}),
    "replay_parked":      (op_replay_parked, {"SE006"}, {}),
    "unsubscribe":        (op_unsubscribe, {"SE006"}, {}),
    "tree_insert":        (op_tree_insert, {"TR002", "TR004"}, {}),
    "tree_move":          (op_tree_move, TREE_CODES | {"TR004"}, {}),
    "tree_delete":        (op_tree_delete, {"TR002", "TR004", "23001"}, {}),
    "tree_rebuild":       (op_tree_rebuild, {"TR004"}, {}),
    "tree_attach":        (op_tree_attach, {"42710"}, {}),
    "tree_detach":        (op_tree_detach, {"TR004"}, {}),
    "sql_on_tree":        (op_sql_on_tree, TREE_CODES | {"23505"}, {}),
}
# Always legitimate: a serialization failure in a REPEATABLE READ
# transaction (the session retries in real life), and 40001 from subscribe's
# documented "created concurrently".
ALWAYS_RR = {"40001"}


# ---------------------------------------------------------------- controller
class Step:
    def __init__(self, kind, sql, op=None, txn=None):
        self.kind, self.sql, self.op, self.txn = kind, sql, op, txn


class Txn:
    def __init__(self, rr):
        self.rr = rr
        self.effects = set()


class Failure(Exception):
    pass


class Runner:
    def __init__(self, conninfo, rng):
        self.conninfo = conninfo
        self.rng = rng
        self.world = World()
        self.failures = []
        self.counts = {}  # (op, outcome) -> n
        self.ctl = pq.Conn(conninfo)
        self.sessions = [self._session() for _ in range(SESSIONS)]

    def _session(self):
        c = pq.Conn(self.conninfo)
        # Deadlocks are reported fast; NOTICEs (snapshot_all) are not wanted.
        r = c.run("SET deadlock_timeout = '20ms'; SET client_min_messages = warning")
        assert r.ok, r
        return c

    def ctl_rows(self, sql):
        r = self.ctl.run(sql)
        if not r.ok:
            raise Failure("check query failed: %s: %s" % (sql[:80], r.message))
        return r.rows

    def blocked(self, conns):
        pids = ",".join(str(c.pid) for c in self.sessions)
        rows = self.ctl_rows("SELECT pid FROM unnest(ARRAY[%s]) pid"
                             " WHERE pg_catalog.pg_isolation_test_session_is_blocked(pid, ARRAY[%s])"
                             % (",".join(str(c.pid) for c in conns), pids))
        return {int(r[0]) for r in rows}

    def script(self, ops, round_no):
        """Each session's steps: TXNS transactions of its operation."""
        scripts = []
        for i in range(SESSIONS):
            op = ops[i] if i < 2 else self.rng.choice(ops)
            steps = []
            for _ in range(TXNS):
                gen, _allowed, opts = OPS[op]
                sql, effect = gen(self.rng, self.world)
                if opts.get("tx", True) is False:
                    t = Txn(False)
                    steps.append(Step("op", sql, op, t))
                    steps.append(Step("autocommit", None, op, t))
                    t.effects = effect or set()
                    continue
                t = Txn(self.rng.random() < 0.2)
                t.effects = effect or set()
                steps.append(Step("begin", "BEGIN ISOLATION LEVEL REPEATABLE READ" if t.rr else "BEGIN", op, t))
                steps.append(Step("op", sql, op, t))
                steps.append(Step("commit", "COMMIT" if self.rng.random() < 0.9 else "ROLLBACK", op, t))
            scripts.append(steps)
        return scripts

    def fail(self, what, **info):
        info["what"] = what
        self.failures.append(info)

    def finished(self, label, i, step, r, log):
        """Judge one statement's result."""
        log.append("s%d %s: %s -> %s" % (i, step.kind, (step.sql or "")[:160], r))
        if step.kind == "op":
            allowed = OPS[step.op][1] | (ALWAYS_RR if step.txn.rr or step.op == "subscribe" else set())
            if r.ok:
                self.counts[(step.op, "ok")] = self.counts.get((step.op, "ok"), 0) + 1
                step.txn.ok = True
            else:
                step.txn.ok = False
                self.counts[(step.op, r.sqlstate)] = self.counts.get((step.op, r.sqlstate), 0) + 1
                if r.sqlstate not in allowed:
                    kind = {"40P01": "deadlock", "XX000": "internal error"}.get(r.sqlstate, "unexpected error")
                    self.fail(kind, pair=label, session=i, op=step.op, sql=step.sql,
                              sqlstate=r.sqlstate, message=r.message)
        elif step.kind == "commit":
            if r.ok and r.status == "COMMIT" and getattr(step.txn, "ok", False):
                self.world.expected |= step.txn.effects
            elif not r.ok and not (r.sqlstate == "40001" and step.txn.rr):
                self.fail("commit failed", pair=label, session=i, op=step.op, sqlstate=r.sqlstate,
                          message=r.message)
        elif step.kind == "autocommit":
            if getattr(step.txn, "ok", False):
                self.world.expected |= step.txn.effects
        elif not r.ok:
            self.fail("unexpected error", pair=label, session=i, op=step.op, sql=step.sql,
                      sqlstate=r.sqlstate, message=r.message)

    def run_round(self, label, ops):
        self.world.focus(self.rng)
        scripts = self.script(ops, 0)
        pos = [0] * SESSIONS
        running = {}  # session index -> Step
        log = []
        rng = self.rng

        def collect():
            for i in list(running):
                r = self.sessions[i].poll()
                if r is not None:
                    self.finished(label, i, running.pop(i), r, log)

        def settle(ids):
            """Until each of ids has finished or waits on another session's lock."""
            while True:
                collect()
                rest = [i for i in ids if i in running]
                if not rest:
                    return
                pq.wait_any([self.sessions[i] for i in rest], 0.002)
                collect()
                rest = [i for i in ids if i in running]
                if not rest:
                    return
                if len(self.blocked([self.sessions[i] for i in rest])) == len(rest):
                    return

        while True:
            collect()
            # Autocommit markers are bookkeeping, not statements.
            for i in range(SESSIONS):
                while pos[i] < len(scripts[i]) and scripts[i][pos[i]].kind == "autocommit" and i not in running:
                    self.finished(label, i, scripts[i][pos[i]], pq.Result(), log)
                    pos[i] += 1
            ready = [i for i in range(SESSIONS) if i not in running and pos[i] < len(scripts[i])]
            if not ready and not running:
                break
            if ready:
                # Ending a transaction is made less likely than going on, so
                # open transactions hold their locks while others queue up
                # behind them (the queue then wakes up all at once).
                weights = [0.25 if scripts[j][pos[j]].kind == "commit" else 1.0 for j in ready]
                i = rng.choices(ready, weights)[0]
                step = scripts[i][pos[i]]
                pos[i] += 1
                self.sessions[i].send(step.sql)
                running[i] = step
                if rng.random() < 0.7:
                    settle([i])
                continue
            # Every session is mid-statement: wait for one to end.  If all
            # are blocked on each other, only the deadlock detector ends it.
            start = time.monotonic()
            while running:
                pq.wait_any([self.sessions[i] for i in running], 0.01)
                before = len(running)
                collect()
                if len(running) < before:
                    break
                if time.monotonic() - start > HANG_SECONDS:
                    self.fail("hang", pair=label, sessions=sorted(running),
                              sql=[running[i].sql for i in running])
                    for i in running:
                        self.sessions[i].cancel()
                    start = time.monotonic()
        return log

    # ------------------------------------------------------------ checks
    def check(self, label):
        problems = []
        rows = self.ctl_rows("SELECT event_id::text FROM chronicle.events WHERE stream_id <> 'chronicle-erasures'")
        have = [r[0] for r in rows]
        if len(have) != len(set(have)):
            problems.append("duplicated events")
        lost = self.world.expected - set(have)
        extra = set(have) - self.world.expected
        if lost:
            problems.append("%d committed events missing" % len(lost))
        if extra:
            problems.append("%d events present that no committed transaction appended" % len(extra))
        bad = self.ctl_rows("SELECT s.stream_id FROM chronicle.streams s"
                            " WHERE s.version <> (SELECT count(*) FROM chronicle.events e WHERE e.stream_id = s.stream_id)"
                            "    OR s.version <> (SELECT coalesce(max(e.version), 0) FROM chronicle.events e"
                            "                     WHERE e.stream_id = s.stream_id)")
        if bad:
            problems.append("stream versions with gaps: %s" % bad)
        bad = self.ctl_rows("SELECT * FROM chronicle.verify() LIMIT 3")
        if bad:
            problems.append("verify(): %s" % bad)
        # Attached (a row in chronicle._tree_tables) exactly when chronicle's
        # six triggers are there: a row without them is a table whose INSERTs
        # nothing numbers, and that tree_attach refuses (42710).
        bad = self.ctl_rows(
            "SELECT c.oid::regclass::text, (SELECT count(*) FROM chronicle._tree_tables m WHERE m.tbl = c.oid),"
            "       (SELECT count(*) FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname LIKE 'chronicle_tree_%%')"
            " FROM pg_class c WHERE c.relname IN (%s) ORDER BY 1" % ", ".join(q(t) for t in TREES))
        for table, rows, triggers in bad:
            if (int(rows), int(triggers)) not in ((0, 0), (1, 6)):
                problems.append("tree %s: %s attachment rows, %s chronicle triggers" % (table, rows, triggers))
                if int(rows) or int(triggers):
                    self.ctl_rows("SELECT chronicle.tree_detach(%s)" % q(table))
                self.ctl_rows("SELECT chronicle.tree_attach(%s)" % ATTACH_ARGS[table])
        for t in self.ctl_rows("SELECT tbl::text FROM chronicle._tree_tables ORDER BY 1"):
            bad = self.ctl_rows("SELECT * FROM chronicle.tree_validate('%s') LIMIT 3" % t[0])
            if bad:
                problems.append("tree %s invalid: %s" % (t[0], bad))
                self.ctl_rows("SELECT chronicle.tree_rebuild('%s')" % t[0])
        for name, table, reducer in self.ctl_rows(
                "SELECT p.name, p.table_name::text, p.reducer FROM chronicle.projections p ORDER BY 1"):
            bad = self.ctl_rows(
                "SELECT coalesce(t.stream_id, f.stream_id) FROM %s t FULL JOIN"
                " (SELECT e.stream_id, max(e.version) AS version,"
                "         (chronicle.fold(%s, e ORDER BY e.version) ->> 'balance')::numeric AS balance"
                "  FROM chronicle.events e WHERE split_part(e.stream_id, '-', 1) = 'acc' GROUP BY e.stream_id) f"
                " ON f.stream_id = t.stream_id"
                " WHERE (t.version, t.balance) IS DISTINCT FROM (f.version, f.balance) LIMIT 3" % (table, q(reducer)))
            if bad:
                problems.append("projection %s differs from a fold for streams %s" % (name, bad))
                self.ctl_rows("SELECT chronicle.rebuild_projection(%s)" % q(name))
        bad = self.ctl_rows(
            "SELECT s.stream_id, s.reducer, s.version FROM chronicle.snapshots s"
            " JOIN chronicle.reducers r ON r.name = s.reducer AND r.revision = s.revision"
            " WHERE s.state IS DISTINCT FROM (SELECT chronicle.fold(s.reducer, e ORDER BY e.version)"
            "                                 FROM chronicle.events e"
            "                                 WHERE e.stream_id = s.stream_id AND e.version <= s.version)"
            " LIMIT 3")
        if bad:
            problems.append("snapshots differ from a fold: %s" % bad)
            for r in REDUCERS:
                self.ctl_rows("SELECT chronicle.prune_snapshots(%s, 0)" % q(r))
        bad = self.ctl_rows(
            "SELECT st.stream_id, r.name FROM chronicle.streams st CROSS JOIN chronicle.reducers r"
            " WHERE chronicle.replay(st.stream_id, r.name) IS DISTINCT FROM"
            "       (SELECT chronicle.fold(r.name, e ORDER BY e.version) FROM chronicle.events e"
            "        WHERE e.stream_id = st.stream_id) LIMIT 3")
        if bad:
            problems.append("replay differs from a fold: %s" % bad)
        for p in problems:
            self.fail("check", pair=label, message=p)
        # Resynchronise what the driver expects with what is there.
        self.world.expected = set(have)
        return problems

    def refresh(self):
        """Keep the objects the operations overlap on alive for the next pair."""
        for t in TREES:
            self.world.max_id[t] = max(30, int(self.ctl_rows("SELECT coalesce(max(id), 0) FROM %s" % t)[0][0]))
            self.world.ids[t] = [int(r[0]) for r in self.ctl_rows("SELECT id FROM %s" % t)]
            n = len(self.world.ids[t])
            if n < 10:
                if t == "tr":
                    self.ctl_rows("INSERT INTO tr SELECT nextval('tree_ids'), NULL, g FROM generate_series(1, 3) g")
                    self.ctl_rows("INSERT INTO tr SELECT nextval('tree_ids'), (SELECT min(id) FROM tr p"
                                  " WHERE p.site = 1 + g % 3), 1 + g % 3 FROM generate_series(1, 12) g")
                else:
                    self.ctl_rows("INSERT INTO %s SELECT nextval('tree_ids'), NULL FROM generate_series(1, 12)" % t)
                self.world.ids[t] = [int(r[0]) for r in self.ctl_rows("SELECT id FROM %s" % t)]
                self.world.max_id[t] = max(self.world.ids[t])
        self.ctl_rows("SELECT chronicle.subscribe('subA', 'acc')")


def main():
    conninfo = "dbname=" + DB
    rng = random.Random(SEED)
    run = Runner(conninfo, rng)
    have = {r[0] for r in run.ctl_rows("SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                                       " WHERE n.nspname = 'chronicle'")}
    ops = []
    for name, (_g, _a, opts) in OPS.items():
        if opts.get("requires") and opts["requires"] not in have:
            print("skipped (chronicle.%s does not exist yet): %s" % (opts["requires"], name))
            continue
        ops.append(name)
    pairs = [(a, b) for i, a in enumerate(ops) for b in ops[i:]]
    if ONLY:
        pairs = [p for p in pairs if p[0] in ONLY or p[1] in ONLY]
    print("seed %d, %d operations, %d pairs, %d rounds each, %d sessions x %d transactions"
          % (SEED, len(ops), len(pairs), ROUNDS, SESSIONS, TXNS))
    started = time.monotonic()
    failed_pairs = set()
    for a, b in pairs:
        label = "%s x %s" % (a, b)
        for rnd in range(ROUNDS):
            before = len(run.failures)
            try:
                run.refresh()
                log = run.run_round(label, [a, b])
                run.check(label)
            except pq.ConnectionLost as e:
                run.fail("connection lost", pair=label, message=str(e))
                print_failures(run.failures[before:], [])
                print("FAILED: a session lost its connection (server crash?); stopping")
                return 1
            if len(run.failures) > before:
                failed_pairs.add(label)
                print_failures(run.failures[before:], log, rnd)
    elapsed = time.monotonic() - started
    print("ran %d pairs x %d rounds in %.1f s" % (len(pairs), ROUNDS, elapsed))
    print("outcomes per operation (ok or SQLSTATE: count):")
    for name in ops:
        outs = sorted((k[1], v) for k, v in run.counts.items() if k[0] == name)
        print("  %-19s %s" % (name, ", ".join("%s %d" % o for o in outs)))
    if run.failures:
        print("FAILED: %d failures in %d pairs: %s" % (len(run.failures), len(failed_pairs),
                                                       "; ".join(sorted(failed_pairs))))
        return 1
    print("passed: no deadlock, no internal error, no lost or duplicated event, every tree valid,"
          " every projection, snapshot and replay equal to a full fold")
    return 0


def print_failures(fails, log, rnd=0):
    for f in fails:
        print("FAIL [%s, round %d] %s: %s" % (f.get("pair"), rnd, f["what"],
                                              {k: v for k, v in f.items() if k not in ("pair", "what")}))
    if fails and log:
        print("  statements of that round, in the order they ended:")
        for line in log:
            print("    " + line)


if __name__ == "__main__":
    sys.exit(main())
