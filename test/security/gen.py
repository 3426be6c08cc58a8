#!/usr/bin/env python3
"""Security regression suite: the call paths and their judge.

  gen.py script ROLE CATALOG    psql script driving ROLE's paths
                                (ROLE: control, low, mallory, mirror)
  gen.py missing CATALOG        signatures in the catalog with no recipe
  gen.py judge DIR CATALOG      read what the runs left in DIR, print a
                                verdict per path, exit 1 on any failure

CATALOG is a file of "signature|public_exec" lines: every function of the
extension a low role could call (public name, or EXECUTE granted to anyone
but the owner).  Each signature needs an entry in RECIPES: the suite fails
when the catalog has a function no recipe covers, so a new function is
driven as soon as it exists.  Recipes for functions the catalog does not
have (yet) are skipped and listed.

Every path runs as its own statement with application_name = the path, so
a hostile call is attributed to the path that caused it.  The driving SQL
itself never uses an unqualified operator or function (OPERATOR(pg_catalog.=)
where it compares): the only hostile calls possible are chronicle's.
"""
import json
import os
import re
import sys

HOSTILE_PATH = "SET search_path = hostile, pg_catalog, public;"
CLEAN_PATH = "SET search_path = pg_catalog, public;"

# ---------------------------------------------------------------- tree paths

VARIANTS = [
    # name, id type, scope type, order type, on_delete  (as in setup.sql)
    ("t_int", "int4", None, None, "cascade"),
    ("t_big", "int8", None, None, "promote"),
    ("t_text", "text", None, None, "restrict"),
    ("t_num", "numeric", None, "int4", "cascade"),
    ("t_uuid", "uuid", "text", None, "promote"),
    ("t_scoped", "int8", "int4", "numeric", "restrict"),
    ("t_sctext", "text", "text", "int8", "cascade"),
]


def idlit(idtype, k):
    """SQL literal, COPY text and JSON value of node k for an id type."""
    if k is None:
        return {"int4": "NULL::int4", "int8": "NULL::int8", "text": "NULL::text",
                "numeric": "NULL::numeric", "uuid": "NULL::uuid"}[idtype], "\\N", "null"
    if idtype == "int4":
        return str(k), str(k), str(k)
    if idtype == "int8":
        return f"{k}::int8", str(k), str(k)
    if idtype == "text":
        return f"'n{k}'::text", f"n{k}", f'"n{k}"'
    if idtype == "numeric":
        return f"{k}.5::numeric", f"{k}.5", f"{k}.5"
    if idtype == "uuid":
        u = f"00000000-0000-0000-0000-{k:012d}"
        return f"'{u}'::uuid", u, f'"{u}"'
    raise ValueError(idtype)


def scopelit(stype, which):
    if stype in ("int4", "int8"):
        return str(which), str(which), str(which)
    return f"'s{which}'", f"s{which}", f'"s{which}"'


def tree_paths(schema, role, v, functions):
    """The statement sequence on one tree table: (name, sql, kind, expect)."""
    name, idt, st, ot, on_delete = v
    tbl = f"{schema}.{role}_{name}"
    cols = "id, parent_id, name" + (", tenant" if st else "") + (", pos" if ot else "")
    i = lambda k: idlit(idt, k)[0]

    def row(k, parent, label, pos, scope=1):
        vals = [i(k), i(parent), f"'{label}'"]
        if st:
            vals.append(scopelit(st, scope)[0])
        if ot:
            vals.append(str(pos))
        return "(" + ", ".join(vals) + ")"

    def copyrow(k, parent, label, pos, scope=1):
        vals = [idlit(idt, k)[1], idlit(idt, parent)[1], label]
        if st:
            vals.append(scopelit(st, scope)[1])
        if ot:
            vals.append(str(pos))
        return "\t".join(vals)

    eq = "OPERATOR(pg_catalog.=)"
    P = []
    P.append(("ins-root", f"INSERT INTO {tbl} ({cols}) VALUES {row(1, None, 'root', 10)}", "stmt", None))
    P.append(("ins-multi", f"INSERT INTO {tbl} ({cols}) VALUES {row(2, 1, 'two', 30)}, {row(3, 1, 'three', 20)}, "
              f"{row(4, 3, 'four', 1)}, {row(5, 3, 'five', 2)}, {row(6, 1, 'six', 5)}", "stmt", None))
    P.append(("ins-select", f"INSERT INTO {tbl} ({cols}) SELECT {row(7, 2, 'seven', 40)[1:-1]}", "stmt", None))
    P.append(("copy", f"COPY {tbl} ({cols}) FROM STDIN;\n{copyrow(8, 6, 'eight', 3)}\n\\.", "stmt", None))
    P.append(("ins-roots", f"INSERT INTO {tbl} ({cols}) VALUES {row(9, None, 'nine', 50)}, {row(10, None, 'ten', 60)}",
              "stmt", None))
    P.append(("upd-parent", f"UPDATE {tbl} SET parent_id = {i(2)} WHERE id {eq} {i(4)}", "stmt", None))
    P.append(("upd-parent-multi", f"UPDATE {tbl} SET parent_id = {i(6)} WHERE id {eq} ANY (ARRAY[{i(5)}, {i(7)}])",
              "stmt", None))
    P.append(("upd-other-column", f"UPDATE {tbl} SET name = 'renamed' WHERE id {eq} {i(3)}", "stmt", None))
    if st:
        P.append(("upd-scope", f"UPDATE {tbl} SET tenant = {scopelit(st, 2)[0]} WHERE id {eq} {i(10)}", "stmt", None))
    if ot:
        P.append(("upd-order", f"UPDATE {tbl} SET pos = 0 WHERE id {eq} {i(2)}", "stmt", None))
    P.append(("upd-lft", f"UPDATE {tbl} SET lft = 100 WHERE id {eq} {i(1)}", "stmt", {"TR005"}))
    P.append(("ins-bad-parent", f"INSERT INTO {tbl} ({cols}) VALUES {row(11, 99, 'orphan', 1)}", "stmt", {"TR002"}))
    P.append(("del-leaf", f"DELETE FROM {tbl} WHERE id {eq} {i(8)}", "stmt", None))
    P.append((f"del-inner-{on_delete}", f"DELETE FROM {tbl} WHERE id {eq} {i(6)}", "stmt",
              {"23001"} if on_delete == "restrict" else None))
    P.append(("del-multi", f"DELETE FROM {tbl} WHERE id {eq} ANY (ARRAY[{i(9)}, {i(3)}])", "stmt", None))
    if not functions:
        return P

    def node(k, label, pos):
        fields = [f'"id": {idlit(idt, k)[2]}', f'"name": "{label}"']
        if st:
            fields.append(f'"tenant": {scopelit(st, 1)[2]}')
        if ot:
            fields.append(f'"pos": {pos}')
        return "'{" + ", ".join(fields) + "}'"

    T = f"'{tbl}'"
    P.append(("fn:tree_insert:first_child",
              f"SELECT chronicle.tree_insert({T}, {node(20, 'twenty', 1)}, {i(2)}, 'first_child')::text AS v", "write", None))
    P.append(("fn:tree_insert:before",
              f"SELECT chronicle.tree_insert({T}, {node(21, 'twentyone', 2)}, {i(2)}, 'before')::text AS v", "write", None))
    P.append(("fn:tree_insert:after",
              f"SELECT chronicle.tree_insert({T}, {node(22, 'twentytwo', 3)}, {i(2)}, 'after')::text AS v", "write", None))
    P.append(("fn:tree_insert:root",
              f"SELECT chronicle.tree_insert({T}, {node(23, 'twentythree', 4)}, {i(None)})::text AS v", "write", None))
    P.append(("fn:tree_move:first_child", f"SELECT chronicle.tree_move({T}, {i(21)}, {i(2)}, 'first_child')::text AS v",
              "write", None))
    P.append(("fn:tree_move:before", f"SELECT chronicle.tree_move({T}, {i(22)}, {i(21)}, 'before')::text AS v",
              "write", None))
    P.append(("fn:tree_move:after", f"SELECT chronicle.tree_move({T}, {i(22)}, {i(20)}, 'after')::text AS v",
              "write", None))
    P.append(("fn:tree_move:last_root", f"SELECT chronicle.tree_move({T}, {i(4)}, {i(None)})::text AS v",
              "write", None))
    P.append(("fn:tree_move:own-subtree", f"SELECT chronicle.tree_move({T}, {i(2)}, {i(20)})::text AS v",
              "write", {"TR001"}))
    P.append(("fn:tree_subtree", f"SELECT s::text AS v FROM chronicle.tree_subtree(NULL::{tbl}, {i(1)}) s", "read", None))
    P.append(("fn:tree_subtree:depth1", f"SELECT s::text AS v FROM chronicle.tree_subtree(NULL::{tbl}, {i(1)}, 1) s",
              "read", None))
    P.append(("fn:tree_ancestors", f"SELECT s::text AS v FROM chronicle.tree_ancestors(NULL::{tbl}, {i(20)}) s",
              "read", None))
    P.append(("fn:tree_children", f"SELECT s::text AS v FROM chronicle.tree_children(NULL::{tbl}, {i(2)}) s",
              "read", None))
    P.append(("fn:tree_validate", f"SELECT s::text AS v FROM chronicle.tree_validate({T}) s", "read", None))
    P.append(("fn:tree_delete:restrict", f"SELECT chronicle.tree_delete({T}, {i(22)}, 'restrict')::text AS v",
              "write", None))
    P.append(("fn:tree_delete:promote", f"SELECT chronicle.tree_delete({T}, {i(2)}, 'promote')::text AS v",
              "write", None))
    P.append(("fn:tree_delete:cascade", f"SELECT chronicle.tree_delete({T}, {i(23)}, 'cascade')::text AS v",
              "write", None))
    P.append(("fn:tree_rebuild", f"SELECT chronicle.tree_rebuild({T})::text AS v", "write", None))
    P.append(("fn:tree_validate:end", f"SELECT s::text AS v FROM chronicle.tree_validate({T}) s", "read", None))
    return P


def ro_paths(v):
    """A table the low role may only read: every tree write refused (42501)."""
    name, idt, st, ot, on_delete = v
    tbl = f"shop.ro_{name}"
    T = f"'{tbl}'"
    i = lambda k: idlit(idt, k)[0]
    fields = [f'"id": {idlit(idt, 30)[2]}', '"name": "x"']
    if st:
        fields.append(f'"tenant": {scopelit(st, 1)[2]}')
    node = "'{" + ", ".join(fields) + "}'"
    no = {"42501"}
    return [
        ("insert", f"INSERT INTO {tbl} (id, name) VALUES ({i(30)}, 'x')", "stmt", no),
        ("fn:tree_insert", f"SELECT chronicle.tree_insert({T}, {node}, {i(1)})::text AS v", "write", no),
        ("fn:tree_move", f"SELECT chronicle.tree_move({T}, {i(2)}, {i(None)})::text AS v", "write", no),
        ("fn:tree_delete", f"SELECT chronicle.tree_delete({T}, {i(2)})::text AS v", "write", no),
        ("fn:tree_rebuild", f"SELECT chronicle.tree_rebuild({T})::text AS v", "write", no),
        ("fn:tree_subtree", f"SELECT s::text AS v FROM chronicle.tree_subtree(NULL::{tbl}, {i(1)}) s", "read", None),
        ("fn:tree_validate", f"SELECT s::text AS v FROM chronicle.tree_validate({T}) s", "read", None),
    ]


# ------------------------------------------------------------ function recipes
# (signatures, path, sql, kind, expected SQLSTATEs or None = success, requires)
# kind: read  = a query returning column v, run under the hostile path and
#               again under a clean one; both results must agree
#       write = a query returning column v, run once
#       call  = a CALL
#       stmt  = any statement, no result kept
# The first recipe of a signature is the one sec_mallory (no chronicle role)
# attempts: 42501 expected unless PUBLIC may execute the function.

APPEND = ["chronicle.append(text,text,jsonb,jsonb,bigint,uuid)",
          "chronicle.append(text,text,jsonb,jsonb,bigint,uuid,text[])"]
NO = {"42501"}
EV1 = "a0000000-0000-0000-0000-000000000001"

RECIPES = [
    (["chronicle.version()"], "version", "SELECT chronicle.version() AS v", "read", None, None),
    # -- appends: the superuser's reducers (snapshot_every), projections and
    # subscription observe category acct.
    (APPEND, "append:opened",
     """SELECT chronicle.append('acct-123456', 'AccountOpened', '{"AccountNumber": 123456, "Owner": "John Doe", "InitialBalance": 0}')::text AS v""",
     "write", None, None),
    (APPEND, "append:deposit-meta-version-id",
     f"""SELECT chronicle.append('acct-123456', 'DepositMade', '{{"AccountNumber": 123456, "Amount": 100, "Ref": "{EV1}", "By": "Jane Roe"}}', '{{"correlation_id": "c-1"}}', 1, '{EV1}')::text AS v""",
     "write", None, None),
    (APPEND, "append:idempotent",
     f"""SELECT chronicle.append('acct-123456', 'DepositMade', '{{"AccountNumber": 123456, "Amount": 100, "Ref": "{EV1}", "By": "Jane Roe"}}', '{{"correlation_id": "c-1"}}', NULL, '{EV1}')::text AS v""",
     "write", None, None),
    (APPEND, "append:withdrawal",
     """SELECT chronicle.append('acct-123456', 'WithdrawalMade', '{"AccountNumber": 123456, "Amount": 50, "On": "2026-01-02", "Mail": "john@example.com"}', expected_version => 2)::text AS v""",
     "write", None, None),
    (APPEND, "append:schema-minimum", """SELECT chronicle.append('acct-123456', 'DepositMade', '{"Amount": -1}')::text AS v""",
     "write", {"SE003"}, None),
    (APPEND, "append:schema-pattern", """SELECT chronicle.append('acct-123456', 'DepositMade', '{"Amount": 1, "By": "x1"}')::text AS v""",
     "write", {"SE003"}, None),
    (APPEND, "append:schema-format", """SELECT chronicle.append('acct-123456', 'WithdrawalMade', '{"Amount": 1, "Mail": "nomail"}')::text AS v""",
     "write", {"SE003"}, None),
    (APPEND, "append:wrong-version", """SELECT chronicle.append('acct-123456', 'DepositMade', '{"Amount": 1}', expected_version => 1)::text AS v""",
     "write", {"SE001"}, None),
    (APPEND, "append:duplicate-id", f"""SELECT chronicle.append('acct-123456', 'DepositMade', '{{"Amount": 7}}', event_id => '{EV1}')::text AS v""",
     "write", {"SE005"}, None),
    (APPEND, "append:second-stream", """SELECT chronicle.append('acct-7', 'AccountOpened', '{"AccountNumber": 7, "Owner": "Jane Roe"}')::text AS v""",
     "write", None, None),
    ([APPEND[1]], "append:tags", """SELECT chronicle.append('acct-7', 'DepositMade', '{"Amount": 5}', tags => ARRAY['account:7'])::text AS v""",
     "write", None, APPEND[1]),
    (["chronicle.append_batch(text,jsonb,bigint)"], "append_batch",
     """SELECT chronicle.append_batch('acct-2', '[{"type": "AccountOpened", "data": {"AccountNumber": 2, "Owner": "Jane Roe"}}, {"type": "Renamed", "type_version": 1, "data": {"old": "x", "junk": 1}}, {"type": "DepositMade", "data": {"Amount": 0.1}}, {"type": "DepositMade", "data": {"Amount": 0.2}, "metadata": {"m": 1}}]')::text AS v""",
     "write", None, None),
    (["chronicle.append_batch(text,jsonb,bigint)"], "append_batch:empty",
     "SELECT chronicle.append_batch('acct-2', '[]')::text AS v", "write", {"22023"}, None),
    (["chronicle.stream_version(text)"], "stream_version", "SELECT chronicle.stream_version('acct-123456')::text AS v",
     "read", None, None),
    (["chronicle.read_stream(text,bigint,integer,boolean)"], "read_stream",
     "SELECT r::text AS v FROM chronicle.read_stream('acct-2') r", "read", None, None),
    (["chronicle.read_stream(text,bigint,integer,boolean)"], "read_stream:backward",
     "SELECT r::text AS v FROM chronicle.read_stream('acct-2', NULL, 2, true) r", "read", None, None),
    (["chronicle.read_all(xid8,bigint,integer,text,text[])"], "read_all",
     "SELECT r::text AS v FROM chronicle.read_all('0', 0, 100, 'acct') r", "read", None, None),
    (["chronicle.read_all(xid8,bigint,integer,text,text[])"], "read_all:types",
     "SELECT r::text AS v FROM chronicle.read_all(types => ARRAY['Renamed', 'DepositMade']) r", "read", None, None),
    (["chronicle.verify(text)"], "verify", "SELECT r::text AS v FROM chronicle.verify('acct-123456') r", "read", None, None),
    (["chronicle.verify(text)"], "verify:all", "SELECT r::text AS v FROM chronicle.verify() r", "read", None, None),
    (["chronicle.verify(text,boolean)", "chronicle._verify_redacted(text,boolean)"], "verify:redacted", "SELECT r::text AS v FROM chronicle.verify(NULL, true) r", "read", None, None),
    # -- definitions of the low role's own
    (["chronicle.define_event_type(text,jsonb,integer)"], "define_event_type",
     """SELECT chronicle.define_event_type('LowThing', '{"type": "object", "properties": {"k": {"type": "integer", "maximum": 10}}}')::text AS v""",
     "write", None, None),
    (["chronicle.define_event_type(text,jsonb,integer)"], "define_event_type:v2",
     """SELECT chronicle.define_event_type('LowThing', '{"type": "object", "required": ["kk"]}', 2)::text AS v""",
     "write", None, None),
    (["chronicle.define_upcaster(text,integer,jsonb)"], "define_upcaster",
     """SELECT chronicle.define_upcaster('LowThing', 1, '{"rename": {"k": "kk"}, "set": {"up": 1}}')::text AS v""",
     "write", None, None),
    (APPEND, "append:upcast-type", """SELECT chronicle.append('low-1', 'LowThing', '{"k": 3}')::text AS v""",
     "write", None, None),
    (["chronicle.read_stream(text,bigint,integer,boolean)"], "read_stream:upcast",
     "SELECT r::text AS v FROM chronicle.read_stream('low-1') r", "read", None, None),
    (["chronicle.define_reducer(text,jsonb,text,integer)"], "define_reducer:rules",
     """SELECT chronicle.define_reducer('low_rules', '{"DepositMade": {"add": {"total": "$.Amount"}}, "AccountOpened": {"set": {"owner": "$.Owner"}}}'::jsonb, 'acct', 2)::text AS v""",
     "write", None, None),
    (["chronicle.define_reducer(text,text,text,integer)"], "define_reducer:text",
     """SELECT chronicle.define_reducer('low_text', '{"*": {"add": {"n": 1}}}')::text AS v""", "write", None, None),
    (["chronicle.define_reducer(text,regprocedure,text,integer)"], "define_reducer:function",
     "SELECT chronicle.define_reducer('low_fn', 'lowsch.low_fn(jsonb, chronicle.events)'::regprocedure)::text AS v",
     "write", None, None),
    # -- replay, fold, snapshots
    (["chronicle.replay(text,text,bigint,timestamp with time zone)"], "replay",
     "SELECT chronicle.replay('acct-123456', 'su_rules')::text AS v", "read", None, None),
    (["chronicle.replay(text,text,bigint,timestamp with time zone)"], "replay:as_of_version",
     "SELECT chronicle.replay('acct-123456', 'su_rules', as_of_version => 2)::text AS v", "read", None, None),
    (["chronicle.replay(text,text,bigint,timestamp with time zone)"], "replay:as_of_time",
     "SELECT chronicle.replay('acct-2', 'su_rules', as_of_time => 'infinity')::text AS v", "read", None, None),
    (["chronicle.replay(text,text,bigint,timestamp with time zone)"], "replay:own-function",
     "SELECT chronicle.replay('acct-2', 'low_fn')::text AS v", "read", None, None),
    (["chronicle.replay(text,text,bigint,timestamp with time zone)"], "replay:own-rules",
     "SELECT chronicle.replay('acct-2', 'low_rules')::text AS v", "read", None, None),
    (["chronicle.fold(text,chronicle.events)"], "fold",
     "SELECT chronicle.fold('su_rules', r ORDER BY r.version)::text AS v FROM chronicle.read_stream('acct-123456') r",
     "read", None, None),
    (["chronicle.fold(text,chronicle.events)"], "fold:own-function",
     "SELECT chronicle.fold('low_fn', r ORDER BY r.version)::text AS v FROM chronicle.read_stream('acct-2') r",
     "read", None, None),
    # the superuser's function reducer (written unqualified) called explicitly:
    # it runs as the caller (docs/design/security.md), so what its body resolves through
    # the caller's path runs with the caller's rights only (noted, not failed)
    (["chronicle.replay(text,text,bigint,timestamp with time zone)"], "replay:superusers-function",
     "SELECT chronicle.replay('acct-123456', 'su_fn')::text AS v", "read", None, None),
    (["chronicle.fold(text,chronicle.events)"], "fold:superusers-function",
     "SELECT chronicle.fold('su_fn', r ORDER BY r.version)::text AS v FROM chronicle.read_stream('acct-123456') r",
     "read", None, None),
    (["chronicle.take_snapshot(text,text)"], "take_snapshot:superusers-function",
     "SELECT chronicle.take_snapshot('acct-7', 'su_fn')::text AS v", "write", None, None),
    (["chronicle.merge_agg(jsonb)"], "merge_agg",
     "SELECT chronicle.merge_agg(r.data ORDER BY r.version)::text AS v FROM chronicle.read_stream('acct-2') r",
     "read", None, None),
    (["chronicle.take_snapshot(text,text)"], "take_snapshot",
     "SELECT chronicle.take_snapshot('acct-123456', 'su_rules')::text AS v", "write", None, None),
    (["chronicle.take_snapshot(text,text)"], "take_snapshot:own-function",
     "SELECT chronicle.take_snapshot('acct-2', 'low_fn')::text AS v", "write", None, None),
    (["chronicle.snapshot_all(text,integer,integer)"], "snapshot_all",
     "CALL chronicle.snapshot_all('low_rules', 1, 1)", "call", None, None),
    (["chronicle.prune_snapshots(text,integer)"], "prune_snapshots",
     "SELECT chronicle.prune_snapshots('low_rules', 1)::text AS v", "write", None, None),
    # -- projections
    (["chronicle.define_projection(text,text,text,jsonb)"], "define_projection",
     """SELECT chronicle.define_projection('low_proj', 'low_rules', 'lowsch.low_proj', '{"total": "numeric", "owner": "text"}')::text AS v""",
     "write", None, None),
    (APPEND, "append:both-projections",
     """SELECT chronicle.append('acct-7', 'DepositMade', '{"Amount": 2.5}')::text AS v""", "write", None, None),
    (["chronicle.rebuild_projection(text)"], "rebuild_projection", "SELECT chronicle.rebuild_projection('low_proj')::text AS v",
     "write", None, None),
    (["chronicle.rebuild_projection(text)"], "rebuild_projection:superusers", "SELECT chronicle.rebuild_projection('su_proj')::text AS v",
     "write", NO, None),
    (["chronicle.drop_projection(text,boolean)"], "drop_projection:superusers", "SELECT chronicle.drop_projection('su_proj')::text AS v",
     "write", NO, None),
    # -- subscriptions
    (["chronicle.subscribe(text,text,text[],boolean)"], "subscribe",
     "SELECT chronicle.subscribe('low_sub', 'acct')::text AS v", "write", None, None),
    (["chronicle.subscribe(text,text,text[],boolean)"], "subscribe:types",
     "SELECT chronicle.subscribe('low_sub_types', NULL, ARRAY['DepositMade'], false)::text AS v", "write", None, None),
    (["chronicle.poll(text,integer,integer,integer)"], "poll", "SELECT p::text AS v FROM chronicle.poll('low_sub', 100) p",
     "read", None, None),
    # su_sub is the superuser's subscription: every function refuses sec_low (42501).
    (["chronicle.subscribe(text,text,text[],boolean)"], "subscribe:superusers",
     "SELECT chronicle.subscribe('su_sub', 'acct')::text AS v", "write", NO, None),
    (["chronicle.poll(text,integer,integer,integer)"], "poll:superusers", "SELECT p::text AS v FROM chronicle.poll('su_sub', 100) p",
     "read", NO, None),
    (["chronicle.poll(text,integer,integer,integer)"], "poll:superusers-members",
     "SELECT p::text AS v FROM chronicle.poll('su_sub', 100, 1, 2) p", "write", NO, None),
    (["chronicle.poll(text,integer,integer,integer)"], "poll:members",
     "SELECT p::text AS v FROM chronicle.poll('low_sub', 100, 1, 2) p", "write", None, None),
    (["chronicle._subscription_resize(text,integer)"], "_subscription_resize",
     "SELECT chronicle._subscription_resize('low_sub', 1)::text AS v", "write", None, None),
    (["chronicle._subscription_resize(text,integer)"], "_subscription_resize:superusers",
     "SELECT chronicle._subscription_resize('su_sub', 2)::text AS v", "write", NO, None),
    (["chronicle._stream_member(text,integer)"], "_stream_member", "SELECT chronicle._stream_member('acct-2', 4)::text AS v",
     "read", None, None),
    (["chronicle.ack(text,xid8,bigint,integer,integer)"], "ack",
     "SELECT chronicle.ack('low_sub', p.tx_id, p.global_position)::text AS v FROM chronicle.poll('low_sub', 2) p",
     "write", None, None),
    (["chronicle.ack(text,xid8,bigint,integer,integer)"], "ack:superusers",
     "SELECT chronicle.ack('su_sub', r.tx_id, r.global_position)::text AS v FROM chronicle.read_stream('acct-2', 3, 1) r",
     "write", NO, None),
    (["chronicle.ack(text,xid8,bigint,integer,integer)"], "ack:node",
     "SELECT chronicle.ack('low_sub', p.tx_id, p.global_position, 0, 0)::text AS v FROM chronicle.poll('low_sub', 3) p",
     "write", None, None),
    (["chronicle.ack(text,xid8,bigint,integer,integer)"], "ack:superusers-node",
     "SELECT chronicle.ack('su_sub', r.tx_id, r.global_position, 0, 0)::text AS v FROM chronicle.read_stream('acct-2', 3, 1) r",
     "write", NO, None),
    (["chronicle._subscription_lag(text,text,text[],integer,integer,integer,xid8,bigint)"], "_subscription_lag",
     "SELECT chronicle._subscription_lag('low_sub', 'acct', NULL, 1, 0, 0, '0', 0)::text AS v", "read", None, None),
    # the log per node (one server: node 0; Citus: test/citus)
    (["chronicle._log_distributed()"], "_log_distributed", "SELECT chronicle._log_distributed()::text AS v",
     "read", None, None),
    (["chronicle._log_node()"], "_log_node", "SELECT chronicle._log_node()::text AS v", "read", None, None),
    (["chronicle._log_nodes()"], "_log_nodes", "SELECT n::text AS v FROM chronicle._log_nodes() n", "read", None, None),
    (["chronicle._stream_node(text)"], "_stream_node", "SELECT chronicle._stream_node('acct-2')::text AS v",
     "read", None, None),
    (["chronicle.poll_nodes(text,integer,integer,integer)"], "poll_nodes",
     "SELECT r::text AS v FROM chronicle.poll_nodes('low_sub') r", "read", {"0A000"}, None),
    # another role's subscription: 42501 before the 0A000 of a store that is not distributed
    (["chronicle.poll_nodes(text,integer,integer,integer)"], "poll_nodes:superusers",
     "SELECT r::text AS v FROM chronicle.poll_nodes('su_sub') r", "read", NO, None),
    (["chronicle.poll_nodes(text,integer,integer,integer)"], "poll_nodes:superusers-members",
     "SELECT r::text AS v FROM chronicle.poll_nodes('su_sub', 100, 1, 2) r", "write", NO, None),
    (["chronicle._poll_node(text,xid8,bigint,integer,integer,integer,text,text[])"], "_poll_node",
     "SELECT r::text AS v FROM chronicle._poll_node('low_sub', '0', 0, 10, 0, 1, NULL, NULL) r", "read", {"0A000"}, None),
    (["chronicle._poll_node(text,xid8,bigint,integer,integer,integer,text,text[])"], "_poll_node:superusers",
     "SELECT r::text AS v FROM chronicle._poll_node('su_sub', '0', 0, 10, 0, 1, NULL, NULL) r", "read", NO, None),
    (["chronicle.park(text,uuid,text)"], "park",
     "SELECT chronicle.park('low_sub', r.event_id, 'bad event')::text AS v FROM chronicle.read_stream('acct-2', 3, 1) r",
     "write", None, None),
    (["chronicle.park(text,uuid,text)"], "park:superusers",
     "SELECT chronicle.park('su_sub', r.event_id, 'bad event')::text AS v FROM chronicle.read_stream('acct-2', 3, 1) r",
     "write", NO, None),
    (["chronicle.replay_parked(text)"], "replay_parked", "SELECT p::text AS v FROM chronicle.replay_parked('low_sub') p",
     "write", None, None),
    (["chronicle.replay_parked(text)"], "replay_parked:superusers",
     "SELECT p::text AS v FROM chronicle.replay_parked('su_sub') p", "write", NO, None),
    (["chronicle.alter_subscription_owner(text,regrole)"], "alter_subscription_owner",
     "SELECT chronicle.alter_subscription_owner('low_sub', 'sec_low')::text AS v", "write", None, None),
    (["chronicle.alter_subscription_owner(text,regrole)"], "alter_subscription_owner:superusers",
     "SELECT chronicle.alter_subscription_owner('su_sub', 'sec_low')::text AS v", "write", NO, None),
    (["chronicle.unsubscribe(text)"], "unsubscribe:superusers", "SELECT chronicle.unsubscribe('su_sub')::text AS v",
     "write", NO, None),
    (["chronicle.unsubscribe(text)"], "unsubscribe", "SELECT chronicle.unsubscribe('low_sub')::text AS v", "write", None, None),
    # -- trees (beyond the per-table sequences)
    (["chronicle._tree_maintaining()"], "_tree_maintaining", "SELECT chronicle._tree_maintaining()::text AS v",
     "read", None, None),
    (["chronicle.tree_attach(regclass,name,name,name,name,text,text)"], "tree_attach:own",
     "SELECT chronicle.tree_attach('lowsch.mine', order_column => 'pos', on_delete => 'promote')::text AS v",
     "write", None, None),
    (["chronicle.tree_attach(regclass,name,name,name,name,text,text)"], "tree_attach:superusers",
     "SELECT chronicle.tree_attach('shop.ro_t_int')::text AS v", "write", NO, None),
    (["chronicle.tree_attach(regclass,name,name,name,name,text,text)"], "tree_attach:superusers_per_root",
     "SELECT chronicle.tree_attach('shop.ro_t_int', numbering => 'per_root')::text AS v", "write", NO, None),
    (["chronicle.tree_attach(regclass,name,name,name,name,text,text)"], "tree_attach:temp",
     "SELECT chronicle.tree_attach('pg_temp.scratch')::text AS v", "write", {"TR004"}, None),
    (["chronicle.tree_detach(regclass)"], "tree_detach:superusers", "SELECT chronicle.tree_detach('shop.low_t_int')::text AS v",
     "write", NO, None),
    (["chronicle.tree_detach(regclass)"], "tree_detach:own", "SELECT chronicle.tree_detach('lowsch.mine')::text AS v",
     "write", None, None),
    # the per-table sequences cover these; the recipes keep them in the catalog check
    (["chronicle.tree_insert(regclass,jsonb,anyelement,text)"], "tree_insert:own",
     """SELECT chronicle.tree_insert('lowsch.mine2', '{"id": 1, "name": "r"}')::text AS v""", "write", None, None),
    (["chronicle.tree_move(regclass,anyelement,anyelement,text,\"any\")"], "tree_move:own",
     "SELECT chronicle.tree_move('lowsch.mine2', 1, NULL::int)::text AS v", "write", None, None),
    (["chronicle.tree_subtree(anyelement,anycompatible,integer,\"any\")"], "tree_subtree:own",
     "SELECT s::text AS v FROM chronicle.tree_subtree(NULL::lowsch.mine2, 1) s", "read", None, None),
    (["chronicle.tree_ancestors(anyelement,anycompatible,\"any\")"], "tree_ancestors:own",
     "SELECT s::text AS v FROM chronicle.tree_ancestors(NULL::lowsch.mine2, 1) s", "read", None, None),
    (["chronicle.tree_children(anyelement,anycompatible,\"any\")"], "tree_children:own",
     "SELECT s::text AS v FROM chronicle.tree_children(NULL::lowsch.mine2, 1) s", "read", None, None),
    (["chronicle.tree_validate(regclass,\"any\")"], "tree_validate:own",
     "SELECT s::text AS v FROM chronicle.tree_validate('lowsch.mine2') s", "read", None, None),
    (["chronicle.tree_rebuild(regclass)"], "tree_rebuild:own", "SELECT chronicle.tree_rebuild('lowsch.mine2')::text AS v",
     "write", None, None),
    (["chronicle.tree_delete(regclass,anyelement,text,\"any\")"], "tree_delete:own",
     "SELECT chronicle.tree_delete('lowsch.mine2', 1)::text AS v", "write", None, None),
    # -- 0.2.0 (driven once the catalog has them)
    (["chronicle.append_events(jsonb,jsonb,xid8,bigint)"], "append_events",
     """SELECT r::text AS v FROM chronicle.append_events('[{"stream_id": "user-1", "type": "UserRegistered", "data": {"username": "alice"}, "tags": ["username:alice"]}]', '{"items": [{"types": ["UserRegistered"], "tags": ["username:alice"]}]}') r""",
     "write", None, None),
    (["chronicle.append_events(jsonb,jsonb,xid8,bigint)"], "append_events:condition-fails",
     """SELECT r::text AS v FROM chronicle.append_events('[{"stream_id": "user-2", "type": "UserRegistered", "data": {"username": "alice"}, "tags": ["username:alice"]}]', '{"items": [{"types": ["UserRegistered"], "tags": ["username:alice"]}]}') r""",
     "write", {"SE007"}, None),
    (["chronicle.read_query(jsonb,xid8,bigint,integer)"], "read_query",
     """SELECT r::text AS v FROM chronicle.read_query('{"items": [{"tags": ["username:alice"]}, {"types": ["DepositMade"]}]}') r""",
     "read", None, None),
    (["chronicle.redact(text,bigint,text[],text)"], "redact", "SELECT chronicle.redact('acct-2', 1)::text AS v",
     "write", NO, None),
    (["chronicle.redact_tagged(text,text[],text)"], "redact_tagged",
     "SELECT chronicle.redact_tagged('username:alice')::text AS v", "write", NO, None),
    (["chronicle.digest()"], "digest", "SELECT (chronicle.digest() OPERATOR(pg_catalog.?) 'root')::text AS v",
     "write", None, None),
    (["chronicle.verify_digest(jsonb)"], "verify_digest",
     "SELECT r::text AS v FROM chronicle.verify_digest(chronicle.digest()) r", "write", None, None),
    (["chronicle.distribute(integer)"], "distribute", "SELECT chronicle.distribute()::text AS v", "write",
     {"42501", "0A000"}, None),
    (["chronicle.read_all_nodes(jsonb,integer,text,text[])"], "read_all_nodes",
     "SELECT r::text AS v FROM chronicle.read_all_nodes() r", "read", {"0A000"}, None),
    (["chronicle.digest_nodes()"], "digest_nodes", "SELECT r::text AS v FROM chronicle.digest_nodes() r", "write",
     NO, None),
    # -- attempts on the superuser's reducers, last (today they succeed and
    # would change what the observers run)
    (["chronicle.define_reducer(text,jsonb,text,integer)"], "define_reducer:superusers-rules",
     """SELECT chronicle.define_reducer('su_rules', '{"*": {"set": {"pwned": true}}}'::jsonb, 'acct', 2)::text AS v""",
     "write", NO, None),
    (["chronicle.define_reducer(text,text,text,integer)"], "define_reducer:superusers-text",
     """SELECT chronicle.define_reducer('su_rules', '{"*": {"set": {"pwned": true}}}', 'acct', 2)::text AS v""",
     "write", NO, None),
    (["chronicle.define_reducer(text,regprocedure,text,integer)"], "define_reducer:superusers-function",
     "SELECT chronicle.define_reducer('su_fn', 'lowsch.low_fn(jsonb, chronicle.events)'::regprocedure, 'acct', 2)::text AS v",
     "write", NO, None),
]

# pg_temp comes after pg_catalog in chronicle's pinned search_path, so an
# unqualified name of one of chronicle's own relations would resolve to the
# session's temporary objects: every session shadows each relation of schema
# chronicle with a TEMP VIEW of the same name and columns whose reading calls
# a hostile function (and which cannot be written).
TEMP_SHADOWS = """
SET search_path = pg_catalog, pg_temp;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname,
                    string_agg(format('NULL::%s AS %I', format_type(a.atttypid, a.atttypmod), a.attname), ', '
                               ORDER BY a.attnum) AS cols
               FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              WHERE c.relnamespace = 'chronicle'::regnamespace AND c.relkind IN ('r', 'v', 'p', 'm', 'f')
              GROUP BY c.relname
    LOOP
        EXECUTE format('CREATE TEMP VIEW %I AS SELECT %s FROM hostile.temp_probe(%L) p', r.relname, r.cols,
                       'temp view pg_temp.' || r.relname);
    END LOOP;
END $$;
""" + HOSTILE_PATH

# Paths that run a superuser's own function (written without a pinned
# search_path) as the caller: a hostile object it reaches is called with the
# caller's rights only.  Such calls are noted; any call as another role, or
# any escalation, still fails the path.
CALLER_CODE = {"low:es:replay:superusers-function", "low:es:fold:superusers-function",
               "low:es:take_snapshot:superusers-function"}

# What the low role's session sets up for itself before the paths (its own
# objects: not paths, but under the hostile path too).
LOW_PRELUDE = """
CREATE FUNCTION lowsch.low_fn(state jsonb, e chronicle.events) RETURNS jsonb
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    AS $$ SELECT pg_catalog.jsonb_build_object('n', COALESCE((state OPERATOR(pg_catalog.->>) 'n')::int, 0) OPERATOR(pg_catalog.+) 1) $$;
CREATE TABLE lowsch.mine (id int PRIMARY KEY, parent_id int, pos int, name text);
CREATE TABLE lowsch.mine2 (id int PRIMARY KEY, parent_id int, name text);
SELECT chronicle.tree_attach('lowsch.mine2');
CREATE TEMP TABLE scratch (id int PRIMARY KEY, parent_id int);
""" + TEMP_SHADOWS



# Checks of results, run by the superuser under a clean search_path after
# the runs: (path, SQL returning one boolean).
R = "(SELECT val FROM hostile.results WHERE path = '{p}' AND run = 'hostile' ORDER BY n LIMIT 1)"


def rv(p):
    return R.format(p=p)


CHECKS = [
    ("low:es:append:opened", f"{rv('low:es:append:opened')} = '1'"),
    ("low:es:append:deposit-meta-version-id", f"{rv('low:es:append:deposit-meta-version-id')} = '2'"),
    ("low:es:append:idempotent", f"{rv('low:es:append:idempotent')} = '2'"),
    ("low:es:append:withdrawal", f"{rv('low:es:append:withdrawal')} = '3'"),
    ("low:es:append_batch", f"{rv('low:es:append_batch')} = '4'"),
    ("low:es:stream_version", f"{rv('low:es:stream_version')} = '3'"),
    ("low:es:replay", f"{rv('low:es:replay')}::jsonb = '{{\"number\": 123456, \"owner\": \"John Doe\", \"balance\": 50}}'"),
    ("low:es:replay:as_of_version",
     f"{rv('low:es:replay:as_of_version')}::jsonb = '{{\"number\": 123456, \"owner\": \"John Doe\", \"balance\": 100}}'"),
    ("low:es:replay:as_of_time",
     f"{rv('low:es:replay:as_of_time')}::jsonb = '{{\"number\": 2, \"owner\": \"Jane Roe\", \"balance\": 0.3, \"name\": \"x\"}}'"),
    ("low:es:fold", f"{rv('low:es:fold')}::jsonb = {rv('low:es:replay')}::jsonb"),
    ("low:es:fold:superusers-function",
     f"{rv('low:es:fold:superusers-function')}::jsonb = {rv('low:es:replay:superusers-function')}::jsonb"
     f" AND {rv('low:es:replay:superusers-function')}::jsonb = '{{\"n\": 3, \"big\": true, \"last\": \"withdrawalmade\"}}'"),
    ("low:es:fold:own-function", f"{rv('low:es:fold:own-function')}::jsonb = {rv('low:es:replay:own-function')}::jsonb "
                                 "AND " + rv('low:es:replay:own-function') + "::jsonb = '{\"n\": 4}'"),
    ("low:es:verify:all", "NOT EXISTS (SELECT FROM chronicle.verify())"),
    ("low:es:read_stream:upcast",
     f"{rv('low:es:read_stream:upcast')} LIKE '%,LowThing,2,\"{{\"\"kk\"\": 3, \"\"up\"\": 1}}\",%'"),
    ("low:es:read_stream", "(SELECT count(*) FROM hostile.results WHERE path = 'low:es:read_stream' AND run = 'hostile') = 4"
     f" AND {rv('low:es:read_stream')} IS NOT NULL"),
    # the observers: snapshots every 2 events of both of the superuser's
    # reducers, written in the low role's appends; both projections current
    ("low:es:append:deposit-meta-version-id",
     "(SELECT state FROM chronicle.snapshots WHERE stream_id = 'acct-123456' AND reducer = 'su_rules' AND version = 2)"
     " = '{\"number\": 123456, \"owner\": \"John Doe\", \"balance\": 100}'"),
    ("low:es:append:deposit-meta-version-id",
     "(SELECT state ->> 'n' FROM chronicle.snapshots WHERE stream_id = 'acct-123456' AND reducer = 'su_fn' AND version = 2) = '2'"),
    ("low:es:append:withdrawal",
     "(SELECT row(owner, balance, number, version)::text FROM shop.acct_proj WHERE stream_id = 'acct-123456')"
     " = '(\"John Doe\",50,123456,3)'"),
    ("low:es:append:withdrawal",
     "(SELECT jsonb_build_object('owner', owner, 'balance', balance, 'number', number) FROM shop.acct_proj"
     f" WHERE stream_id = 'acct-123456') = {rv('low:es:replay')}::jsonb"),
    ("low:es:append:withdrawal",
     "(SELECT n FROM shop.acct_count WHERE stream_id = 'acct-123456') = 3"),
    # acct-7's deposits: 2.5, and 5 before it when append has tags (the append:tags recipe).
    ("low:es:append:both-projections",
     "(SELECT row(owner, balance, version)::text FROM shop.acct_proj WHERE stream_id = 'acct-7')"
     " = format('(\"Jane Roe\",%s,%s)', (SELECT sum((e.data->>'Amount')::numeric) FROM chronicle.events e"
     " WHERE e.stream_id = 'acct-7' AND e.type = 'DepositMade'), chronicle.stream_version('acct-7'))"
     " AND chronicle.stream_version('acct-7') = CASE WHEN to_regprocedure('" + APPEND[1] + "') IS NULL THEN 2 ELSE 3 END"
     " AND (SELECT n FROM shop.acct_count WHERE stream_id = 'acct-7') = chronicle.stream_version('acct-7')"),
    ("low:es:rebuild_projection",
     "(SELECT total FROM lowsch.low_proj WHERE stream_id = 'acct-2') = 0.3"),
    ("low:es:take_snapshot", f"{rv('low:es:take_snapshot')} = '3'"),
    ("low:es:define_reducer:superusers-rules",
     "(SELECT rules::text FROM chronicle.reducers WHERE name = 'su_rules') NOT LIKE '%pwned%'"),
    ("low:es:define_reducer:superusers-function",
     "(SELECT fn::text FROM chronicle.reducers WHERE name = 'su_fn') LIKE 'public.su_count(%'"),
    ("mallory:seed:insert",
     "(SELECT string_agg(id || ' ' || name || ' ' || lft || ' ' || rgt, ' | ' ORDER BY lft) FROM shop.seed)"
     " = '1 Home 1 12 | 2 About 2 3 | 3 Products 4 9 | 4 Laptops 5 6 | 5 Smartphones 7 8 | 6 Contact 10 11'"),
    ("low:es:_tree_maintaining", f"{rv('low:es:_tree_maintaining')} = 'false'"),
]


def pname(role, group, sub):
    return f"{role}:{group}:{sub}"


ESCALATION_CHECK = """SET application_name = 'check';
SELECT (r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolbypassrls OR r.rolreplication) AS escalated
  FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) session_user \\gset
\\if :escalated
\\echo @@escalated {path}
ALTER ROLE {login} NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS NOREPLICATION;
\\endif"""


def emit_path(out, path, sql, kind, read_clean=True, login=None):
    out.append(f"SET application_name = '{path}';")
    if kind in ("read", "write"):
        out.append(f"INSERT INTO hostile.results (path, run, val) SELECT '{path}', 'hostile', x.v::text FROM ({sql}) x;")
    else:
        out.append(sql if sql.endswith("\\.") else sql + ";")
    out.append(f"\\echo @@ {path} :SQLSTATE")
    if login:
        # Escalated?  Say so, and put the role back (it is a superuser now, so
        # it may), so that the following paths are judged on their own.
        out.append(ESCALATION_CHECK.format(path=path, login=login))
    if kind == "read" and read_clean:
        out.append(CLEAN_PATH)
        out.append(f"SET application_name = '{path}#clean';")
        out.append(f"INSERT INTO hostile.results (path, run, val) SELECT '{path}', 'clean', x.v::text FROM ({sql}) x;")
        out.append(HOSTILE_PATH)


def load_catalog(fn):
    cat = {}
    for line in open(fn):
        line = line.strip()
        if line:
            sig, pub = line.split("|")
            cat[sig] = pub in ("t", "true")
    return cat


def recipes_for(cat):
    """The recipes whose functions exist, and those skipped."""
    run, skipped = [], []
    for sigs, path, sql, kind, expect, requires in RECIPES:
        present = [s for s in sigs if s in cat]
        if not present or (requires and requires not in cat):
            skipped.append((sigs, path))
        else:
            run.append((present, path, sql, kind, expect))
    return run, skipped


def plan(role, cat):
    """[(path, sql, kind, expected set, mirror path or None)] for ROLE."""
    P = []
    if role in ("low", "mallory"):
        prefix = "low" if role == "low" else "mal"
        for v in VARIANTS:
            for sub, sql, kind, expect in tree_paths("shop", prefix, v, functions=(role == "low")):
                path = pname(role, "tree:" + v[0], sub)
                P.append((path, sql, kind, expect or {"00000"}, pname("mirror-" + role, "tree:" + v[0], sub)))
    if role == "low":
        for v in VARIANTS:
            for sub, sql, kind, expect in ro_paths(v):
                P.append((pname(role, "readonly:" + v[0], sub), sql, kind, expect or {"00000"}, None))
        run, _ = recipes_for(cat)
        for sigs, path, sql, kind, expect in run:
            P.append((pname(role, "es", path), sql, kind, expect or {"00000"}, None))
    if role == "mallory":
        # The README's category tree, by plain INSERT as a role in no chronicle role.
        P.append(("mallory:seed:insert", "INSERT INTO shop.seed VALUES (1, NULL, 'Home'), (2, 1, 'About'), "
                  "(3, 1, 'Products'), (4, 3, 'Laptops'), (5, 3, 'Smartphones'), (6, 1, 'Contact')",
                  "stmt", {"00000"}, None))
        run, _ = recipes_for(cat)
        seen = set()
        for sigs, path, sql, kind, expect in run:
            for s in sigs:
                if s in seen:
                    continue
                seen.add(s)
                exp = {"00000"} if cat[s] else {"42501"}
                P.append((pname(role, "fn", s.replace(" ", "_")), sql, "stmt" if kind != "call" else "call", exp, None))
    if role.startswith("mirror-"):
        who = role.split("-", 1)[1]
        prefix = "low" if who == "low" else "mal"
        for v in VARIANTS:
            for sub, sql, kind, expect in tree_paths("mirror", prefix, v, functions=(who == "low")):
                P.append((pname(role, "tree:" + v[0], sub), sql, kind, expect or {"00000"}, None))
    return P


CONTROLS = [
    # (path, statement): the test itself calls shadowed objects directly, as
    # the low role under the hostile path; each must be seen in the log.
    ("control:int4=", "SELECT 1 = 1"),
    ("control:int8>int4", "SELECT 5::int8 > 3"),
    ("control:numeric+", "SELECT 1.5 + 2.5"),
    ("control:text-concat", "SELECT 'a'::text || 'b'::text"),
    ("control:like", "SELECT 'abc'::text LIKE 'a%'"),
    ("control:uuid=", "SELECT '00000000-0000-0000-0000-000000000001'::uuid = '00000000-0000-0000-0000-000000000001'::uuid"),
    ("control:bool=", "SELECT true = false"),
    ("control:jsonb->>", "SELECT '{\"a\": 1}'::jsonb ->> 'a'"),
    ("control:jsonb@>", "SELECT '{\"a\": 1}'::jsonb @> '{}'::jsonb"),
    ("control:lower", "SELECT lower('ABC')"),
    ("control:now", "SELECT now() IS NULL"),
    ("control:count(*)", "SELECT count(*) FROM (VALUES (1)) v"),
    ("control:max", "SELECT max(x) FROM (VALUES (1), (2)) v(x)"),
    ("control:jsonb_build_object", "SELECT jsonb_build_object('a', 1)"),
    ("control:unnest", "SELECT unnest(ARRAY[1, 2])"),
    ("control:hashtext", "SELECT hashtext('x')"),
    ("control:pg_advisory_xact_lock", "SELECT pg_advisory_xact_lock(1::int8)"),
    ("control:xid8<", "SELECT pg_current_xact_id() < pg_current_xact_id()"),
    # the classic mistake: a superuser's SECURITY DEFINER function without a
    # pinned search_path escalates the caller (proves the roles check works)
    ("control:escalation", "SELECT public.careless_definer(1)"),
    # an unqualified name of chronicle's under chronicle's own pinned path
    # reaches the session's TEMP VIEW of that name (proves those shadows log)
    ("control:temp-view", "SET search_path = pg_catalog, pg_temp; SELECT * FROM events"),
]


def script(role, cat):
    out = ["\\set ON_ERROR_STOP 0", "\\set VERBOSITY terse", "SET client_min_messages = warning;"]
    if role.startswith("mirror-"):
        out.append(CLEAN_PATH)
    else:
        out.append(HOSTILE_PATH)
    if role == "control":
        out.append(TEMP_SHADOWS)
        for path, sql in CONTROLS:
            out.append(f"SET application_name = '{path}';")
            out.append(sql + ";")
            out.append(f"\\echo @@ {path} :SQLSTATE")
            out.append(HOSTILE_PATH)
        return "\n".join(out) + "\n"
    if role == "low":
        out.append("SET application_name = 'low:prelude';")
        out.append(LOW_PRELUDE)
    if role == "mallory":
        out.append("SET application_name = 'mallory:prelude';")
        out.append(TEMP_SHADOWS)
    for path, sql, kind, expect, mirror in plan(role, cat):
        emit_path(out, path, sql, kind, read_clean=not role.startswith("mirror-"),
                  login={"low": "sec_low", "mallory": "sec_mallory"}.get(role))
    return "\n".join(out) + "\n"


def missing(cat):
    covered = set()
    for sigs, *_ in RECIPES:
        covered.update(sigs)
    return sorted(s for s in cat if s not in covered)


# --------------------------------------------------------------------- judge

def read_status(fn):
    st = {}
    if os.path.exists(fn):
        for line in open(fn):
            m = re.match(r"^@@ (\S+) (\S+)$", line.strip())
            if m:
                st[m.group(1)] = m.group(2)
    return st


def judge(d, cat):
    fails = []
    status = {}
    for r in ("control", "low", "mallory", "mirror-low", "mirror-mallory"):
        status.update(read_status(os.path.join(d, f"{r}.out")))
    escalated = set()
    for r in ("low", "mallory"):
        fn = os.path.join(d, f"{r}.out")
        if os.path.exists(fn):
            for line in open(fn):
                m = re.match(r"^@@escalated (\S+)$", line.strip())
                if m:
                    escalated.add(m.group(1))
    # hostile calls: the WARNING lines (they survive rollbacks) and the table
    calls = {}
    for r in ("control", "low", "mallory", "repro"):
        fn = os.path.join(d, f"{r}.err")
        if not os.path.exists(fn):
            continue
        for line in open(fn):
            m = re.search(r"HOSTILE-CALL path=(\S*) obj=(.*) current_user=(\S+) escalation=(\S+)", line)
            if m:
                calls.setdefault(m.group(1), set()).add((m.group(2), m.group(3), m.group(4)))
            m = re.search(r"HOSTILE-CALL-UNLOGGED path=(\S*)", line)
            if m:
                calls.setdefault(m.group(1), set()).add(("(unlogged)", "?", "?"))
    for line in open(os.path.join(d, "calls.txt")):
        parts = line.rstrip("\n").split("|")
        if len(parts) == 4:
            calls.setdefault(parts[0], set()).add((parts[1], parts[2], parts[3]))
    results = {}
    for line in open(os.path.join(d, "results.txt")):
        parts = line.rstrip("\n").split("|", 2)
        if len(parts) == 3:
            results.setdefault((parts[0], parts[1]), []).append(parts[2])
    checks = {}
    done = set()
    for line in open(os.path.join(d, "checks.txt")):
        m = re.match(r"^@@check (\d+) (\S+) (\S+) (.*)$", line.rstrip("\n"))
        if m:
            done.add(int(m.group(1)))
            checks.setdefault(m.group(2), []).append((m.group(3), m.group(4)))
    for k, (path, sql) in enumerate(CHECKS):
        if k not in done:  # the check itself failed to run: a failure too
            checks.setdefault(path, []).append(("FAIL", "check did not run: " + sql))
    roles = {}
    for line in open(os.path.join(d, "roles.txt")):
        m = re.match(r"^@@roles (\S+) (\S+)(.*)$", line.rstrip("\n"))
        if m:
            roles[m.group(1)] = (m.group(2), m.group(3).strip())

    lines = []
    notes = []
    npaths = 0
    nfail = 0

    def verdict(path, problems):
        nonlocal npaths, nfail
        npaths += 1
        if problems:
            nfail += 1
            lines.append(f"FAIL {path}: " + "; ".join(problems))
        else:
            lines.append(f"ok   {path}")

    # 1. the reproduction
    rp = roles.get("repro", ("missing", ""))
    verdict("repro:issue-10", [] if rp[0] == "same" else [f"roles after the reproduction: {rp[0]} {rp[1]}"])
    # 2. controls: each must have been seen
    for path, _ in CONTROLS:
        c = calls.get(path, set())
        probs = []
        if status.get(path) != "00000":
            probs.append(f"control statement failed: {status.get(path)}")
        if not c:
            probs.append("no hostile call seen: the hostile objects do not shadow")
        if path == "control:escalation" and not any(e == "ESCALATED" for _, _, e in c):
            probs.append("no escalation seen through the careless SECURITY DEFINER function")
        verdict(path, probs)
    ctl = roles.get("control", ("missing", ""))
    verdict("control:roles-changed", [] if ctl[0] == "CHANGED" else ["the roles check saw no change after the escalation control"])
    # 3. the driven paths
    known = set()
    for role in ("mallory", "low"):
        for path, sql, kind, expect, mirror in plan(role, cat):
            known.add(path)
            probs = []
            got = status.get(path)
            if got is None:
                probs.append("not run")
            elif got not in expect:
                probs.append(f"SQLSTATE {got}, expected {'/'.join(sorted(expect))}")
            if mirror is not None:
                mg = status.get(mirror)
                if got is not None and mg != got:
                    probs.append(f"SQLSTATE {got} but {mg} in the clean reference run")
                if kind in ("read", "write") and results.get((path, "hostile"), []) != results.get((mirror, "hostile"), []):
                    probs.append("result differs from the clean reference run")
            if kind == "read" and results.get((path, "hostile"), []) != results.get((path, "clean"), []):
                probs.append("result under the hostile search_path differs from the clean one")
            if path in escalated:
                probs.append(f"ESCALATED: {path.split(':')[0].replace('low', 'sec_low').replace('mallory', 'sec_mallory')} became a superuser")
            c = calls.get(path, set()) | calls.get(path + "#clean", set())
            if path in CALLER_CODE:
                own = {x for x in c if x[1] == "sec_low" and x[2] == "none"}
                if own:
                    notes.append(f"note {path}: the superuser's function, run as the caller, reached "
                                 + ", ".join(sorted({o for o, _, _ in own})) + " (as sec_low only)")
                c = c - own
            if c:
                esc = sorted({f"{o} as {u} ({e})" for o, u, e in c})
                probs.append(f"{len(c)} hostile object(s) called: " + ", ".join(esc[:6]) + (" ..." if len(esc) > 6 else ""))
            for ok, detail in checks.get(path, []):
                if ok != "ok":
                    probs.append(f"check failed: {detail}")
            verdict(path, probs)
    # 4. tree tables equal their clean mirrors and validate
    for line in open(os.path.join(d, "trees.txt")):
        m = re.match(r"^@@tree (\S+) (\S+) (.*)$", line.rstrip("\n"))
        if m:
            verdict("trees:" + m.group(1), [] if m.group(2) == "ok" else [m.group(3)])
    # 5. roles unchanged after each phase of driven paths
    for phase in ("mallory", "low"):
        r = roles.get(phase, ("missing", ""))
        verdict(f"roles-unchanged:{phase}", [] if r[0] == "same" else [f"{r[0]} {r[1]}"])
    # 6. hostile calls attributed to no known path
    stray = {p: c for p, c in calls.items()
             if not p.startswith("control:") and p not in known and p.removesuffix("#clean") not in known}
    verdict("no-unattributed-hostile-calls",
            [f"{p}: " + ", ".join(sorted({f'{o} as {u} ({e})' for o, u, e in c})[:4]) for p, c in stray.items()])

    print("\n".join(lines + notes))
    made = open(os.path.join(d, "made.txt")).read().strip()
    _, skipped = recipes_for(cat)
    print(f"hostile objects: {made}")
    print(f"catalog functions a low role can reach: {len(cat)}; recipes skipped (function not in the catalog): "
          + (", ".join(p for _, p in skipped) or "none"))
    print(f"call paths judged: {npaths}, failed: {nfail}")
    return nfail


def main():
    cmd = sys.argv[1]
    if cmd == "script":
        sys.stdout.write(script(sys.argv[2], load_catalog(sys.argv[3])))
    elif cmd == "missing":
        for s in missing(load_catalog(sys.argv[2])):
            print(s)
    elif cmd == "checks":
        # the superuser's checks, as SQL printing "@@check path ok|FAIL sql"
        for k, (path, sql) in enumerate(CHECKS):
            q = sql.replace("'", "''")
            print(f"SELECT '@@check {k} {path} ' || CASE WHEN ({sql}) IS TRUE THEN 'ok' ELSE 'FAIL' END || ' ' || '{q}';")
    elif cmd == "judge":
        sys.exit(1 if judge(sys.argv[2], load_catalog(sys.argv[3])) else 0)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
