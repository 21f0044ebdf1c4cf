// A domain change on the source that the target refuses while streaming: SET NOT NULL on a domain
// that a table of the target's own (a DBA's, which pgferry did not make) uses with a NULL in it.
// The change is warned in one line naming the domain, the change, the target's error and the
// statement that makes it; the target's domain and the DBA's row are left as they were, the rows
// stream on. Once the DBA's row is fixed, the next look makes it, and the cutover Succeeds. Read
// back from the control catalog's events and both servers.
import assert from 'node:assert/strict';
import { requestCutover } from '../../provider/engine';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { endIfRunning, startPair, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { followingMigration, rowsOf } from './harness';

const DB = 'domainrefused';

const SCHEMA = `
CREATE DOMAIN code AS text;
CREATE TABLE item (id int PRIMARY KEY, c code);
INSERT INTO item SELECT g, 'c' || g FROM generate_series(1, 50) g;`;

async function notNull(cluster: Cluster): Promise<boolean | undefined> {
  const rows = await cluster.query<{ n: boolean }>(`SELECT typnotnull AS n FROM pg_type WHERE typname = 'code'`, [], DB);
  return rows[0]?.n;
}

describe('a domain change the target refuses while streaming', function () {
  this.timeout(240_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it('is warned in one line with the domain, the change, the error and its fix, both servers kept as they were, then made once fixed', async () => {
    pair = await startPair(15, 15);
    const { source, target } = pair;
    const name = 'domain-refused';
    const { spec, store, running } = await followingMigration(pair, name, DB, SCHEMA);
    try {
      await target.query(`CREATE TABLE dba_notes (id int, c public.code); INSERT INTO dba_notes VALUES (1, NULL)`, [], DB);
      await source.query(`ALTER DOMAIN code SET NOT NULL; INSERT INTO item VALUES (51, 'c51')`, [], DB);
      const warning = await until(
        'the refused SET NOT NULL warned',
        async () =>
          (await catalogEvents(store, name, 100)).find(
            (e) => e.level === 'warning' && /domain public\.code: not null: source yes, target no; following it failed/.test(e.message),
          ),
        60_000,
        500,
      );
      assert.match(warning.message, /contains null values/);
      assert.match(warning.message, /fix: ALTER DOMAIN "public"\."code" SET NOT NULL;/);
      assert.doesNotMatch(warning.message, /\n/);
      assert.equal(await notNull(target), false);
      assert.deepEqual(await target.query(`SELECT id, c FROM dba_notes`, [], DB), [{ id: 1, c: null }]);
      await until(
        'the rows streamed on',
        async () =>
          JSON.stringify(await rowsOf(target, DB, 'item')) === JSON.stringify(await rowsOf(source, DB, 'item')) ? true : undefined,
        60_000,
        500,
      );
      await target.query(`UPDATE dba_notes SET c = 'fixed'`, [], DB);
      await until(
        'the SET NOT NULL made once the DBA fixed the row',
        async () => ((await notNull(target)) ? true : undefined),
        60_000,
        500,
      );
      await requestCutover(spec.target, name);
      const done = await Promise.race([
        running,
        waitForStatus(store, name, (s) => /cutover stopped/.test(s.message ?? '') || isFinalState(s.state)),
      ]);
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      assert.deepEqual(await rowsOf(target, DB, 'item'), await rowsOf(source, DB, 'item'));
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
