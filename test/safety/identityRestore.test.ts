// Issue 18: REPLICA IDENTITY FULL that pgferry sets is recorded first and set back to exactly what
// each table had (DEFAULT, NOTHING, USING INDEX), on the source and the target; never while a
// publication (anyone's) still publishes the table's updates, which would then fail.
import assert from 'node:assert/strict';
import { readSourceRelations } from '../../provider/engine/catalog/identityVerdict';
import type { RestoreContext } from '../../provider/engine/footprint/change';
import { pendingIdentityChanges, restoreReplicaIdentity, setIdentityFull } from '../../provider/engine/footprint/replicaIdentity';
import { pairSpec, type ServerPair, suiteServers } from '../support';
import { createMigration } from '../../provider/engine/control/store';

const DB = 'restore';
const SCHEMA = `
CREATE TABLE a (id int, v int);
CREATE TABLE b (id int PRIMARY KEY, v int); ALTER TABLE b REPLICA IDENTITY NOTHING;
CREATE TABLE c (id int NOT NULL, v int); CREATE UNIQUE INDEX c_id ON c (id); ALTER TABLE c REPLICA IDENTITY USING INDEX c_id;
CREATE TABLE d (id int PRIMARY KEY DEFERRABLE, v int);`;

async function identities(pair: ServerPair, side: 'source' | 'target'): Promise<Record<string, string>> {
  const rows = await pair[side].query<{ t: string; r: string; i: string | null }>(
    `SELECT c.relname::text AS t, c.relreplident::text AS r,
            (SELECT ic.relname::text FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid WHERE x.indrelid = c.oid AND x.indisreplident) AS i
       FROM pg_class c WHERE c.relname IN ('a', 'b', 'c', 'd') ORDER BY 1`,
    [],
    DB,
  );
  return Object.fromEntries(rows.map((r) => [r.t, r.i ? `${r.r}:${r.i}` : r.r]));
}

describe('safety: replica identities pgferry changed are set back', function () {
  this.timeout(120_000);
  const servers = suiteServers({
    setUp: async (pair) => {
      for (const side of [pair.source, pair.target]) {
        await side.query(`CREATE DATABASE ${DB}`);
        await side.query(SCHEMA, [], DB);
      }
    },
  });

  it('records, sets FULL, keeps it while a publication needs it, then sets back exactly what each table had', async () => {
    const { pair, store } = servers;
    const spec = pairSpec(pair, 'restore-m', [DB], { mode: 'Online', lockTimeoutSeconds: 5 });
    const warnings: string[] = [];
    const run: RestoreContext = {
      spec,
      store,
      warn: async (message) => void warnings.push(message),
      onProgress: () => undefined,
    };
    await createMigration(store, { name: 'restore-m', mode: 'Online', option: 'Migrate', spec: {}, databases: [DB] });
    const before = await identities(pair, 'source');
    assert.deepEqual(before, { a: 'd', b: 'n', c: 'i:c_id', d: 'd' });
    const client = await pair.source.connect(DB);
    try {
      const tables = (await readSourceRelations(client)).filter((t) => ['a', 'b', 'c', 'd'].includes(t.name));
      await setIdentityFull(run, DB, client, tables);
    } finally {
      await client.end();
    }
    await pair.target.query(
      'ALTER TABLE a REPLICA IDENTITY FULL; ALTER TABLE b REPLICA IDENTITY FULL; ALTER TABLE c REPLICA IDENTITY FULL',
      [],
      DB,
    );
    assert.deepEqual(await identities(pair, 'source'), { a: 'f', b: 'f', c: 'f', d: 'f' });
    assert.deepEqual(
      (await pendingIdentityChanges(store, 'restore-m', DB)).map((c) => [c.name, c.before, c.beforeIndex ?? null]),
      [
        ['a', 'd', null],
        ['b', 'n', null],
        ['c', 'i', 'c_id'],
        ['d', 'd', null],
      ],
    );

    // someone else's publication still publishes d: setting d back would make its UPDATEs fail
    await pair.source.query('CREATE PUBLICATION theirs FOR TABLE d', [], DB);
    await restoreReplicaIdentity(run, DB);
    assert.deepEqual(await identities(pair, 'source'), { a: 'd', b: 'n', c: 'i:c_id', d: 'f' });
    assert.deepEqual(await identities(pair, 'target'), { a: 'd', b: 'n', c: 'i:c_id', d: 'd' });
    assert.ok(
      warnings.some((w) => /left REPLICA IDENTITY FULL on public\.d: publication\(s\) theirs/.test(w)),
      warnings.join('\n'),
    );
    await pair.source.query('UPDATE d SET v = 1', [], DB);

    await pair.source.query('DROP PUBLICATION theirs', [], DB);
    await restoreReplicaIdentity(run, DB);
    assert.deepEqual(await identities(pair, 'source'), { a: 'd', b: 'n', c: 'i:c_id', d: 'd' });
    assert.deepEqual(await pendingIdentityChanges(store, 'restore-m', DB), []);
  });

  // Fault campaign seed 2260759369: the source restarted between the cutover's publication drop and
  // this step; the lost connection was taken as a refusal, warned about, and FULL stayed for good.
  it('waits for a source that restarts and sets every identity back, on both sides (campaign seed 2260759369)', async () => {
    const { pair, store } = servers;
    const spec = pairSpec(pair, 'restart-m', [DB], { mode: 'Online', lockTimeoutSeconds: 5 });
    const warnings: string[] = [];
    const run: RestoreContext = { spec, store, warn: async (message) => void warnings.push(message), onProgress: () => undefined };
    await createMigration(store, { name: 'restart-m', mode: 'Online', option: 'Migrate', spec: {}, databases: [DB] });
    const client = await pair.source.connect(DB);
    try {
      const tables = (await readSourceRelations(client)).filter((t) => ['a', 'b', 'c'].includes(t.name));
      await setIdentityFull(run, DB, client, tables);
    } finally {
      await client.end();
    }
    await pair.target.query('ALTER TABLE a REPLICA IDENTITY FULL; ALTER TABLE c REPLICA IDENTITY FULL', [], DB);
    await pair.source.crash();
    const back = new Promise<void>((resolve, reject) => setTimeout(() => void pair.source.start().then(resolve, reject), 1_500));
    await restoreReplicaIdentity(run, DB);
    await back;
    assert.deepEqual(await identities(pair, 'source'), { a: 'd', b: 'n', c: 'i:c_id', d: 'd' });
    assert.deepEqual(await identities(pair, 'target'), { a: 'd', b: 'n', c: 'i:c_id', d: 'd' });
    assert.deepEqual(await pendingIdentityChanges(store, 'restart-m', DB), []);
    assert.ok(
      warnings.some((w) => /tried again/.test(w)),
      `the restart was not met: ${warnings.join('\n')}`,
    );
  });
});
