#!/usr/bin/env bash
# Security regression suite (issue 10, docs/design/security.md): no
# role gains another role's rights through chronicle.
#
# A low-privileged writer (sec_low) and a role in no chronicle role
# (sec_mallory) work on superuser-owned objects (tree tables of every id type,
# scope and order variant and on_delete mode; a superuser's reducers with
# snapshot_every, projections and a subscription on the category they append
# to; event types with schemas; an upcaster) with
#     search_path = hostile, pg_catalog, public
# where schema hostile holds a twin of every pg_catalog operator, function and
# aggregate over chronicle's types (generated from the catalog, hostile.sql).
# A twin logs the path, itself and current_user, tries ALTER ROLE ...
# SUPERUSER when current_user is not the caller's login role, and returns the
# real result.  The paths (gen.py) are every tree trigger and tree function and
# every function a low role can reach, from the catalog: a function without a
# recipe fails the suite.  A path passes when its SQLSTATE is the expected one,
# no hostile object was called, and its result is right (the same as under a
# clean search_path / in a clean reference run / the known value).  Roles'
# attributes and memberships must not change.  Run by test/run.sh against its
# cluster; prints one verdict per path and a summary; exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
source test/lib/cluster.sh
here=test/security
db=security
out=$(mktemp -d)
cleanup() {
    if [[ ${SECURITY_KEEP:-} == 1 ]]; then
        echo "outputs kept in $out, database $db kept"
        return
    fi
    drop_db "$db"
    psql -X -q -d postgres -c "SET client_min_messages = warning" \
        -c "DROP ROLE IF EXISTS sec_low" -c "DROP ROLE IF EXISTS sec_mallory" >/dev/null 2>&1 || true
    rm -rf "$out"
}
at_exit cleanup
start=$SECONDS
su="psql -X -q -v ON_ERROR_STOP=1 -d $db"
drop_db "$db"
psql -X -q -d postgres -c "SET client_min_messages = warning" \
    -c "DROP ROLE IF EXISTS sec_low" -c "DROP ROLE IF EXISTS sec_mallory" \
    -c "CREATE DATABASE $db" -c "CREATE ROLE sec_low LOGIN" -c "CREATE ROLE sec_mallory LOGIN"

# The superuser's objects, and the baseline of every role's attributes.
$su -f $here/setup.sql >/dev/null
roles_check() { # PHASE: compare with the baseline, note it, put the low roles back
    local d
    d=$($su -t -A -c "SELECT public.roles_diff()")
    if [[ -z $d ]]; then echo "@@roles $1 same" >>"$out/roles.txt"; else echo "@@roles $1 CHANGED $d" >>"$out/roles.txt"; fi
    $su -c "SELECT public.roles_reset()" >/dev/null
}

# 1. The issue's reproduction, first.
$su -v ON_ERROR_STOP=0 -f $here/repro.sql >"$out/repro.out" 2>"$out/repro.err" || true
roles_check repro

# 2. The hostile schema, by its owner.
psql -X -q -U sec_low -d $db -f $here/hostile.sql >/dev/null
$su -t -A -c "SELECT (SELECT count(*) FROM hostile.made) || ' (' || (SELECT string_agg(c || ' ' || kind || 's', ', ' ORDER BY kind) FROM (SELECT kind, count(*) c FROM hostile.made GROUP BY kind) k) || ')'" >"$out/made.txt"

# 3. The catalog: every function of the extension a low role could call (public
# name, or EXECUTE granted to some role); trigger functions are driven by the
# tree paths.
$su -t -A -c "SELECT p.oid::regprocedure::text || '|' || has_function_privilege('public', p.oid, 'EXECUTE')
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'chronicle'
 WHERE p.prorettype NOT IN ('trigger'::regtype, 'event_trigger'::regtype)
   AND (p.proname NOT LIKE '\_%'
    OR has_function_privilege('public', p.oid, 'EXECUTE')
    OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee <> p.proowner AND a.privilege_type = 'EXECUTE'))
 ORDER BY 1" >"$out/catalog.txt"
missing=$(python3 $here/gen.py missing "$out/catalog.txt")
if [[ -n $missing ]]; then
    echo "functions a low role can reach with no recipe in test/security/gen.py (add one):" >&2
    echo "$missing" >&2
    exit 1
fi

# 4. The runs: controls (the test calls shadowed objects itself), the clean
# reference runs, sec_mallory, sec_low.
drive() { # ROLE LOGIN
    python3 $here/gen.py script "$1" "$out/catalog.txt" >"$out/$1.sql"
    psql -X -q -U "$2" -d $db -f "$out/$1.sql" >"$out/$1.out" 2>"$out/$1.err" || true
}
drive control sec_low
roles_check control
drive mirror-low postgres
drive mirror-mallory postgres
drive low sec_low
roles_check low
drive mallory sec_mallory
roles_check mallory

# 5. What the runs left, read by the superuser under a clean search_path.
$su -t -A -F '|' -c "SELECT path, obj, role, escalation FROM hostile.calls ORDER BY n" >"$out/calls.txt"
$su -t -A -F '|' -c "SELECT path, run, coalesce(val, '<null>') FROM hostile.results ORDER BY n" >"$out/results.txt"
python3 $here/gen.py checks | $su -t -A -v ON_ERROR_STOP=0 >"$out/checks.txt" 2>&1 || true
$su -t -A -c "SELECT '@@tree ' || p || '_' || v.name || ' ' || public.compare_tree(format('shop.%I', p || '_' || v.name)::regclass,
                                                                   format('mirror.%I', p || '_' || v.name)::regclass)
                FROM shop.tree_variants v, unnest(ARRAY['low', 'mal']) p ORDER BY 1" >"$out/trees.txt"
$su -t -A -c "SELECT '@@tree ro_' || v.name || ' ' || CASE WHEN n = 2 AND bad = 0 THEN 'ok unchanged' ELSE 'FAIL ' || n || ' rows, ' || bad || ' problems' END
                FROM shop.tree_variants v,
                LATERAL (SELECT (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM shop.%I', 'ro_' || v.name), false, false, '')))[1]::text::int AS n) c,
                LATERAL (SELECT count(*) AS bad FROM chronicle.tree_validate(format('shop.%I', 'ro_' || v.name)::regclass)) b
               ORDER BY 1" >>"$out/trees.txt"

rc=0
python3 $here/gen.py judge "$out" "$out/catalog.txt" || rc=$?
echo "run time: $((SECONDS - start)) s"
if ((rc != 0)); then
    echo "security suite FAILED (a role gained rights, a hostile object was called, or a result is wrong: see above)" >&2
fi
exit $rc
