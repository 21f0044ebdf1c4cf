// Issue 62: a view, a function or an index is pgferry's on the target only while it is the object
// pgferry made there, told by its OID (verify/schema/identity.ts), never by its name alone. While
// an online migration streams, a DBA drops the view and the function the copy made and makes their
// own under the same names, and a view of their own under a name the source later gives its own;
// the source then changes its view, drops its function and makes that view: the DBA's views are
// not replaced, their function is not dropped. An index the source redefines twice is followed
// both times: the follow records the index it made again, so the second change does not find an
// index unlike both and take it for someone else's. The cutover stops on the views' names, with
// fixes that rename the DBA's aside; once run, the cutover makes the source's views and Succeeds.
// Read back from the target: each definition and body. Superuser and managed-like targets (the
// DBA is then the admin).
import assert from 'node:assert/strict';
import { runMigration, type MigrationSpec } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import { cutoverEnd, endIfRunning, onBothTargets, pairSpec, until, waitForStatus, type Cluster, type ServerPair } from '../support';

const DB = 'shop';
type Shown = 'view' | 'kept' | 'report' | 'report_kept' | 'fn' | 'index';

/** The objects of the scenario as a server has them (null where it is missing). */
async function objects(cluster: Cluster): Promise<Record<Shown, string | null>> {
  const [row] = await cluster.query<Record<Shown, string | null>>(
    `SELECT pg_get_viewdef(to_regclass('public.busy')) AS view,
            pg_get_viewdef(to_regclass('public.busy_kept')) AS kept,
            pg_get_viewdef(to_regclass('public.report')) AS report,
            pg_get_viewdef(to_regclass('public.report_kept')) AS report_kept,
            (SELECT prosrc FROM pg_proc WHERE oid = to_regprocedure('public.tax(int)')) AS fn,
            pg_get_indexdef(to_regclass('public.orders_n')) AS index`,
    [],
    DB,
  );
  return row!;
}

async function loadSource(pair: ServerPair): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(
    `CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL, note text);
     INSERT INTO orders SELECT g, g % 97, 'order ' || g FROM generate_series(1, 2000) g;
     CREATE INDEX orders_n ON orders (n);
     CREATE VIEW busy AS SELECT id, n FROM orders WHERE n > 50;
     CREATE FUNCTION tax(i int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT i + 1';`,
    [],
    DB,
  );
}

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target'], managed: boolean): Promise<void> {
  const spec = { ...pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }), target };
  // the DBA is the target's user: the managed-like admin, or the superuser
  const asDba = (sql: string) => pair.target.query(managed ? `SET ROLE ${target.user}; ${sql}; RESET ROLE` : sql, [], DB);
  const running = runMigration(spec);
  const store = new CatalogConnection(spec.target);
  const source = (sql: string) => pair.source.query(sql, [], DB);
  const events = async () => (await catalogEvents(store, name, 40)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
  const targetHas = (what: string, test: (o: Awaited<ReturnType<typeof objects>>) => boolean) =>
    until(
      what,
      async () => {
        const o = await objects(pair.target);
        return test(o) ? o : undefined;
      },
      60_000,
      300,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}\ntarget: ${JSON.stringify(await objects(pair.target))}\nevents:\n  ${await events()}`);
    });
  try {
    const ready = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    // the DBA replaces the copy's view and function with their own under the same names
    await asDba(
      `DROP VIEW busy; CREATE VIEW busy AS SELECT 1 AS dba;
       DROP FUNCTION tax(int); CREATE FUNCTION tax(i int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT i * 2';
       CREATE VIEW report AS SELECT 2 AS dba_report;`,
    );
    // a release: the view gains a column, the function goes, the index is rebuilt on other columns, a view is made
    await source(`CREATE OR REPLACE VIEW busy AS SELECT id, n, note FROM orders WHERE n > 50;
                  CREATE VIEW report AS SELECT id FROM orders;
                  DROP FUNCTION tax(int);
                  DROP INDEX orders_n; CREATE INDEX orders_n ON orders (n, id);`);
    await targetHas('the index made again as the release made it', (o) => /\(n, id\)/.test(o.index ?? ''));
    // a second release before any look found the target's index equal to the source's
    await source(`DROP INDEX orders_n; CREATE INDEX orders_n ON orders (id, n);`);
    const followed = await targetHas('the index made again as the second release made it', (o) => /\(id, n\)/.test(o.index ?? ''));
    assert.match(followed.view ?? '', /SELECT 1 AS dba/, "the DBA's view is not replaced");
    assert.match(followed.report ?? '', /SELECT 2 AS dba_report/, "the DBA's view of their own is not replaced");
    assert.equal(followed.fn, 'SELECT i * 2', "the DBA's function is not dropped");

    const stopped = await cutoverEnd(store, spec, running);
    assert.match(stopped.message ?? '', /^cutover stopped/, `${stopped.state}: ${stopped.message}`);
    const fixes = stopped.verification?.schema?.flatMap((c) => c.differences).map((d) => [d.object, d.fix]);
    assert.deepEqual(
      fixes?.map(([object, fix]) => [object, fix?.replace(/; \(keeps.*$/, ';')]),
      [
        ['view public.busy', 'ALTER VIEW "public"."busy" RENAME TO "busy_kept";'],
        ['view public.report', 'ALTER VIEW "public"."report" RENAME TO "report_kept";'],
      ],
    );
    await asDba(`ALTER VIEW busy RENAME TO busy_kept; ALTER VIEW report RENAME TO report_kept`);
    const end = await cutoverEnd(store, spec, running, stopped);
    assert.equal(end.state, 'Succeeded', `${end.state}: ${end.message}\n  ${await events()}`);
    const after = await objects(pair.target);
    const sourceHas = await objects(pair.source);
    assert.equal(after.view, sourceHas.view, "the source's view made once the name was free");
    assert.match(after.kept ?? '', /SELECT 1 AS dba/, "the DBA's view kept under the name they gave it");
    assert.equal(after.report, sourceHas.report);
    assert.match(after.report_kept ?? '', /SELECT 2 AS dba_report/);
    assert.equal(after.fn, 'SELECT i * 2', "the DBA's function kept through the cutover");
    assert.equal(after.index, sourceHas.index);
    const kept = end.verification?.schema?.flatMap((c) => c.kept ?? []).map((k) => k.object) ?? [];
    assert.ok(
      kept.some((k) => k.startsWith('function public.tax')),
      `the DBA's function is listed as kept: ${kept.join(', ')}`,
    );
  } finally {
    await endIfRunning(spec, running);
    await store.close();
  }
}

describe('identity of own objects on the target (issue 62)', function () {
  this.timeout(300_000);
  onBothTargets(
    {
      superuser:
        "superuser target: keeps a DBA's views and function under the names of pgferry's or the source's, follows an index redefined twice, and cuts over once the views are renamed aside",
      managed: 'managed-like target: the same, the DBA being the admin',
    },
    async ({ pair, target, managed, kind }) => {
      await loadSource(pair);
      await scenario(pair, `own-identity-${kind}`, target, managed);
    },
  );
});
