// With followSchemaChanges off (shapeFollows.test.ts has it on), a stream that stops on a change
// of shape it does not follow (a column renamed, dropped or
// retyped on the source) stops exactly before the source transaction that first carries the new
// shape: every transaction before it is on the target, none of its rows is. That is what makes
// the fix the stop names work: the user makes the same change on the target, resumes, and the
// stream goes on with that transaction. The transactions before it arrive in one burst, so they
// share the apply's open batch with it: stopping with the batch rolled back would send them again,
// in the old shape, after the user's change, and the stream would stop on them for good.
import assert from 'node:assert/strict';
import { requestCutover, resumeMigration, runMigration, waitingForApplyFix } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, pairSpec, suiteServers, until, waitForStatus } from '../support';
import { rowsOf } from './harness';
import { get } from '../../provider/engine/control/store';

const BURST = 400;

interface Change {
  readonly title: string;
  /** The DDL, made on the source and then, by the user, on the target. */
  readonly ddl: string;
  /** The first write in the new shape. */
  readonly write: string;
}

const CHANGES: readonly Change[] = [
  {
    title: 'a column renamed',
    ddl: 'ALTER TABLE t RENAME COLUMN pad TO padding',
    write: `UPDATE t SET padding = 'renamed' WHERE id = 1`,
  },
  { title: 'a column dropped', ddl: 'ALTER TABLE t DROP COLUMN pad', write: `UPDATE t SET n = n + 1 WHERE id = 1` },
  { title: 'a column retyped', ddl: 'ALTER TABLE t ALTER COLUMN n TYPE bigint', write: `UPDATE t SET n = 5000000000 WHERE id = 1` },
];

describe('a stream stopped on a change of shape resumes once the target has the same change (integration)', function () {
  this.timeout(300_000);
  const servers = suiteServers();

  for (const [i, change] of CHANGES.entries()) {
    it(`${change.title}: stops right before the first transaction in the new shape, then streams it`, async () => {
      const { pair } = servers;
      const db = `shape${i}`;
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(
        `CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL, pad text);
         CREATE TABLE log (id int PRIMARY KEY, at text);
         INSERT INTO t SELECT g, g, 'pad ' || g FROM generate_series(1, 1000) g;`,
        [],
        db,
      );
      const spec = pairSpec(pair, `shape-${i}`, [db], {
        mode: 'Online',
        option: 'Migrate',
        overwriteDbsInTarget: true,
        followSchemaChanges: false,
      });
      const store = new CatalogConnection(spec.target);
      const running = runMigration(spec);
      try {
        await waitForStatus(store, spec.migrationName, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
        // one query, many transactions: they reach the apply back to back and share its batch
        const burst = Array.from({ length: BURST }, (_, k) => `BEGIN; INSERT INTO log VALUES (${k + 1}, 'before'); COMMIT;`).join('\n');
        await pair.source.query(
          `${burst}
           ${change.ddl};
           BEGIN; INSERT INTO log VALUES (${BURST + 1}, 'with the change'); ${change.write}; COMMIT;`,
          [],
          db,
        );
        const stopped = await until('the stream to stop', async () => {
          const s = await get(store, spec.migrationName);
          return s && (waitingForApplyFix(s) || isFinalState(s.state)) ? s : undefined;
        });
        assert.equal(stopped.subState, 'WaitingForApplyFix', `${stopped.state}: ${stopped.message}`);
        assert.equal(stopped.databases[0]?.applyStop?.code, 'CDC_SCHEMA_CHANGE');
        // exactly before the transaction with the change: all the burst, nothing of it
        const [counts] = await pair.target.query<{ before: number; after: number }>(
          `SELECT count(*) FILTER (WHERE at = 'before')::int AS before, count(*) FILTER (WHERE at <> 'before')::int AS after FROM log`,
          [],
          db,
        );
        assert.deepEqual(counts, { before: BURST, after: 0 });

        // the fix the stop names: the same change on the target, then resume
        await pair.target.query(change.ddl, [], db);
        await resumeMigration(spec);
        await until('the transaction with the change on the target', async () =>
          (await pair.target.query(`SELECT 1 FROM log WHERE id = ${BURST + 1}`, [], db)).length > 0 ? true : undefined,
        );
        await pair.source.query(`${change.write.replace('id = 1', 'id = 2')}`, [], db);
        await requestCutover(spec.target, spec.migrationName);
        const done = await running;
        assert.equal(done.state, 'Succeeded', done.message);
        for (const table of ['t', 'log'])
          assert.deepEqual(await rowsOf(pair.target, db, table), await rowsOf(pair.source, db, table), table);
      } finally {
        await endIfRunning(spec, running);
        await store.close();
      }
    });
  }
});
