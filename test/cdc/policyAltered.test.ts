// A row-level security policy altered on the source while changes stream (ALTER POLICY: its roles,
// its USING and WITH CHECK expressions) is altered on the target in place by the schema watch, as
// a policy made or dropped is; before, the cutover's schema check stopped on it and printed a
// DROP POLICY and CREATE POLICY to run by hand. Found by an outside trial (docs/trials.md).
import assert from 'node:assert/strict';
import { runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { cutoverEnd, endIfRunning, pairSpec, startPair, until, type Cluster, type ServerPair, waitingForCutover } from '../support';

const DB = 'policies';

const SCHEMA = `
CREATE ROLE policy_reader;
CREATE TABLE docs (id int PRIMARY KEY, tenant text NOT NULL, secret boolean NOT NULL DEFAULT false);
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
ALTER TABLE docs FORCE ROW LEVEL SECURITY;
CREATE POLICY docs_read ON docs FOR SELECT USING (tenant = current_setting('app.tenant', true) AND NOT secret);
CREATE POLICY docs_write ON docs FOR INSERT WITH CHECK (tenant = current_setting('app.tenant', true));
INSERT INTO docs SELECT g, 't' || (g % 3), g % 5 = 0 FROM generate_series(1, 300) g;`;

/** Each policy of docs as the catalog prints it: name, roles, USING and WITH CHECK. */
async function policies(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ p: string }>(
    `SELECT concat_ws(' | ', policyname, roles::text, qual, with_check) AS p FROM pg_policies WHERE tablename = 'docs' ORDER BY 1`,
    [],
    DB,
  );
  return rows.map((r) => r.p);
}

describe('a policy altered on the source while streaming (integration)', function () {
  this.timeout(180_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query(`CREATE DATABASE ${DB}`);
    await pair.source.query(SCHEMA, [], DB);
  });
  after(async () => {
    await pair?.source.query('DROP ROLE IF EXISTS policy_reader').catch(() => undefined);
    await pair?.stop();
  });

  it("its roles, USING and WITH CHECK are altered on the target in place, and the cutover Succeeded with the source's policies", async () => {
    const spec = pairSpec(pair, 'policy-altered', [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    const running = runMigration(spec);
    try {
      await waitingForCutover(store, spec.migrationName);
      const [oid] = await pair.target.query<{ oid: string }>(`SELECT oid::text FROM pg_policy WHERE polname = 'docs_read'`, [], DB);
      await pair.source.query(
        `ALTER POLICY docs_read ON docs TO policy_reader USING (tenant = current_setting('app.tenant', true));
         ALTER POLICY docs_write ON docs WITH CHECK (tenant = current_setting('app.tenant', true) AND NOT secret)`,
        [],
        DB,
      );
      const want = await policies(pair.source);
      await until(
        'the altered policies on the target',
        async () => (JSON.stringify(await policies(pair.target)) === JSON.stringify(want) ? true : undefined),
        60_000,
      );
      const [same] = await pair.target.query<{ oid: string }>(`SELECT oid::text FROM pg_policy WHERE polname = 'docs_read'`, [], DB);
      assert.equal(same?.oid, oid?.oid, 'altered in place, not dropped and made again');
      const done = await cutoverEnd(store, spec, running);
      assert.equal(done.state, 'Succeeded', done.message);
      assert.deepEqual(await policies(pair.target), want);
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
