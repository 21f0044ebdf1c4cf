// An enum made again on the source while no runner ran: the runner killed while streaming, the type
// made again as drizzle-kit makes it (the column to text, DROP TYPE, CREATE TYPE with 'c' removed and
// 'd' added, the column back USING c::e), a writer inserting rows with the new label before and
// after the resume. No runner saw the type's OID change between two of its looks, so before the
// source's OID was recorded in the control catalog (known objects) the resumed runner could not
// tell the remake from a label renamed: the apply stopped on the first row with 'd' (invalid input
// value for enum) and the watch printed RENAME VALUE as the fix. Now the first look of the resumed
// runner compares the source's OID with the recorded one: the labels are added on the target, the
// held rows applied, then the type made again once the apply passed the change. Read back: the
// labels, the column's type, the enum types and an md5 of the rows on both servers, no stream stop
// and no RENAME VALUE fix among the events, and a cutover that Succeeds.
import assert from 'node:assert/strict';
import { resumeMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import {
  endIfRunning,
  pairSpec,
  startPair,
  startSourceWriter,
  until,
  waitForStatus,
  waitingForCutover,
  type Cluster,
  type ServerPair,
  type SourceWriter,
} from '../support';
import { cutOverOnceAccepted } from './harness';

const DB = 'enumunseen';

const LABELS = `SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) AS l FROM pg_enum WHERE enumtypid = to_regtype('public.e')`;
const COLUMN = `SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c'`;
const TYPES = `SELECT string_agg(typname, ',' ORDER BY typname) AS l FROM pg_type WHERE typtype = 'e'`;

const SCHEMA = `
CREATE TYPE e AS ENUM ('a', 'b', 'c');
CREATE TABLE t (id int PRIMARY KEY, c e NOT NULL);
INSERT INTO t SELECT g, (ARRAY['a', 'b'])[1 + g % 2]::e FROM generate_series(1, 200) g;`;

/** drizzle-kit 0.31's statements for the enum's labels changed from a, b, c to a, b, d. */
const DRIZZLE_REMAKE = `BEGIN;
ALTER TABLE t ALTER COLUMN c SET DATA TYPE text;
DROP TYPE e;
CREATE TYPE e AS ENUM ('a', 'b', 'd');
ALTER TABLE t ALTER COLUMN c SET DATA TYPE e USING c::e;
COMMIT`;

async function state(cluster: Cluster): Promise<string> {
  const [l] = await cluster.query<{ l: string }>(LABELS, [], DB);
  const [c] = await cluster.query<{ t: string }>(COLUMN, [], DB);
  const [types] = await cluster.query<{ l: string }>(TYPES, [], DB);
  const [r] = await cluster.query<{ h: string }>(`SELECT count(*) || ' ' || md5(string_agg(t::text, ',' ORDER BY id)) AS h FROM t`, [], DB);
  return `${l?.l} | ${c?.t} | ${types?.l} | ${r?.h}`;
}

describe('an enum made again on the source while no runner ran, rows with the new label written around the resume', function () {
  this.timeout(400_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it("the resumed runner follows it: the target's labels, column type, enum types and rows (md5) as the source's, no stop, no RENAME VALUE fix, Succeeded", async () => {
    const name = 'enum-unseen';
    pair = await startPair(15, 15);
    const { source, target } = pair;
    await source.query(`CREATE DATABASE ${DB}`);
    await source.query(SCHEMA, [], DB);
    const spec = pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
    const store = new CatalogConnection(spec.target);
    let writing: SourceWriter | undefined;
    const told = async () => (await catalogEvents(store, name, 40)).map((e) => `${e.level}: ${e.message.slice(0, 400)}`).join('\n  ');
    try {
      await startMigration(spec);
      const streaming = await waitingForCutover(store, name);
      process.kill(streaming.runner!.pid, 'SIGKILL');
      await waitForStatus(store, name, (s) => s.runner?.alive === false);
      await source.query(DRIZZLE_REMAKE, [], DB);
      const writer = startSourceWriter(source, DB, (c, n) => c.query(`INSERT INTO t VALUES ($1, 'd')`, [1000 + n]));
      writing = writer;
      await until('rows with the new label written while no runner runs', async () => (writer.committed() >= 20 ? true : undefined));
      await resumeMigration(spec);
      await waitingForCutover(store, name);
      const resumedAt = writer.committed();
      await until('rows written after the resume', async () => (writer.committed() >= resumedAt + 20 ? true : undefined));
      await writer.stop();
      await until(
        "the target's labels, column and rows as the source's",
        async () => ((await state(target)) === (await state(source)) ? true : undefined),
        120_000,
        500,
      ).catch(async (error: Error) =>
        assert.fail(`${error.message}: ${await state(target)} / ${await state(source)}\nevents:\n  ${await told()}`),
      );
      assert.match(await state(target), /^a,b,d \| e \| e \| \d+ /);
      const all = await catalogEvents(store, name, 1000);
      const stops = all.filter((e) => e.level === 'error' && /streaming stopped/.test(e.message));
      assert.deepEqual(
        stops.map((e) => e.message),
        [],
      );
      assert.deepEqual(
        all.filter((e) => /RENAME VALUE/.test(e.message)).map((e) => e.message),
        [],
      );
      await cutOverOnceAccepted(spec, store);
      assert.equal(await state(target), await state(source));
    } finally {
      await writing?.stop().catch(() => undefined);
      await endIfRunning(spec, Promise.resolve());
      await waitForStatus(store, name, (s) => s.runner?.alive !== true).catch(() => undefined);
      await store.close();
    }
  });
});
