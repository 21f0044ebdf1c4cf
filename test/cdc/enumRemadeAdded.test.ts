// An enum made again on the source with labels removed and others added in the same change, rows
// with an added label written right after: drizzle-kit's recreation (the column to text, DROP
// TYPE, CREATE TYPE, back USING c::e), Prisma's (the old type renamed aside, the new one made, the
// column moved USING c::text::e, the old one dropped) with labels added only, and one that
// reorders the labels and adds one. Each time the target's labels, the column's type and the rows
// are read back and compared with the source's, and at the end no stream stop is in the control
// catalog. Before this was followed, the first change stopped the stream for good (the apply met a
// row with the new label, which the target's type lacked, and the watch printed RENAME VALUE as
// the fix). A comment on the type, followed first, makes sure the watch has looked at the type
// before it is made again: it tells a type made again from a label renamed by the type's OID.
import assert from 'node:assert/strict';
import { endIfRunning, startPair, until, type Cluster, type ServerPair } from '../support';
import { drizzleRemake, ENUM_TABLE_SCHEMA, enumState } from '../support/enumRemade';
import { eventsTold, streamStops } from '../support/toldEvents';
import { followingMigration } from './harness';

const DB = 'enumswap';

const state = (cluster: Cluster) => enumState(cluster, DB);

describe('an enum made again on the source with labels removed and added, rows with the new labels right after', function () {
  this.timeout(300_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it("the target's labels, column type, enum types and rows as the source's (md5) after each of three remakes, no stream stop", async () => {
    const name = 'enum-swap';
    pair = await startPair(15, 15);
    const { source, target } = pair;
    const { spec, store, running } = await followingMigration(pair, name, DB, ENUM_TABLE_SCHEMA);
    const told = () => eventsTold(store, name, 40);
    const same = async (what: string) =>
      until(what, async () => ((await state(target)) === (await state(source)) ? true : undefined), 120_000, 500).catch(
        async (error: Error) => assert.fail(`${error.message}: ${await state(target)}\nevents:\n  ${await told()}`),
      );
    try {
      await source.query(`COMMENT ON TYPE e IS 'seen'`, [], DB);
      const comment = `SELECT obj_description(to_regtype('public.e'), 'pg_type') AS d`;
      await until(
        'the comment followed',
        async () => ((await target.query(comment, [], DB))[0]?.d === 'seen' ? true : undefined),
        60_000,
        500,
      );
      // drizzle-kit: 'c' removed, 'd' added
      await source.query(drizzleRemake(['a', 'b', 'd']), [], DB);
      await source.query(`INSERT INTO t SELECT g, 'd' FROM generate_series(1001, 1010) g`, [], DB);
      await source.query(`UPDATE t SET c = 'd' WHERE id % 3 = 0`, [], DB);
      await same("the target's labels, column and rows as the source's after drizzle-kit's remake");
      assert.match(await state(target), /^a,b,d \| e \| e \| 210 /);
      // Prisma: the old type renamed aside, labels only added
      await source.query(
        `BEGIN;
         ALTER TYPE e RENAME TO e_old;
         CREATE TYPE e AS ENUM ('a', 'x', 'b', 'd', 'y');
         ALTER TABLE t ALTER COLUMN c TYPE e USING c::text::e;
         DROP TYPE e_old;
         COMMIT`,
        [],
        DB,
      );
      await source.query(`INSERT INTO t VALUES (1011, 'x'), (1012, 'y')`, [], DB);
      await same("the target's labels, column and rows as the source's after Prisma's remake");
      assert.match(await state(target), /^a,x,b,d,y \| e \| e \| 212 /);
      // labels reordered, one removed (its rows changed first) and one added
      await source.query(`UPDATE t SET c = 'a' WHERE c = 'x'`, [], DB);
      await source.query(drizzleRemake(['y', 'z', 'd', 'b', 'a']), [], DB);
      await source.query(`INSERT INTO t VALUES (1013, 'z')`, [], DB);
      await same("the target's labels, column and rows as the source's after the labels were reordered");
      assert.match(await state(target), /^y,z,d,b,a \| e \| e \| 213 /);
      assert.deepEqual(await streamStops(store, name), []);
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
