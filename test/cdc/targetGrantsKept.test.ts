// A DBA's grants on the target to a role of their own, which the source does not have, made while
// changes stream: kept through the streaming and the cutover. Before, the cutover's schema check
// took them for a difference in privileges and followed the source's by revoking them (REVOKE
// SELECT ON TABLE ... FROM reporting). Found by an outside trial (docs/trials.md, people acting on
// the target beside pgferry).
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { cutoverEnd, endIfRunning, pairSpec, startPair, type ServerPair, waitingForCutover } from '../support';

const DB = 'dbagrants';
const ROLE = 'dba_reporting';

describe("a DBA's grants on the target to a role the source does not have (integration)", function () {
  this.timeout(180_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(`CREATE TABLE sales (id int PRIMARY KEY, amount numeric); INSERT INTO sales VALUES (1, 10)`, [], DB);
  });
  after(async () => {
    await pair?.target.query(`DROP OWNED BY ${ROLE}`, [], DB).catch(() => undefined);
    await pair?.target.query(`DROP ROLE IF EXISTS ${ROLE}`).catch(() => undefined);
    await pair?.stop();
  });

  it('are on the target after the cutover, which Succeeded, and no event says they were revoked', async () => {
    const spec = pairSpec(pair, 'dba-grants', [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    try {
      await waitingForCutover(store, spec.migrationName);
      await pair.target.query(`CREATE ROLE ${ROLE}`);
      await pair.target.query(`GRANT USAGE ON SCHEMA public TO ${ROLE}; GRANT SELECT ON sales TO ${ROLE}`, [], DB);
      await pair.source.query(`INSERT INTO sales VALUES (2, 20)`, [], DB);

      const done = await cutoverEnd(store, spec, running);
      assert.equal(done.state, 'Succeeded', done.message);
      const [granted] = await pair.target.query<{ t: boolean; s: boolean }>(
        `SELECT has_table_privilege('${ROLE}', 'public.sales', 'SELECT') AS t, has_schema_privilege('${ROLE}', 'public', 'USAGE') AS s`,
        [],
        DB,
      );
      assert.deepEqual(granted, { t: true, s: true });
      const revoked = (await catalogEvents(store, spec.migrationName, 200)).filter((e) => e.message.includes(`FROM "${ROLE}"`));
      assert.deepEqual(revoked, []);
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
