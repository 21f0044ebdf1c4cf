// A comment on a large object the source made while changes stream is left to the cutover, which
// brings large objects level with their comments (switchover/largeObjectDelta.ts): the schema
// watch does not try to follow it on a target that has no such object yet. Before, every look
// warned "comment on large object N: only on the source; following it failed: large object N does
// not exist", said the cutover would stop until the target matched and printed a COMMENT that
// could not run there. Found by an outside trial (docs/trials.md, a document store on lo_*).
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { cutoverEnd, endIfRunning, pairSpec, suiteServers, until, waitingForCutover } from '../support';

const DB = 'locomments';
const NEW_OID = 7_000_001;
const NOTE = 'made while streaming';

describe('a comment on a large object made while streaming (integration)', function () {
  this.timeout(180_000);
  const servers = suiteServers({
    databases: {
      [DB]: `CREATE TABLE docs (id int PRIMARY KEY, body oid NOT NULL)`,
    },
  });

  it('draws no warning while streaming, and the comment is on the target after the cutover', async () => {
    const { pair } = servers;
    const spec = pairSpec(pair, 'lo-comments', [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    try {
      await waitingForCutover(store, spec.migrationName);
      await pair.source.query(
        `INSERT INTO docs VALUES (1, lo_from_bytea(${NEW_OID}, 'content'));
         COMMENT ON LARGE OBJECT ${NEW_OID} IS '${NOTE}';
         COMMENT ON TABLE docs IS 'first'`,
        [],
        DB,
      );
      const messages = async () => (await catalogEvents(store, spec.migrationName, 500)).map((e) => e.message);
      const followed = (text: string) => async () =>
        (await messages()).some((m) => m.startsWith('schema change on the source followed') && m.includes(`IS '${text}'`)) || undefined;
      await until('the table comment followed', followed('first'), 60_000);
      // a later look: the one that saw the large object's comment has told all it had to tell
      await pair.source.query(`COMMENT ON TABLE docs IS 'second'`, [], DB);
      await until('the second table comment followed', followed('second'), 60_000);
      const told = (await messages()).filter((m) => m.includes('comment on large object'));
      assert.deepEqual(told, [], 'no event names the large object while streaming');

      const done = await cutoverEnd(store, spec, running);
      assert.equal(done.state, 'Succeeded', done.message);
      const [row] = await pair.target.query<{ note: string | null }>(
        `SELECT obj_description(${NEW_OID}, 'pg_largeobject') AS note`,
        [],
        DB,
      );
      assert.equal(row?.note, NOTE);
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
