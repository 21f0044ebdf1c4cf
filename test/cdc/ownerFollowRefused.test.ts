// Issue 64 on a managed target: an owner change the source makes while streaming is followed as the
// restore makes it (schema/ownership.ts, the rule of schema/ownerAccess.ts `restoredOwner`). To a
// role the target user may become, the object gets that owner; to one it may not (the source's
// postgres, a superuser on both servers, or a role someone made on the target of which the target
// user is no member), the object is the target user's, as the restore leaves such objects. The
// cutover's schema check expects exactly that: the cutover succeeds, and nothing it or the watch
// says advises granting such a role to the target user. A writer runs throughout; owners are read
// back from the target's catalog.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { runMigration, verifyMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import {
  cutoverEnd,
  endIfRunning,
  makeManagedTarget,
  pairSpec,
  startPair,
  startSourceWriter,
  until,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';

const DB = 'owners';

async function loadSource(pair: ServerPair): Promise<void> {
  for (const role of ['reporter', 'auditor', 'app'])
    await pair.source.query(`DO $$ BEGIN CREATE ROLE ${role} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  // made on the target by its own administrator: pgferry finds it there and makes the admin no member of it
  await pair.target.query(`DO $$ BEGIN CREATE ROLE auditor NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(
    `CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL);
     INSERT INTO orders SELECT g, g % 97 FROM generate_series(1, 2000) g;
     CREATE TABLE ledger (id int PRIMARY KEY, amount int NOT NULL);
     INSERT INTO ledger SELECT g, g FROM generate_series(1, 100) g;
     ALTER TABLE ledger OWNER TO app;
     CREATE VIEW busy AS SELECT id, n FROM orders WHERE n > 50;
     CREATE VIEW audited AS SELECT id FROM orders WHERE n = 0;
     CREATE SCHEMA reports AUTHORIZATION app;
     CREATE SEQUENCE reports.counter; ALTER SEQUENCE reports.counter OWNER TO app;
     CREATE FUNCTION reports.total() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM public.orders';
     ALTER FUNCTION reports.total() OWNER TO app;`,
    [],
    DB,
  );
}

function writeOne(): (c: pg.Client, n: number) => Promise<unknown> {
  return (c, n) => c.query(`UPDATE orders SET n = n + 1 WHERE id = $1`, [1 + ((n * 7919) % 2000)]);
}

/** Each object's owner, by kind and name, read from the server's catalog. */
async function owners(cluster: Cluster): Promise<Record<string, string>> {
  const rows = await cluster.query<{ name: string; owner: string }>(
    `SELECT c.relkind::text || ' ' || c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
      WHERE c.relnamespace IN ('public'::regnamespace, 'reports'::regnamespace) AND c.relkind IN ('r', 'v', 'S')
     UNION ALL SELECT 'function ' || p.proname, pg_get_userbyid(p.proowner) FROM pg_proc p WHERE p.pronamespace = 'reports'::regnamespace
     UNION ALL SELECT 'schema ' || n.nspname, pg_get_userbyid(n.nspowner) FROM pg_namespace n WHERE n.nspname = 'reports'
     ORDER BY 1`,
    [],
    DB,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.owner]));
}

describe('owner changes followed on a managed target as the restore makes them (issue 64)', function () {
  this.timeout(300_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('gives an object to a role the admin may become, to the admin otherwise; the cutover succeeds and never advises a GRANT of such a role', async () => {
    pair = await startPair(15, 15);
    await loadSource(pair);
    const target = await makeManagedTarget(pair.target);
    const name = 'owners-managed';
    const spec = { ...pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }), target };
    const running = runMigration(spec);
    const store = new CatalogConnection(target);
    const writer = startSourceWriter(pair.source, DB, writeOne());
    try {
      const ready = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state));
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      assert.equal((await owners(pair.target))['r ledger'], 'app');
      // reporter was created by pgferry (the admin a member of it) and has no CREATE on public;
      // postgres is a superuser on both servers; auditor is the target's own, the admin no member of it
      await pair.source.query(
        `ALTER VIEW busy OWNER TO reporter; ALTER TABLE orders OWNER TO reporter;
         ALTER VIEW audited OWNER TO auditor; ALTER TABLE ledger OWNER TO postgres;
         ALTER SCHEMA reports OWNER TO postgres; ALTER SEQUENCE reports.counter OWNER TO auditor;
         ALTER FUNCTION reports.total() OWNER TO postgres;`,
        [],
        DB,
      );
      await until('orders given to reporter on the target', async () =>
        (await owners(pair!.target))['r orders'] === 'reporter' ? true : undefined,
      );
      await writer.stop();

      const end = await cutoverEnd(store, { target, migrationName: name }, running);
      assert.equal(end.state, 'Succeeded', end.message);
      assert.deepEqual(await owners(pair.target), {
        'S counter': target.user,
        'function total': target.user,
        'r ledger': target.user,
        'r orders': 'reporter',
        'schema reports': target.user,
        'v audited': target.user,
        'v busy': 'reporter',
      });
      // the check read the owners it could not give as deliberate, each naming the source's owner
      const schema = end.verification?.schema?.find((s) => s.database === DB);
      assert.deepEqual(schema?.differences, []);
      const excused = (schema?.expected ?? [])
        .filter((e) => /^owned by (postgres|auditor) on the source/.test(e.reason))
        .map((e) => e.object);
      for (const object of ['view public.audited', 'table public.ledger', 'schema reports', 'sequence reports.counter'])
        assert.ok(excused.includes(object), `${object} not among ${excused.join(', ')}`);
      // nothing told the user to make the admin a member of a superuser or of someone else's role
      const said = [end.message ?? '', ...(await events(store, name, 1000)).map((e) => e.message)].join('\n');
      assert.doesNotMatch(said, /GRANT "?(postgres|auditor)"? TO/, said);

      // `pgferry verify` afterwards makes the same check: the same owners deliberate, and an index
      // a DBA adds on the target is theirs, kept and named, not a difference whose fix drops it
      await pair.target.query(`CREATE INDEX dba_orders_n ON orders (n)`, [], DB);
      const verified = await verifyMigration(spec);
      const checked = verified.schema?.find((s) => s.database === DB);
      assert.equal(verified.ok, true, verified.firstMismatch);
      assert.deepEqual(checked?.differences, []);
      assert.deepEqual(
        checked?.expected
          .filter((e) => /^owned by (postgres|auditor) on the source/.test(e.reason))
          .map((e) => e.object)
          .sort(),
        [...excused].sort(),
      );
      assert.ok(
        checked?.kept?.some((k) => k.object === 'index public.dba_orders_n'),
        JSON.stringify(checked?.kept),
      );
    } finally {
      await writer.stop().catch(() => undefined);
      await endIfRunning({ target, migrationName: name }, running);
      await store.close();
    }
  });
});
