// Columns dropped, renamed and retyped on the source while an application writes are followed on
// the target at the relation message that first carries them (followSchemaChanges, on by default):
// no stop, no manual step. Each change comes between writes, and every write after it is in the new
// shape; the cutover then compares both catalogs (verify/schema) and the rows (read whole: the
// table changed shape), and ends Succeeded. On a superuser target and on a managed-like one (a
// non-superuser admin: no replica role, progress table). A column dropped and added again under its
// name (tag: the same relation message before and after) is told by the source's attnums and placed
// among the rows by a copy of the table at a pin. A retype the target cannot derive is followed by
// such a copy too (retypeResync.test.ts).
import assert from 'node:assert/strict';
import { requestCutover, runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents, get as getMigration } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import {
  endIfRunning,
  makeManagedTarget,
  pairSpec,
  type ServerPair,
  startSourceWriter,
  suiteServers,
  until,
  waitForStatus,
} from '../support';
import { rowsOf } from './harness';

const SCHEMA = `
CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, pad text DEFAULT 'p', amount numeric(10, 2) DEFAULT 1.5,
                code varchar(10) NOT NULL DEFAULT 'c', note text NOT NULL DEFAULT '', price numeric(8, 2) DEFAULT 2, tag text DEFAULT 'old');
INSERT INTO t (id, n) SELECT g, g FROM generate_series(1, 2000) g;`;

/** Each change, made between writes of the application (which writes every column it names in the new shape after it). */
const CHANGES = [
  'ALTER TABLE t RENAME COLUMN pad TO padding',
  'ALTER TABLE t ALTER COLUMN n TYPE bigint',
  'ALTER TABLE t ALTER COLUMN code TYPE varchar(40)',
  'ALTER TABLE t ALTER COLUMN amount TYPE numeric(14, 4)',
  'ALTER TABLE t ALTER COLUMN note DROP NOT NULL',
  'ALTER TABLE t ALTER COLUMN padding SET NOT NULL',
  `ALTER TABLE t ALTER COLUMN padding SET DEFAULT 'q'`,
  'ALTER TABLE t ALTER COLUMN amount DROP DEFAULT',
  'ALTER TABLE t DROP COLUMN price',
  `ALTER TABLE t DROP COLUMN tag, ADD COLUMN tag text DEFAULT 'new'`,
];

/** The application's n-th transaction: a new row and a whole-row update of an old one, in whatever shape the table has. */
async function write(client: { query: (sql: string, params?: unknown[]) => Promise<unknown> }, n: number): Promise<void> {
  await client.query('INSERT INTO t (id, n) VALUES ($1, $2)', [100_000 + n, n]);
  await client.query('UPDATE t SET n = n + 1 WHERE id = $1', [1 + (n % 2000)]);
}

async function followsEveryChange(pair: ServerPair, db: string, spec: MigrationSpec): Promise<void> {
  const store = new CatalogConnection(spec.target);
  const running = runMigration(spec);
  const writer = startSourceWriter(pair.source, db, write);
  // the application's own error, rather than a wait that times out
  const writes = (what: string, count: number) =>
    until(what, async () => (writer.committed() >= count ? true : undefined), 30_000).catch(async (error: Error) => {
      throw await writer.stop().then(
        () => error,
        (e: unknown) => e,
      );
    });
  try {
    await waitForStatus(store, spec.migrationName, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
    await writer.connected;
    for (const ddl of CHANGES) {
      await writes('the application to write', writer.committed() + 3);
      // the apply reads the source's catalog at the change's relation message: a change made before
      // it got there leaves it unable to tell a rename from a drop and an add (it then copies the
      // table at a pin, which loses nothing but is not the path this test names), as a loaded
      // machine showed; each change waits until the stream has applied the writes before it
      const before = writer.committed();
      await until('the stream to apply the writes before the change', async () =>
        (await pair.target.query('SELECT 1 FROM t WHERE id = $1', [100_000 + before], db)).length > 0 ? true : undefined,
      );
      await pair.source.query(ddl, [], db);
    }
    // values only the new shapes take
    await pair.source.query(
      `UPDATE t SET n = 5000000000, code = repeat('x', 40), amount = 1234567890.1234, note = NULL, padding = 'renamed' WHERE id = 7`,
      [],
      db,
    );
    await writes('the application to write after the changes', writer.committed() + 5);
    await writer.stop();
    const status = await getMigration(store, spec.migrationName);
    assert.equal(status?.subState, 'WaitingForCutoverTrigger', status?.message);
    await until('the last write on the target', async () =>
      (await pair.target.query(`SELECT 1 FROM t WHERE id = 7 AND n = 5000000000`, [], db)).length > 0 ? true : undefined,
    ).catch(async (error: Error) => {
      const s = await getMigration(store, spec.migrationName);
      const told = (await catalogEvents(store, spec.migrationName, 20)).map((e) => e.message).join('\n');
      throw new Error(`${error.message}: ${s?.subState} ${s?.message ?? ''}\n${told}`);
    });
    // each follow's event is recorded after the change it tells of: under load, after the last write shows
    const followed = [
      /followed on the target at its position in the stream: column pad renamed to padding/,
      /column price dropped/,
      /column tag dropped and added again under its name\): copied again at a pinned position/,
      /NOT NULL set on padding, followed on the target once the apply was past it/,
    ];
    const events = await until(
      'the follows told',
      async () => {
        const told = (await catalogEvents(store, spec.migrationName, 200)).map((e) => e.message).join('\n');
        return followed.every((f) => f.test(told)) ? told : undefined;
      },
      120_000,
    ).catch(async () => (await catalogEvents(store, spec.migrationName, 200)).map((e) => e.message).join('\n'));
    assert.match(events, /followed on the target at its position in the stream: column pad renamed to padding/);
    assert.match(events, /column price dropped/);
    // the drop and add of tag is placed among the rows by a copy of the table at a pin
    assert.match(events, /column tag dropped and added again under its name\): copied again at a pinned position/);
    assert.match(events, /NOT NULL set on padding, followed on the target once the apply was past it/);
    // defaults are followed by the schema watch's next look (every 10 s), not at a stream position
    await until(
      'the defaults followed',
      async () => {
        const told = (await catalogEvents(store, spec.migrationName, 200)).map((e) => e.message).join('\n');
        return /followed on the target: column public\.\w+\.padding: default: source 'q'/.test(told) &&
          /followed on the target: column public\.\w+\.amount: default: source none/.test(told)
          ? true
          : undefined;
      },
      60_000,
    );
    await requestCutover(spec.target, spec.migrationName);
    const done = await Promise.race([
      running,
      waitForStatus(store, spec.migrationName, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state)),
    ]);
    assert.equal(done.state, 'Succeeded', done.message);
    assert.deepEqual(
      done.verification?.schema?.map((s) => s.differences.length),
      [0],
    );
    assert.equal(done.verification?.tables.find((t) => t.table === 'public.t')?.method, 'full');
    assert.deepEqual(await rowsOf(pair.target, db, 't'), await rowsOf(pair.source, db, 't'));
    const shape = `SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END
                                || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY attname)
                     AS s FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                    WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped`;
    assert.deepEqual(await pair.target.query(shape, [], db), await pair.source.query(shape, [], db));
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning(spec, running);
    await store.close();
  }
}

describe('columns dropped, renamed and retyped on the source are followed while an application writes (integration)', function () {
  this.timeout(400_000);
  const servers = suiteServers();

  it('managed target (no superuser): the same', async () => {
    const { pair } = servers;
    const db = 'follow_managed';
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(SCHEMA, [], db);
    const target = await makeManagedTarget(pair.target);
    await followsEveryChange(
      pair,
      db,
      pairSpec(pair, 'follow-managed', [db], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true, target }),
    );
  });

  it('superuser target: every change followed at its position, cutover Succeeded with no manual step', async () => {
    const { pair } = servers;
    const db = 'follow_su';
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(SCHEMA, [], db);
    await followsEveryChange(
      pair,
      db,
      pairSpec(pair, 'follow-su', [db], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }),
    );
  });
});
