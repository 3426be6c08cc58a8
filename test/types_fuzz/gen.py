# gen.py SEED: a psql script that throws random (often malformed) schemas, data,
# upcaster rules and documents at chronicle.define_event_type, _check_event,
# define_upcaster and _upcast, and tallies the SQLSTATEs (see suite.sh).
import json, random, sys
random.seed(int(sys.argv[1]))
KEYS = ["type","properties","required","additionalProperties","items","enum","minimum","maximum",
        "exclusiveMinimum","exclusiveMaximum","minLength","maxLength","pattern","format","title","oneOf",
        "allOf","anyOf","$ref","$defs","x-personal"]
REFS = ["#", "#/$defs/a", "#/$defs/b", "#/definitions/a", "#/$defs/a~1b", "#/$defs/a/b", "#/x", "x.json#/a", "#/$defs/~2", 1]
TYPES = ["object","array","string","number","integer","boolean","null","strnig"]
PATTERNS = ["^a+$","(", "[z-a]", "a{2,1}", "\\d+", "(a|b)*c", "^(a+)-\\1$", "[[:alpha:]]", "\\", "", ".*", "x{1000}"]
FORMATS = ["date","date-time","uuid","email","ipv4", 3]
def rnd_scalar():
    return random.choice([None, True, False, 0, -1, 1.5, 10**30, "x", "", "2026-02-30", "a@b.c", [], {}, "0b6f8e2c-3a51-4d5e-9c1e-2f9a7b8c6d10"])
def rnd_value(d=0):
    r = random.random()
    if d > 4 or r < 0.5: return rnd_scalar()
    if r < 0.75: return [rnd_value(d+1) for _ in range(random.randint(0,4))]
    return {random.choice(["a","b","c","a b",""]): rnd_value(d+1) for _ in range(random.randint(0,4))}
def rnd_schema(d=0):
    if random.random() < 0.08: return random.choice([True, False, 1, "x", []])
    s = {}
    for _ in range(random.randint(0, 4)):
        k = random.choice(KEYS)
        if k == "type": v = random.choice(TYPES) if random.random() < .7 else random.sample(TYPES, random.randint(0,3))
        elif k == "properties": v = {random.choice(["a","b","c","a b",""]): rnd_schema(d+1) for _ in range(random.randint(0,3))} if d < 6 else {}
        elif k == "required": v = random.choice([["a"],["a","b"],["a","a"],"a",[1],[]])
        elif k == "additionalProperties": v = random.choice([True, False, {}, "no"])
        elif k == "items": v = rnd_schema(d+1) if d < 6 else {}
        elif k == "enum": v = [rnd_value() for _ in range(random.randint(0,4))] if random.random() < .9 else "a"
        elif k in ("minimum","maximum","exclusiveMinimum","exclusiveMaximum"): v = random.choice([0, 1.5, -3, "1", None, 10**40])
        elif k in ("minLength","maxLength"): v = random.choice([0, 1, 3, -1, 1.5, 2**40, "2"])
        elif k == "pattern": v = random.choice(PATTERNS)
        elif k == "format": v = random.choice(FORMATS)
        elif k in ("allOf", "anyOf", "oneOf"):
            v = [rnd_schema(d+1) for _ in range(random.randint(0, 3))] if d < 6 and random.random() < .85 else rnd_value()
        elif k == "$ref": v = random.choice(REFS)
        elif k == "$defs":
            v = {n: rnd_schema(d+1) for n in random.sample(["a", "b", "a/b"], random.randint(0, 3))} if d < 6 else {}
        elif k == "x-personal": v = random.choice([True, False, "yes"])
        else: v = rnd_value()
        s[k] = v
    return s
def q(x): return "'" + json.dumps(x).replace("'", "''") + "'"
print("""CREATE FUNCTION pg_temp.t(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN EXECUTE q; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $$;""")
print("CREATE TEMP TABLE r(state text);")
for i in range(400):
    sch = rnd_schema()
    print(f"INSERT INTO r SELECT pg_temp.t($q$SELECT chronicle.define_event_type('fz{i % 7}', {q(sch)})$q$);")
    for j in range(5):
        print(f"INSERT INTO r SELECT pg_temp.t($q$SELECT chronicle._check_event('fz{i % 7}', 1, {q({'a': rnd_value(), 'b': rnd_value(), 'c': rnd_value()})})$q$);")
    rules = random.choice([{}, {"rename": {"a": "b"}}, {"rename": {"a": "b", "b": "a"}}, {"set": {"x": rnd_value()}}, {"unset": ["a", "x"]}, {"rename": [1]}, {"bogus": 1}, rnd_value()])
    print(f"INSERT INTO r SELECT pg_temp.t($q$SELECT chronicle.define_upcaster('fz{i % 7}', {random.randint(1,3)}, {q(rules)})$q$);")
    print(f"INSERT INTO r SELECT pg_temp.t($q$SELECT chronicle._upcast('fz{i % 7}', {random.randint(1,3)}, {q(rnd_value() if random.random()<.2 else {'a': rnd_value(), 'b': 1})})$q$);")
print("SELECT state, count(*) FROM r GROUP BY 1 ORDER BY 1;")
