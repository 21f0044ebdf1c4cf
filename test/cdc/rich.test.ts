// The rich fixture (hostile names, every common type, partitions, inheritance, TOAST, no-key
// tables, a read-only database default) migrated online while changes are made to it; the
// cutover's verification compares every table by count and checksum.
import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration } from '../../provider/engine';
import { ControlStore } from '../../provider/engine/control/store';
import { loadRichDatabase, serverSpec, startPair, type ServerPair } from '../support';
import { rowsOf } from './harness';

const CHANGES = `
BEGIN READ WRITE;
INSERT INTO app.customers (email, name, mood, score, ratio, small, flags, tags, profile, raw, attrs, born, seen_at, local_at,
  wake, span, uid, ip, net, mac, bits, blob, money_col, pt, box_col, xml_col, tsv, pair, pos, r, fr, big, chr, vc)
SELECT 'late' || g || '@example.com', E'late\\t' || g, 'happy', g / 3.0, 1e-300 * g, 'Infinity', ARRAY[NULL, false], ARRAY['q"uote', 'back\\\\slash', '{brace}'],
       jsonb_build_object('late', g), '{"dup": 1, "dup": 2}', '"k"=>"v"', date '1999-12-31' - g, timestamptz '2024-06-30 23:59:59.999999-07' + g * interval '1 sec',
       timestamp '0044-03-15 12:00 BC', time '23:59:59.999999', interval '-1 year 2 mons -3 days 04:05:06.7', gen_random_uuid(), '::1', '10.0.0.0/8', '00:00:00:00:00:00',
       B'101', '\\x00', '12.34', point(0.1, 0.2), box(point(1, 1), point(0, 0)), '<x/>', 'a:1 b:2', ROW(NULL, 'null')::app.pair, 7, '[1,2)', '(0,1]', -9223372036854775808, 'ab', 'z'
  FROM generate_series(1, 30) g;
UPDATE app.customers SET ratio = ratio * 3, tags = tags || ARRAY['more'], profile = profile || '{"u": true}' WHERE id % 97 = 0;
UPDATE app.customers SET email = 'moved' || id || '@example.com' WHERE id BETWEEN 10 AND 12;
INSERT INTO app.orders (customer_id, total, note) SELECT 1 + g, g, 'late order' FROM generate_series(1, 50) g;
DELETE FROM app.orders WHERE order_id % 1000 = 0;
INSERT INTO "We""ird Sch.ema"."Order ""Lines"".v2" SELECT g, 1, 1, 'ß ' || g FROM generate_series(1001, 1050) g;
UPDATE "We""ird Sch.ema"."Order ""Lines"".v2" SET "qty ""n""" = -1 WHERE "Line ID" <= 10;
UPDATE app.events SET happened = happened + 400 WHERE id <= 20;
INSERT INTO app.events VALUES (900001, '2031-01-01', 'future', NULL);
UPDATE app.documents SET title = 'retitled' WHERE id <= 10;
DELETE FROM app.vehicles WHERE id = 3;
UPDATE app.cars SET doors = 3 WHERE id = 120;
DELETE FROM app.audit_log WHERE line LIKE 'INSERT%' AND at < now() - interval '1 second' AND ctid IN (SELECT ctid FROM app.audit_log LIMIT 5);
SELECT nextval('app.invoice_seq');
COMMIT;`;

describe('online migration of the rich fixture (integration)', function () {
  this.timeout(400_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => pair?.stop());

  it('streams changes to every kind of table and passes the cutover verification', async () => {
    await loadRichDatabase(pair.source, 'rich_online');
    const store = new ControlStore(serverSpec(pair.target));
    try {
      const running = runMigration(
        parseMigrationSpec({
          migrationName: 'rich-online',
          source: serverSpec(pair.source),
          target: serverSpec(pair.target),
          databases: ['rich_online'],
          mode: 'Online',
          option: 'Migrate',
          overwriteDbsInTarget: true,
          allowReplicaIdentityFull: true,
        }),
      );
      for (;;) {
        const s = await store.get('rich-online');
        if (s && ['WaitingForUserAction', 'Failed', 'Succeeded', 'Canceled'].includes(s.state)) {
          assert.equal(s.state, 'WaitingForUserAction', s.message);
          break;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      await pair.source.query(CHANGES, [], 'rich_online');
      await store.requestCutover('rich-online');
      const done = await running;
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      assert.equal(done.verification?.ok, true);
      for (const table of ['app.customers', '"We""ird Sch.ema"."Order ""Lines"".v2"', 'app.events', 'app.orders', 'app.audit_log']) {
        assert.deepEqual(await rowsOf(pair.target, 'rich_online', table), await rowsOf(pair.source, 'rich_online', table), table);
      }
    } finally {
      await store.close();
    }
  });
});
