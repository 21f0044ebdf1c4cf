// An application renames an enum label on the source while changes stream (ALTER TYPE ... RENAME
// VALUE), with a writer writing that type's labels throughout. Rows streamed before the rename carry
// the old label and rows after it the new one, so the schema watch does not rename it on the target
// itself: it warns with the fix. The fix it prints is the rename (it printed DROP TYPE and CREATE
// TYPE before, which the type's column refuses, and which CASCADE would answer by dropping the
// column). Run as printed on the target once the stream has applied past the rename, or stopped on
// the new label, the stream goes on and the cutover succeeds: the labels and the rows are read back
// from both servers. Superuser and managed-like targets. A user who did not run it finds the stream
// stopped on the new label: the stop's fix is the rename too (it printed ADD VALUE, which leaves the
// old label beside the new one and the two types different at the cutover); run as printed, the
// stream goes on and the cutover succeeds (superuser target).
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { MigrationSpec } from '../../provider/engine';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import {
  cutoverEnd,
  onBothTargets,
  onTarget,
  pairSpec,
  streamedRun,
  until,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';
import { eventsTold } from '../support/toldEvents';

const DB = 'shop';
const ORDERS = 2_000;

async function loadSource(pair: ServerPair): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  await pair.source.query(
    `CREATE TYPE state AS ENUM ('new', 'paid');
     CREATE TABLE orders (id int PRIMARY KEY, n int NOT NULL, st state NOT NULL);
     INSERT INTO orders SELECT g, g, CASE WHEN g % 2 = 0 THEN 'new' ELSE 'paid' END::state FROM generate_series(1, ${ORDERS}) g;`,
    [],
    DB,
  );
}

/** Each write sets a label the type has at that moment, so writes go on across the rename. */
function writeOne(): (c: pg.Client, n: number) => Promise<unknown> {
  return (c, n) =>
    c.query(`UPDATE orders SET n = n + 1, st = (enum_range(NULL::state))[1 + $1::int % 2] WHERE id = $2`, [n, 1 + ((n * 7919) % ORDERS)]);
}

async function labels(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ l: string }>(
    `SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) AS l FROM pg_enum WHERE enumtypid = 'public.state'::regtype`,
    [],
    DB,
  );
  return row!.l;
}

async function contents(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(o::text, E'\\n' ORDER BY o.id)) AS h FROM orders o`,
    [],
    DB,
  );
  return `${row!.n} rows, ${row!.h}`;
}

async function scenario(pair: ServerPair, name: string, target: MigrationSpec['target']): Promise<void> {
  const spec = pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
  await streamedRun({ ...spec, target }, { source: pair.source, db: DB, write: writeOne() }, async ({ store, running, writer, ready }) => {
    const told = () => eventsTold(store, name, 40);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await pair.source.query(`ALTER TYPE state RENAME VALUE 'new' TO 'fresh'`, [], DB);
    const [{ lsn } = { lsn: '' }] = await pair.source.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const fix = await until(
      'the watch warns of the renamed label with its fix',
      async () => {
        for (const e of await catalogEvents(store, name, 200)) {
          if (e.level !== 'warning' || !e.message.includes('enum type public.state')) continue;
          const printed = /\(fix: (.*?;)\)/.exec(e.message)?.[1];
          if (printed) return printed;
        }
        return undefined;
      },
      60_000,
      500,
    ).catch(async (error: Error) => assert.fail(`${error.message}\nevents:\n  ${await told()}`));
    assert.equal(fix, `ALTER TYPE "public"."state" RENAME VALUE 'new' TO 'fresh';`);
    // as a user runs it: once the stream has applied past the rename, or stopped on the new label
    await until(
      'the stream past the rename or stopped on the new label',
      async () => {
        const [slot] = await pair.source.query<{ past: boolean }>(
          `SELECT confirmed_flush_lsn >= $1::pg_lsn AS past FROM pg_replication_slots WHERE database = $2`,
          [lsn, DB],
        );
        const stopped = (await catalogEvents(store, name, 200)).some((e) => e.level === 'error' && e.message.includes('"fresh"'));
        return slot?.past === true || stopped ? true : undefined;
      },
      60_000,
      200,
    );
    await pair.target.query(fix, [], DB);
    // a stream stopped on the new label is tried again by itself, and applies it now
    const streaming = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state));
    assert.equal(streaming.subState, 'WaitingForCutoverTrigger', `${streaming.state}: ${streaming.message}`);
    await writer.stop();
    const end = await cutoverEnd(store, { target, migrationName: name }, running);
    assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}\nevents:\n  ${await told()}`);
    assert.equal(await labels(pair.source), 'fresh,paid');
    assert.equal(await labels(pair.target), 'fresh,paid');
    assert.equal(await contents(pair.target), await contents(pair.source));
  });
}

/** The stream stopped on the new label, as a user who had not run the watch's fix finds it: the stop's own fix is run. */
async function stoppedScenario(pair: ServerPair, name: string, target: MigrationSpec['target']): Promise<void> {
  const spec = pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
  await streamedRun({ ...spec, target }, { source: pair.source, db: DB, write: writeOne() }, async ({ store, running, writer, ready }) => {
    const told = () => eventsTold(store, name, 40);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await pair.source.query(`ALTER TYPE state RENAME VALUE 'new' TO 'fresh'`, [], DB);
    const stopped = await waitForStatus(store, name, (st) => st.databases[0]?.applyStop !== undefined || isFinalState(st.state), 60_000);
    const fix = stopped.databases[0]?.applyStop?.fix ?? '';
    // the statement the stop prints, as a user copies it: after the last colon of the fix
    const printed = /: (ALTER TYPE .*)$/.exec(fix)?.[1];
    assert.equal(printed, `ALTER TYPE "public"."state" RENAME VALUE 'new' TO 'fresh'`, fix);
    await pair.target.query(printed, [], DB);
    const streaming = await waitForStatus(
      store,
      name,
      (st) => (st.subState === 'WaitingForCutoverTrigger' && st.databases[0]?.applyStop === undefined) || isFinalState(st.state),
    );
    assert.equal(streaming.subState, 'WaitingForCutoverTrigger', `${streaming.state}: ${streaming.message}\nevents:\n  ${await told()}`);
    await writer.stop();
    const end = await cutoverEnd(store, { target, migrationName: name }, running);
    assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}\nevents:\n  ${await told()}`);
    assert.equal(await labels(pair.target), 'fresh,paid');
    assert.equal(await contents(pair.target), await contents(pair.source));
  });
}

describe('an enum label renamed on the source while streaming', function () {
  this.timeout(600_000);
  onBothTargets(
    {
      superuser: 'superuser target: the fix printed is the rename; run as printed, Succeeded, labels and rows equal',
      managed: 'managed-like target: the same',
    },
    async ({ pair, target, kind }) => {
      await loadSource(pair);
      await scenario(pair, `label-${kind}`, target);
    },
  );
  onTarget(
    'superuser',
    "the stream stopped on the new label: the stop's fix is the rename; run as printed, it streams on, Succeeded, labels and rows equal",
    async ({ pair, target, kind }) => {
      await loadSource(pair);
      await stoppedScenario(pair, `label-stop-${kind}`, target);
    },
  );
});
