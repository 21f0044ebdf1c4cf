// A target whose migration role is not a superuser (an Azure-like admin) meets tables a DBA owns
// under another role while changes stream: a streamed table the DBA took over on the target and a
// table of theirs outside the filters. The cutover (writer fence, the target's guard) stops before
// anything irreversible with one line naming the taken table, its guard is refused by PostgreSQL
// and said in a warning naming the table, and neither the cutover nor the cancel's release drops,
// empties or alters what the DBA owns: owners, triggers and rows read back from the target.
import assert from 'node:assert/strict';
import { cancelMigration, isFinalState, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { requestCutover } from '../../provider/engine/control/migrationRequests';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { makeManagedTarget, pairSpec, type ServerPair, suiteServers, waitForStatus } from '../support';

const DB = 'dbaowned';

/** What the DBA owns on the target, and the streamed table beside it, as one line: owner, triggers, rows. */
async function dbaTables(pair: ServerPair): Promise<string> {
  const [row] = await pair.target.query<{ line: string }>(
    `SELECT string_agg(c.relname || ':' || c.relowner::regrole || ':' ||
                       (SELECT count(*) FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), ',' ORDER BY c.relname)
            || ' rows ' || (SELECT count(*) FROM orders) || ' ' || (SELECT count(*) FROM notes) || ' ' ||
            (SELECT count(*) || ' ' || string_agg(v, ',') FROM scratch_dba) AS line
       FROM pg_class c WHERE c.relname IN ('orders', 'notes', 'scratch_dba')`,
    [],
    DB,
  );
  return row!.line;
}

describe('safety: a non-superuser target meeting tables another role owns', function () {
  this.timeout(400_000);
  const servers = suiteServers({
    databases: {
      [DB]: `CREATE TABLE orders (id int PRIMARY KEY, note text);
         CREATE TABLE notes (id int PRIMARY KEY, note text);
         CREATE TABLE scratch_src (id int PRIMARY KEY);
         INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 200) g;
         INSERT INTO notes SELECT g, 'n' || g FROM generate_series(1, 50) g;`,
    },
  });

  it("stops the cutover naming the DBA's streamed table, and neither it nor the cancel alters what the DBA owns", async () => {
    const { pair } = servers;
    const target = await makeManagedTarget(pair.target);
    const spec = {
      ...pairSpec(pair, 'dba-owned', [DB], { mode: 'Online', fenceWriters: true, excludeTables: ['public.scratch_*'] }),
      target,
    };
    const store = new CatalogConnection(target);
    try {
      await startMigration(spec);
      const ready = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state),
      );
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      await pair.target.query(
        `CREATE ROLE dba_owner NOLOGIN; ALTER TABLE notes OWNER TO dba_owner;
         CREATE TABLE scratch_dba (id int PRIMARY KEY, v text); INSERT INTO scratch_dba VALUES (1, 'dba');
         ALTER TABLE scratch_dba OWNER TO dba_owner;`,
        [],
        DB,
      );
      const before = await dbaTables(pair);
      assert.equal(before, 'notes:dba_owner:0,orders:pgadmin:0,scratch_dba:dba_owner:0 rows 200 50 1 dba');
      await pair.source.query(`INSERT INTO orders VALUES (201, 'late')`, [], DB);
      await requestCutover(store, spec.migrationName);
      const stopped = await waitForStatus(
        store,
        spec.migrationName,
        (s) => /^cutover stopped/.test(s.message ?? '') || isFinalState(s.state),
      );
      assert.equal(stopped.state, 'WaitingForUserAction', stopped.message);
      assert.match(stopped.message ?? '', /^cutover stopped: .*table public\.notes: owner: source postgres, target dba_owner/);
      const told = (await catalogEvents(store, spec.migrationName, 40)).map((e) => `${e.level}: ${e.message}`);
      assert.ok(
        told.some((e) => /^warning: cutover: the target's tables could not be guarded \(permission denied for table notes\)/.test(e)),
        told.join('\n'),
      );
      // the streamed row arrived; the DBA's tables keep their owners, rows and no trigger of pgferry's
      assert.equal(await dbaTables(pair), before.replace('rows 200', 'rows 201'));
      await cancelMigration(target, spec.migrationName, { spec });
      const canceled = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state));
      assert.equal(canceled.state, 'Canceled', canceled.message);
      assert.equal(await dbaTables(pair), before.replace('rows 200', 'rows 201'));
    } finally {
      await store.close();
    }
  });
});
