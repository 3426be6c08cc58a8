#!/usr/bin/env python3
"""Checks the documentation against the running code (test/docs/suite.sh runs it).

1. Reference coverage. Every public function of the extension (pg_proc rows that
   belong to extension chronicle, names not starting with "_") has an entry in
   docs/reference/*.md: a heading that contains `chronicle.<name>(`. Every entry is
   linked from README.md by a markdown link `docs/reference/<file>.md#<anchor>`,
   where <anchor> is the GitHub anchor of the entry's heading, and every such link
   in README.md names an existing entry.

2. Examples. In README.md and docs/**/*.md, a ```sql block is an example. The
   blocks of one file run in order, in a database of their own created for the
   file, as one psql session (see PSQL_SETTINGS). A ```sql block followed (after
   blank lines only) by a ```text block must print exactly that text; a ```sql
   block without one must print nothing at all (no rows, no error, no notice).
   ```sql norun marks a fragment that is shown but not run.
   Comparison is line by line after these rules, applied to the actual output:
   trailing spaces and leading/trailing blank lines are dropped; LOCATION lines
   (source file and line of an error) are dropped; the SQLSTATE 00000 that
   verbose psql prints on notices is dropped. In an expected line, `<?>` matches
   any text within that line (for a value that changes from run to run; no
   example uses it today).

Usage: doctest.py [--write] [files...]   (libpq environment names the cluster)
  --write  rewrite every output block with what the code printed: only for
           writing new examples; review the diff before committing it.
"""
import difflib
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PSQL_SETTINGS = [
    "\\set ON_ERROR_STOP 0",
    "\\set VERBOSITY verbose",
    "\\set SHOW_CONTEXT never",
    "\\pset null '(null)'",
    "SET TimeZone = 'UTC';",
    "SET DateStyle = 'ISO, YMD';",
    "SET client_min_messages = notice;",
]
MARK = "<<<doc-block %d>>>"

FENCE = re.compile(r"^```(\w*)\s*(.*)$")


def blocks_of(path):
    """[(kind, flags, first_line, text)] for every fenced block of a file."""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            kind, flags, start = m.group(1), m.group(2).split(), i + 1
            j = i + 1
            while j < len(lines) and lines[j].rstrip() != "```":
                j += 1
            out.append((kind, flags, start, "\n".join(lines[i + 1:j]), j))
            i = j + 1
        else:
            i += 1
    return out, lines


def examples_of(path):
    """[(line, sql, expected or None, (start, end) of the output block or None)]."""
    blocks, lines = blocks_of(path)
    ex = []
    for k, (kind, flags, start, text, end) in enumerate(blocks):
        if kind != "sql" or "norun" in flags:
            continue
        expected, span = None, None
        if k + 1 < len(blocks) and blocks[k + 1][0] == "text":
            nkind, nflags, nstart, ntext, nend = blocks[k + 1]
            between = lines[end + 1:nstart - 1]
            if all(not l.strip() for l in between):
                expected, span = ntext, (nstart, nend)
        ex.append((start, text, expected, span))
    return ex


def normalise(text):
    out = []
    for line in text.split("\n"):
        line = line.rstrip()
        if line.startswith("LOCATION:  "):
            continue
        line = re.sub(r"^(NOTICE|WARNING|INFO|LOG|DEBUG):  00000: ", r"\1:  ", line)
        out.append(line)
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return out


def matches(expected, actual):
    if len(expected) != len(actual):
        return False
    for e, a in zip(expected, actual):
        if "<?>" in e:
            pattern = ".*".join(re.escape(p) for p in e.split("<?>"))
            if not re.fullmatch(pattern, a):
                return False
        elif e != a:
            return False
    return True


def psql(db, args, stdin=None):
    return subprocess.run(["psql", "-X", "-q", "-d", db] + args, input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)


def run_file(path, write):
    ex = examples_of(path)
    rel = os.path.relpath(path, ROOT)
    if not ex:
        return 0, 0
    db = "docs_" + re.sub(r"\W", "_", rel.lower())[:50]
    psql("postgres", ["-c", "DROP DATABASE IF EXISTS %s" % db])
    r = psql("postgres", ["-c", "CREATE DATABASE %s" % db])
    if r.returncode != 0:
        print("%s: cannot create database: %s" % (rel, r.stdout))
        return 0, 1
    script = list(PSQL_SETTINGS)
    for n, (line, sql, expected, span) in enumerate(ex):
        last = re.sub(r"\s*--[^'\n]*$", "", sql.rstrip())
        if not (last.endswith(";") or last.endswith("\\gset")):
            print("%s:%d: an example must end with ';' (or \\gset)" % (rel, line))
            return 0, 1
        script.append("\\echo '%s'" % (MARK % n))
        script.append(sql)
    script.append("\\echo '%s'" % (MARK % len(ex)))
    r = psql(db, [], "\n".join(script) + "\n")
    psql("postgres", ["-c", "DROP DATABASE IF EXISTS %s" % db])
    out = r.stdout
    passed = failed = 0
    rewrites = []
    for n, (line, sql, expected, span) in enumerate(ex):
        a, b = out.find(MARK % n), out.find(MARK % (n + 1))
        if a < 0 or b < 0:
            print("%s:%d: the session ended before this example (psql exit %d)" % (rel, line, r.returncode))
            print(out[-2000:])
            return passed, failed + 1
        actual = normalise(out[a + len(MARK % n):b])
        want = normalise(expected) if expected is not None else []
        if matches(want, actual):
            passed += 1
            continue
        if write and span is not None:
            rewrites.append((span, actual))
            continue
        failed += 1
        if expected is None:
            print("%s:%d: example prints output but has no ```text block after it:" % (rel, line))
        else:
            print("%s:%d: example prints something else than its ```text block"
                  " (- documented, + printed):" % (rel, line))
            for l in difflib.unified_diff(want, actual, lineterm="", n=2):
                if not l.startswith(("---", "+++")):
                    print("  " + l)
            continue
        for l in actual:
            print("  " + l)
    if rewrites:
        lines = open(path, encoding="utf-8").read().split("\n")
        for (start, end), actual in sorted(rewrites, reverse=True):
            lines[start:end] = actual
        open(path, "w", encoding="utf-8").write("\n".join(lines))
        print("%s: rewrote %d output blocks (review the diff)" % (rel, len(rewrites)))
    return passed, failed


def slug(heading):
    """GitHub's anchor for a heading text."""
    text = heading.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def check_reference():
    db = os.environ.get("DOCS_CATALOG_DB", "docs_catalog")
    psql("postgres", ["-c", "DROP DATABASE IF EXISTS %s" % db])
    psql("postgres", ["-c", "CREATE DATABASE %s" % db])
    r = psql(db, ["-At", "-c", "CREATE EXTENSION chronicle", "-c", """
        SELECT DISTINCT p.proname FROM pg_proc p
        JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
        JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'chronicle'
        WHERE p.proname NOT LIKE '\\_%' ORDER BY 1"""])
    psql("postgres", ["-c", "DROP DATABASE IF EXISTS %s" % db])
    if r.returncode != 0:
        print("catalog query failed: " + r.stdout)
        return 0, 1
    functions = [l for l in r.stdout.split("\n") if l]
    if len(functions) < 10:
        print("catalog lists only %d functions: %s" % (len(functions), functions))
        return 0, 1
    entries = {}      # name -> [(file, anchor)]
    anchors = {}      # (file, anchor) -> heading
    for path in sorted(glob.glob(os.path.join(ROOT, "docs/reference/*.md"))):
        rel = os.path.relpath(path, ROOT)
        seen = {}
        blocks, lines = blocks_of(path)
        inside = set()
        for kind, flags, start, text, end in blocks:
            inside.update(range(start - 1, end + 1))
        for i, line in enumerate(lines):
            m = re.match(r"^#{1,6}\s+(.*)$", line)
            if not m or i in inside:
                continue
            s = slug(m.group(1))
            if s in seen:
                seen[s] += 1
                s = "%s-%d" % (s, seen[s])
            else:
                seen[s] = 0
            anchors[(rel, s)] = m.group(1)
            for name in re.findall(r"chronicle\.(\w+)\(", m.group(1)):
                entries.setdefault(name, []).append((rel, s))
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    links = set(re.findall(r"\]\((docs/reference/\w+\.md)#([\w-]+)\)", readme))
    passed = failed = 0
    for name in functions:
        if name not in entries:
            print("chronicle.%s: no reference entry (a heading containing `chronicle.%s(` in docs/reference/*.md)" % (name, name))
            failed += 1
            continue
        passed += 1
    for name, where in sorted(entries.items()):
        for rel, s in where:
            if (rel, s) in links:
                passed += 1
            else:
                print("chronicle.%s: README.md does not link its entry: [..](%s#%s)" % (name, rel, s))
                failed += 1
    for rel, s in sorted(links):
        if (rel, s) not in anchors:
            print("README.md links %s#%s, which is no heading there" % (rel, s))
            failed += 1
    print("reference: %d functions in the catalog, %d entries, %d README links" %
          (len(functions), sum(len(v) for v in entries.values()), len(links)))
    return passed, failed


def main():
    args = sys.argv[1:]
    write = "--write" in args
    files = [a for a in args if a != "--write"]
    if not files:
        files = [os.path.join(ROOT, "README.md")] + sorted(
            glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    passed = failed = 0
    if not write:
        p, f = check_reference()
        passed, failed = passed + p, failed + f
    for path in files:
        p, f = run_file(os.path.abspath(path), write)
        print("%s: %d examples ok, %d failed" % (os.path.relpath(path, ROOT), p, f))
        passed, failed = passed + p, failed + f
    print("docs: %d checks passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
