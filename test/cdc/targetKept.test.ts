// Issue 62: what a DBA makes on the target while an online migration streams is not pgferry's. A
// column with its values, a table with its rows and an index, all made on the target alone while a
// writer runs on the source, are kept through a runner SIGKILLed and resumed (whose first relation
// message of the table meets the column: the apply once dropped it) and through the cutover, which
// Succeeds and lists them as kept, made on the target alone. The source's public schema is owned by
// its superuser, as pagila's is: a managed-like target, which cannot give it that owner, keeps
// pg_database_owner there as a listed deliberate difference. A DBA's column NOT NULL without a
// default stops the stream, naming it and a fix that keeps it; once fixed the stream goes on. A
// resync of the table asked while the writer runs replaces its rows and puts the DBA's values back
// by key; a DBA's identity column GENERATED ALWAYS, which no UPDATE can set, has the resync refused
// with nothing emptied, until it is made BY DEFAULT; on a target without replica role, a DBA's foreign key
// ON DELETE CASCADE into the table has it refused too, the DBA's rows kept, until it is dropped. Read back from the target: the columns' values,
// the table's rows, the index's definition; the migrated rows equal the source's.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { requestResync, resumeMigration, showMigration, startMigration, type MigrationSpec } from '../../provider/engine';
import { tableResyncs, type TableResync } from '../../provider/engine/control/tableResyncs';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState, type MigrationStatus } from '../../provider/engine/core/model';
import { endIfRunning, onBothTargets, pairSpec, startSourceWriter, until, waitForStatus, type Cluster, type ServerPair } from '../support';
import { askCutoverUntilAccepted } from './harness';

const DB = 'shop';
const ORDERS = 3_000;
const AUDIT = 700;

async function loadSource(pair: ServerPair): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(
    `ALTER SCHEMA public OWNER TO CURRENT_USER;
     CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL, note text);
     INSERT INTO orders SELECT g, g % 97, 'order ' || g FROM generate_series(1, ${ORDERS}) g;`,
    [],
    DB,
  );
}

function writeOne(): (c: pg.Client, n: number) => Promise<unknown> {
  return async (c, n) => {
    await c.query(`UPDATE orders SET n = n + 1, note = 'w' || $1 WHERE id = $2`, [n, 1 + ((n * 7919) % ORDERS)]);
    if (n % 3 === 0) await c.query(`INSERT INTO orders (id, n, note) VALUES ($1, $2, 'new')`, [ORDERS + n, n % 97]);
  };
}

/** What the DBA made, read back from the target. */
async function dbaWork(target: Cluster): Promise<{ notes: string; audit: string; index: string | null }> {
  const [row] = await target.query<{ notes: string; audit: string; index: string | null }>(
    `SELECT (SELECT count(*) FILTER (WHERE dba_note = 'checked ' || id)::text FROM orders) AS notes,
            (SELECT count(*)::text || ' ' || md5(string_agg(a::text, ',' ORDER BY a.id)) FROM dba_audit a) AS audit,
            pg_get_indexdef(to_regclass('public.orders_dba_note')) AS index`,
    [],
    DB,
  );
  return row!;
}

/** The migrated rows, over the source's columns. */
async function contents(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(concat_ws('|', id, n, note), E'\\n' ORDER BY id)) AS h FROM orders`,
    [],
    DB,
  );
  return `${row!.n} rows, ${row!.h}`;
}

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target'], managed: boolean): Promise<void> {
  const spec = { ...pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }), target };
  const store = new CatalogConnection(target);
  const writer = startSourceWriter(pair.source, DB, writeOne());
  // the DBA is the target's user: the managed-like admin, or the superuser
  const asDba = (sql: string) => pair.target.query(managed ? `SET ROLE ${target.user}; ${sql}; RESET ROLE` : sql, [], DB);
  try {
    await startMigration(spec);
    const ready = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await asDba(
      `ALTER TABLE orders ADD COLUMN dba_note text;
       UPDATE orders SET dba_note = 'checked ' || id WHERE id <= ${ORDERS};
       CREATE TABLE dba_audit (id int PRIMARY KEY, what text NOT NULL);
       INSERT INTO dba_audit SELECT g, 'audit ' || g FROM generate_series(1, ${AUDIT}) g;
       CREATE INDEX orders_dba_note ON orders (dba_note)`,
    );
    const made = await dbaWork(pair.target);
    assert.equal(made.notes, String(ORDERS));
    // the runner killed while the writer runs, and resumed: its first relation message of orders meets the column
    const streaming = await waitForStatus(store, name, (st) => (st.databases[0]?.updates ?? 0) > 20 || isFinalState(st.state));
    process.kill(streaming.runner!.pid, 'SIGKILL');
    await waitForStatus(store, name, (st) => st.runner?.alive === false);
    const before = writer.committed();
    await resumeMigration(spec);
    // the resumed runner applies the writer's rows into orders, beside the DBA's column
    await until(
      'the target to have rows the writer inserted after the resume',
      async () => {
        const st = await showMigration(target, name);
        const stop = st?.databases[0]?.applyStop;
        if (stop || st?.state === 'Failed') throw new Error(`stream stopped: ${stop?.error ?? st?.message}`);
        const [r] = await pair.target.query<{ n: string }>(`SELECT count(*)::text AS n FROM orders WHERE id > $1`, [ORDERS + before], DB);
        return Number(r!.n) > 5 ? true : undefined;
      },
      120_000,
      500,
    );
    await notNullStops(pair, spec, store, asDba);
    await resyncKeeps(pair, spec, store, asDba, managed);
    const transactions = await writer.stop();
    await askCutoverUntilAccepted(spec);
    const end = await waitForStatus(store, name, (st) => isFinalState(st.state) || /^cutover stopped/.test(st.message ?? ''), 240_000);
    const events = async () => (await catalogEvents(store, name, 30)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
    assert.equal(end.state, 'Succeeded', `${end.state}: ${end.message}\n  ${await events()}`);
    // the DBA's work, read back intact
    const after = await dbaWork(pair.target);
    assert.equal(after.notes, String(ORDERS), "the DBA's column keeps its values");
    assert.equal(after.audit, made.audit, "the DBA's table keeps its rows");
    assert.match(after.index ?? '', /CREATE INDEX orders_dba_note ON public\.orders USING btree \(dba_note\)/);
    assert.equal(await contents(pair.target), await contents(pair.source));
    assertListedAsKept(end, managed);
    console.log(`      ${name}: ${transactions} writer transactions; the DBA's column, table and index kept`);
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning({ target, migrationName: name }, Promise.resolve());
    await store.close();
  }
}

/**
 * A DBA's column NOT NULL without a default: the stream's INSERTs cannot be written. The stream
 * stops naming the column, with a fix that keeps it; once the DBA gives it a default and the
 * migration is resumed, it streams again, the column and its values still there.
 */
async function notNullStops(
  pair: ServerPair,
  spec: MigrationSpec,
  store: CatalogConnection,
  asDba: (sql: string) => Promise<unknown>,
): Promise<void> {
  await asDba(`ALTER TABLE orders ADD COLUMN dba_flag text NOT NULL DEFAULT 'seen'; ALTER TABLE orders ALTER COLUMN dba_flag DROP DEFAULT`);
  const stopped = await waitForStatus(
    store,
    spec.migrationName,
    (st) => st.databases[0]?.applyStop !== undefined || isFinalState(st.state),
  );
  const stop = stopped.databases[0]!.applyStop!;
  // the INSERT refused (a NOT NULL violation), or a new session's relation message that meets the column first
  assert.ok(stop.sqlState === '23502' || stop.code === 'CDC_SCHEMA_CHANGE', JSON.stringify(stop));
  assert.match(stop.error, /column (dba_flag |"dba_flag")/);
  assert.match(stop.fix, /SET DEFAULT .*DROP NOT NULL/);
  assert.doesNotMatch(stop.fix, /DROP COLUMN/);
  const flags = async () =>
    (await pair.target.query<{ n: string }>(`SELECT count(*) FILTER (WHERE dba_flag = 'seen')::text AS n FROM orders`, [], DB))[0]!.n;
  const seen = await flags();
  await asDba(`ALTER TABLE orders ALTER COLUMN dba_flag SET DEFAULT 'later'`);
  await resumeMigration(spec);
  await until(
    'the stream to apply again once the column has a default',
    async () => {
      const [r] = await pair.target.query<{ n: string }>(`SELECT count(*)::text AS n FROM orders WHERE dba_flag = 'later'`, [], DB);
      return Number(r!.n) > 3 ? true : undefined;
    },
    120_000,
    500,
  );
  assert.equal(await flags(), seen, "the DBA's column keeps its values through the stop");
}

/**
 * A resync of the table (`pgferry update --resync`) replaces its rows while the writer runs: the
 * DBA's columns keep their values in every row that was there, put back by key. A DBA's identity
 * column GENERATED ALWAYS cannot be set back by any UPDATE: the resync is refused naming it, and
 * nothing is emptied; once the DBA makes it BY DEFAULT, asked again, it is done, the values kept.
 * `managed` (no replica role): a DBA's foreign key ON DELETE CASCADE into the table refuses it, the
 * DBA's rows kept, until the key is dropped.
 */
async function resyncKeeps(
  pair: ServerPair,
  spec: MigrationSpec,
  store: CatalogConnection,
  asDba: (sql: string) => Promise<unknown>,
  managed: boolean,
): Promise<void> {
  const name = spec.migrationName;
  await asDba(`ALTER TABLE orders ADD COLUMN dba_seq int GENERATED ALWAYS AS IDENTITY`);
  const [{ last }] = (await pair.target.query<{ last: number }>(`SELECT max(id) AS last FROM orders`, [], DB)) as [{ last: number }];
  /** The DBA's columns of the rows there now, and how many rows the target has. */
  const dbaValues = async () =>
    (
      await pair.target.query<{ v: string }>(
        `SELECT count(*) FILTER (WHERE id <= $1)::text || ' ' || md5(string_agg(concat_ws('|', id, dba_note, dba_flag, dba_seq), ',' ORDER BY id) FILTER (WHERE id <= $1)) AS v FROM orders`,
        [last],
        DB,
      )
    )[0]!.v;
  const before = await dbaValues();
  const resynced = async (): Promise<TableResync> => {
    const asked = Date.now();
    await requestResync(spec.target, name, `${DB}/public.orders`);
    return until(
      'the resync of orders to end',
      async () =>
        (await tableResyncs(store, name)).find(
          (r) => r.table === 'public.orders' && r.doneAt !== undefined && r.doneAt.getTime() >= asked - 5_000,
        ),
      120_000,
      500,
    );
  };
  const refused = await resynced();
  assert.match(refused.error ?? '', /public\.orders \("dba_seq"\) is GENERATED ALWAYS AS IDENTITY/);
  assert.equal(refused.rowsCopied, undefined);
  assert.equal(await dbaValues(), before, 'nothing emptied by the refused resync');
  await asDba(`ALTER TABLE orders ALTER COLUMN dba_seq SET GENERATED BY DEFAULT`);
  if (managed) {
    // without replica role the emptying would fire the DBA's ON DELETE CASCADE into the DBA's table
    const audit = (await dbaWork(pair.target)).audit;
    await asDba(`ALTER TABLE dba_audit ADD CONSTRAINT dba_audit_order FOREIGN KEY (id) REFERENCES orders (id) ON DELETE CASCADE`);
    const cascade = await resynced();
    assert.match(
      cascade.error ?? '',
      /foreign key dba_audit_order of public\.dba_audit, made on the target alone, references public\.orders: .*nothing was emptied; drop the key on the target/,
    );
    assert.equal(cascade.rowsCopied, undefined);
    assert.equal((await dbaWork(pair.target)).audit, audit, "the DBA's table keeps its rows");
    assert.equal(await dbaValues(), before, 'nothing emptied by the refused resync');
    await asDba(`ALTER TABLE dba_audit DROP CONSTRAINT dba_audit_order`);
  }
  const done = await resynced();
  assert.equal(done.error, undefined);
  assert.ok((done.rowsCopied ?? 0) >= ORDERS, `${done.rowsCopied} rows copied`);
  assert.equal(await dbaValues(), before, "the DBA's columns keep their values through the re-copy");
}

/** The result lists the DBA's objects as kept, and, on a managed-like target, the public schema's owner as deliberate. */
function assertListedAsKept(end: MigrationStatus, managed: boolean): void {
  const schema = end.verification?.schema?.find((s) => s.database === DB);
  assert.ok(schema, `a schema report: ${JSON.stringify(end.verification)}`);
  assert.deepEqual((schema.kept ?? []).map((k) => k.object).sort(), [
    'column public.orders.dba_flag',
    'column public.orders.dba_note',
    'column public.orders.dba_seq',
    'index public.orders_dba_note',
    'table public.dba_audit',
  ]);
  assert.deepEqual(schema.differences, []);
  const publicOwner = schema.expected.find((e) => e.object === 'schema public');
  if (managed) assert.match(publicOwner?.reason ?? '', /keeps its owner pg_database_owner/, JSON.stringify(schema.expected));
}

describe('what a DBA makes on the target while streaming is kept (issue 62)', function () {
  this.timeout(600_000);
  onBothTargets(
    {
      superuser:
        "superuser target: a DBA's column with 3,000 values, table and index kept through a SIGKILL and the cutover, listed as kept",
      managed:
        "managed-like target: the same, the public schema a source superuser owns listed as deliberate, and a resync refused while a DBA's ON DELETE CASCADE key would reach the DBA's rows",
    },
    async ({ pair, target, kind, managed }) => {
      await loadSource(pair);
      await scenario(pair, `kept-${kind}`, target, managed);
    },
  );
});
