// chronicle's application flow with node-postgres (pg, pinned by
// package-lock.json).  Run by test/drivers/suite.sh against a database where
// chronicle and the reducer drv_order exist.  Prints one line per check;
// exits 1 on a failure.  Connection settings come from PGHOST etc.
'use strict';
const { Client } = require('pg');
const assert = require('node:assert');
const crypto = require('node:crypto');

let failures = 0;
function check(what, got, want) {
  let ok = true;
  try { assert.deepStrictEqual(got, want); } catch { ok = false; }
  failures += ok ? 0 : 1;
  console.log(`${ok ? 'ok' : 'FAILED'} node: ${what}` +
              (ok ? '' : `: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`));
}

async function main() {
  const run = crypto.randomBytes(4).toString('hex');
  const stream = `node-order-${run}`;
  const a = new Client();
  const b = new Client();
  await a.connect();
  await b.connect();
  const one = async (c, sql, params) => (await c.query(sql, params)).rows[0];

  // 1. Append with an expected version; a conflict (SE001) caught by SQLSTATE, then a retry.
  await a.query("SELECT chronicle.append($1, 'OrderPlaced', $2, expected_version => 0)", [stream, { customer: 'ann' }]);
  let seen = 1;
  await b.query("SELECT chronicle.append($1, 'ItemAdded', $2)", [stream, { sku: 'b-1', price: 5 }]);
  let conflicts = 0;
  let v;
  for (;;) {
    try {
      v = Number((await one(a, "SELECT chronicle.append($1, 'ItemAdded', $2, expected_version => $3) AS v",
                            [stream, { sku: 'a-1', price: 10 }, seen])).v);
      break;
    } catch (e) {
      if (e.code !== 'SE001' || conflicts > 0) throw e;
      conflicts += 1;
      seen = Number((await one(a, 'SELECT chronicle.stream_version($1) AS v', [stream])).v);
    }
  }
  check('append with expected version 1 conflicted once (SE001 by SQLSTATE), retried at 2', [conflicts, seen, v], [1, 2, 3]);

  // 2. A batch append (an array parameter goes as JSON text).
  const batch = [1, 2, 3].map((i) => ({ type: 'ItemAdded', data: { sku: `s-${i}`, price: i } }));
  v = Number((await one(a, 'SELECT chronicle.append_batch($1, $2::jsonb, $3) AS v', [stream, JSON.stringify(batch), v])).v);
  check('batch of 3 appended at versions 4..6', v, 6);

  // 3. Replay.
  const state = (await one(a, "SELECT chronicle.replay($1, 'drv_order') AS s", [stream])).s;
  check('replay', [state.total, state.items], [21, ['b-1', 'a-1', 's-1', 's-2', 's-3']]);

  // 4. LISTEN: the notification arrives after another connection's append commits.
  await a.query('LISTEN chronicle_events');
  const note = new Promise((resolve) => a.once('notification', (n) => resolve([n.channel, n.payload])));
  await b.query("SELECT chronicle.append($1, 'ItemAdded', $2)", [stream, { sku: 'late', price: 0 }]);
  let guard;
  const got = await Promise.race([note, new Promise((resolve) => { guard = setTimeout(() => resolve('none in 30 s'), 30000); })]);
  clearTimeout(guard);
  check("notification after the other connection's commit", got, ['chronicle_events', 'node']);
  await a.query('UNLISTEN *');

  // 5. subscribe / poll / ack.
  const sub = `node_sub_${run}`;
  await a.query("SELECT chronicle.subscribe($1, category => 'node')", [sub]);
  const rows = (await a.query('SELECT version FROM chronicle.poll($1, 100) WHERE stream_id = $2', [sub, stream])).rows;
  check("poll returns the stream's 7 events in order", rows.map((r) => Number(r.version)), [1, 2, 3, 4, 5, 6, 7]);
  const all = (await a.query('SELECT tx_id::text, global_position FROM chronicle.poll($1, 1000)', [sub])).rows;
  const last = all[all.length - 1];
  await a.query('SELECT chronicle.ack($1, $2::xid8, $3)', [sub, last.tx_id, last.global_position]);
  const after = Number((await one(a, 'SELECT count(*) AS n FROM chronicle.poll($1, 100)', [sub])).n);
  await b.query("SELECT chronicle.append($1, 'ItemAdded', $2)", [stream, { sku: 'new', price: 1 }]);
  const fresh = (await a.query('SELECT stream_id, version FROM chronicle.poll($1, 100)', [sub])).rows
    .map((r) => [r.stream_id, Number(r.version)]);
  check('after ack: nothing, then only the new event', [after, fresh], [0, [[stream, 8]]]);

  // 6. A tree move into the node's own subtree: TR001 caught by SQLSTATE, nothing changed.
  const tree = `node_tree_${run}`;
  await a.query(`CREATE TABLE ${tree} (id int PRIMARY KEY, parent_id int REFERENCES ${tree}, name text)`);
  await a.query('SELECT chronicle.tree_attach($1)', [tree]);
  await a.query(`INSERT INTO ${tree} VALUES (1, NULL, 'root'), (2, 1, 'child'), (3, 2, 'grandchild')`);
  const before = (await a.query(`SELECT id, lft, rgt FROM ${tree} ORDER BY id`)).rows;
  let code = null;
  try {
    await a.query('SELECT chronicle.tree_move($1, 1, 3)', [tree]);
  } catch (e) {
    code = e.code;
  }
  const afterRows = (await a.query(`SELECT id, lft, rgt FROM ${tree} ORDER BY id`)).rows;
  const problems = Number((await one(a, 'SELECT count(*) AS n FROM chronicle.tree_validate($1)', [tree])).n);
  check('tree move into its own subtree is TR001, the tree unchanged', [code, afterRows, problems], ['TR001', before, 0]);

  await a.end();
  await b.end();
  const version = require('pg/package.json').version;
  console.log(`node (pg ${version}): ${failures ? `${failures} checks failed` : 'all checks passed'}`);
  process.exit(failures ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAILED node: ${e.code || ''} ${e.message}`);
  process.exit(1);
});
