// Issue 49 on a managed target: an owner change the source makes while streaming is followed as the
// restore makes it (schema/ownership.ts), and one the target user cannot make (a role that exists on
// the target, made there by someone else, of which the target user is no member) is never a silent
// difference: the cutover stops naming the statement, the refusal and the GRANT that lets pgferry
// follow it, leaves the object as it was, and goes on once an administrator has granted it. A writer
// runs throughout; owners are read back from the target's catalog.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
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
  for (const role of ['reporter', 'auditor'])
    await pair.source.query(`DO $$ BEGIN CREATE ROLE ${role} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  // made on the target by its own administrator: pgferry finds it there and makes the admin no member of it
  await pair.target.query(`DO $$ BEGIN CREATE ROLE auditor NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(
    `CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL);
     INSERT INTO orders SELECT g, g % 97 FROM generate_series(1, 2000) g;
     CREATE VIEW busy AS SELECT id, n FROM orders WHERE n > 50;
     CREATE VIEW audited AS SELECT id FROM orders WHERE n = 0;`,
    [],
    DB,
  );
}

function writeOne(): (c: pg.Client, n: number) => Promise<unknown> {
  return (c, n) => c.query(`UPDATE orders SET n = n + 1 WHERE id = $1`, [1 + ((n * 7919) % 2000)]);
}

async function owners(cluster: Cluster): Promise<Record<string, string>> {
  const rows = await cluster.query<{ name: string; owner: string }>(
    `SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'v' ORDER BY 1`,
    [],
    DB,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.owner]));
}

describe('owner changes followed on a managed target, or stopped on with the fix (issue 49)', function () {
  this.timeout(300_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('follows an owner change to a role pgferry created; stops on one to a role the admin is no member of, then goes on once granted', async () => {
    pair = await startPair(15, 15);
    await loadSource(pair);
    const target = await makeManagedTarget(pair.target);
    const name = 'owners-managed';
    const running = runMigration({
      ...pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }),
      target,
    });
    const store = new CatalogConnection(target);
    const writer = startSourceWriter(pair.source, DB, writeOne());
    try {
      const ready = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state));
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      // reporter was created by pgferry (the admin a member of it) and has no CREATE on public
      await pair.source.query(`ALTER VIEW busy OWNER TO reporter; ALTER VIEW audited OWNER TO auditor`, [], DB);
      await until('busy given to reporter on the target', async () =>
        (await owners(pair!.target)).busy === 'reporter' ? true : undefined,
      );
      await writer.stop();

      const stopped = await cutoverEnd(store, { target, migrationName: name }, running);
      assert.notEqual(stopped.state, 'Succeeded');
      const message = stopped.message ?? '';
      assert.match(message, /cutover stopped/, message);
      assert.match(message, /view "public"\."audited": owner: source auditor, target pgadmin/, message);
      assert.match(message, /must be member of role "auditor" \(statement: ALTER VIEW "public"\."audited" OWNER TO "auditor";\)/, message);
      assert.match(message, /GRANT "auditor" TO "pgadmin"/, message);
      assert.deepEqual(await owners(pair.target), { audited: target.user, busy: 'reporter' });
      // reporter's CREATE on public was granted only for the moment of the change
      const [create] = await pair.target.query<{ has: boolean }>(
        `SELECT has_schema_privilege('reporter', 'public', 'CREATE') AS has`,
        [],
        DB,
      );
      assert.equal(create!.has, false);

      // the fix the stop named, by the target's administrator; then the cutover asked again
      await pair.target.query(`GRANT auditor TO ${target.user}`);
      const end = await cutoverEnd(store, { target, migrationName: name }, running, stopped);
      assert.equal(end.state, 'Succeeded', end.message);
      assert.deepEqual(await owners(pair.target), { audited: 'auditor', busy: 'reporter' });
    } finally {
      await writer.stop().catch(() => undefined);
      await endIfRunning({ target, migrationName: name }, running);
      await store.close();
    }
  });
});
