// Types renamed on the source before the stream has carried a row of a table using them: the
// stream's first Type message of each names it by its new name, with no earlier one to tell the
// old. The target still has the types pgferry restored under their old names, and the schema
// watch's rename waits for the apply to pass where it saw the rename, while the apply, before this
// was fixed, cast the rows to the new names the target lacked and stopped: neither went on until
// someone ran ALTER TYPE ... RENAME TO on the target. The apply now renames the target's type, the
// one pgferry made (its OID recorded there), at the relation message, before the first row under
// the new name. The types' names, the rows (an md5 of each side's) and the stream's events are
// read back: no stop was recorded.
import assert from 'node:assert/strict';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { endIfRunning, startPair, until, type Cluster, type ServerPair } from '../support';
import { followingMigration } from './harness';

const DB = 'typerenameunseen';

const SCHEMA = `
CREATE TYPE mood AS ENUM ('calm', 'busy', 'away');
CREATE TYPE place AS (street text, zip int);
CREATE TABLE person (id int PRIMARY KEY, m mood NOT NULL, at place);
INSERT INTO person SELECT g, 'calm', ROW('main ' || g, g)::place FROM generate_series(1, 100) g;`;

/** The user's enum and composite types, by name. */
async function typeNames(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ t: string }>(
    `SELECT typname AS t FROM pg_type WHERE typnamespace = 'public'::regnamespace AND typtype IN ('e', 'c')
        AND (typtype = 'e' OR typrelid IN (SELECT oid FROM pg_class WHERE relkind = 'c')) ORDER BY 1`,
    [],
    DB,
  );
  return rows.map((r) => r.t);
}

/** An md5 of the table's rows in key order, as text. */
async function digest(cluster: Cluster): Promise<string | undefined> {
  const rows = await cluster.query<{ d: string }>(`SELECT md5(string_agg(p::text, ',' ORDER BY id)) AS d FROM person p`, [], DB);
  return rows[0]?.d;
}

describe('types renamed on the source before the stream carried a row of their table', function () {
  this.timeout(240_000);
  let pair: ServerPair | undefined;
  afterEach(async () => {
    await pair?.stop();
    pair = undefined;
  });

  it("renames the target's own types by themselves: names and rows (md5) equal, no stream stop recorded", async () => {
    pair = await startPair(15, 15);
    const source = pair.source;
    const name = 'type-rename-unseen';
    const { spec, store, running } = await followingMigration(pair, name, DB, SCHEMA);
    try {
      // the stream has carried nothing of person yet: its first Type messages carry the new names
      await source.query(
        `BEGIN; ALTER TYPE mood RENAME TO feeling; ALTER TYPE place RENAME TO address; COMMIT;
         INSERT INTO person SELECT g, 'busy', ROW('side ' || g, g)::address FROM generate_series(101, 160) g;
         UPDATE person SET m = 'away', at = ROW('moved', 0)::address WHERE id <= 20;`,
        [],
        DB,
      );
      const expected = await digest(source);
      const told = async (): Promise<string> =>
        (await catalogEvents(store, name, 40)).map((e) => `${e.level}: ${e.message.slice(0, 300)}`).join('\n  ');
      await until(
        'the rows written under the new names applied on the target',
        async () => ((await digest(pair!.target)) === expected ? true : undefined),
        60_000,
        500,
      ).catch(async (error: Error) => {
        throw new Error(`${error.message}\n  ${await told()}`);
      });
      assert.deepEqual(await typeNames(pair.target), ['address', 'feeling']);
      assert.deepEqual(await typeNames(pair.target), await typeNames(source));
      // the stream kept running: rows after the renames were applied without a stop
      const all = await catalogEvents(store, name, 500);
      const stops = all.filter((e) => e.level === 'error' && /streaming stopped/.test(e.message));
      assert.deepEqual(stops, [], await told());
      assert.match(all.map((e) => e.message).join('\n'), /source type public\.mood renamed to public\.feeling while streaming/);
      await source.query(`INSERT INTO person VALUES (161, 'calm', ROW('last', 1)::address)`, [], DB);
      const after = await digest(source);
      await until(
        'a row written after the renames applied',
        async () => ((await digest(pair!.target)) === after ? true : undefined),
        60_000,
        500,
      );
    } finally {
      await endIfRunning(spec, running);
      await store.close();
    }
  });
});
