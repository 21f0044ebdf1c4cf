// Names as users write them. Schema "a.b" with table "c" and schema "a" with table "b.c" were one
// key, "a.b.c", to the table resync: "a.b"."c", created on the source while streaming, was taken as
// already on the target (where "a"."b.c" was) and never created there. A table whose name holds a
// quote, a space and a newline was printed raw in progress lines and events. And a --resync of a
// table the source lacks was recorded, to be warned about later by the runner. Read back: the
// refusal (nothing recorded, no event), each follow and resync done without error, every event and
// progress line on one line naming the tables as the quoting helper prints them, and after the
// cutover (Succeeded) every table's rows equal on both servers.
import assert from 'node:assert/strict';
import { requestCutover, requestResync, runMigration, type MigrationStatus } from '../../provider/engine';
import { displayName, ident, qualified } from '../../provider/engine/connect/quote';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents, get, tables as tableProgress } from '../../provider/engine/control/store';
import { tableResyncs } from '../../provider/engine/control/tableResyncs';
import { type ProgressEvent } from '../../provider/engine/core/model';
import { endIfRunning, onTarget, pairSpec, until, type Cluster, waitingForCutover } from '../support';

const DB = 'dotted';
const WEIRD = 'we"ird x\nname';
/** schema, table: the two that shared a key, and the one printed raw. */
const AB_C = ['a.b', 'c'] as const;
const A_BC = ['a', 'b.c'] as const;
const AB_WEIRD = ['a.b', WEIRD] as const;
const ALL: readonly (readonly [string, string])[] = [AB_C, A_BC, AB_WEIRD];

/** Each table's row count and the md5 of its rows' text, by the table's quoted name. */
async function contents(cluster: Cluster): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [schema, name] of ALL) {
    const [row] = await cluster.query<{ n: string; h: string | null }>(
      `SELECT count(*)::text AS n, md5(string_agg(x::text, ',' ORDER BY x::text)) AS h FROM ${qualified(schema, name)} x`,
      [],
      DB,
    );
    out[qualified(schema, name)] = `${row!.n} rows, ${row!.h ?? '-'}`;
  }
  return out;
}

describe('names with dots, quotes, spaces and newlines: keyed apart, printed quoted, a resync of an unknown table refused', function () {
  this.timeout(600_000);
  onTarget(
    'superuser',
    'a.b.c twice over followed and resynced apart, every name on one line, the unknown table refused up front',
    async ({ pair, target }) => {
      const name = 'dotted-names';
      await pair.source.query(`CREATE DATABASE ${DB}`);
      await pair.source.query(
        `CREATE SCHEMA ${ident('a.b')}; CREATE SCHEMA a;
       CREATE TABLE ${qualified(...A_BC)} (id int PRIMARY KEY, v text);
       INSERT INTO ${qualified(...A_BC)} SELECT g, 'a/b.c ' || g FROM generate_series(1, 300) g;
       CREATE TABLE ${qualified(...AB_WEIRD)} (id int PRIMARY KEY, v text);
       INSERT INTO ${qualified(...AB_WEIRD)} SELECT g, 'weird ' || g FROM generate_series(1, 50) g;`,
        [],
        DB,
      );
      const progress: ProgressEvent[] = [];
      const spec = { ...pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }), target };
      const running = runMigration(spec, { onProgress: (e) => progress.push(e) });
      const store = new CatalogConnection(target);
      const s = (sql: string) => pair.source.query(sql, [], DB);
      try {
        await waitingForCutover(store, name);

        // a table the source lacks: refused in one line naming it, nothing recorded
        const refused = await requestResync(target, name, 'a.nope').then(
          () => undefined,
          (error: Error & { code?: string }) => error,
        );
        assert.equal(refused?.code, 'RESYNC_TABLE');
        assert.match(refused.message, /^--resync "a\.nope": migration "dotted-names" moves no table a\.nope in database dotted .*such as /);
        assert.doesNotMatch(refused.message, /\n/);
        assert.deepEqual(await tableResyncs(store, name), []);
        assert.equal((await catalogEvents(store, name, 500)).filter((e) => e.message.includes('nope')).length, 0);
        assert.deepEqual(await pair.target.query(`SELECT to_regclass('a.nope') AS t`, [], DB), [{ t: null }]);

        // "a.b"."c" created on the source while streaming: followed, though "a"."b.c" is on the target
        await s(`CREATE TABLE ${qualified(...AB_C)} (id int PRIMARY KEY, v text);
               INSERT INTO ${qualified(...AB_C)} SELECT g, 'a.b/c ' || g FROM generate_series(1, 200) g;`);
        const followed = await until(
          '"a.b".c followed',
          async () => (await tableResyncs(store, name)).find((r) => r.table === displayName(...AB_C) && r.doneAt !== undefined),
          120_000,
        );
        assert.equal(followed.error, undefined, followed.error);
        assert.equal(followed.reason, 'created');

        // rows that differ on the target, then a resync of each by the name messages print it under
        for (const t of ALL) await pair.target.query(`UPDATE ${qualified(...t)} SET v = 'diverged' WHERE id <= 10`, [], DB);
        await s(`UPDATE ${qualified(...AB_C)} SET v = v || ' streamed' WHERE id > 190;
               UPDATE ${qualified(...A_BC)} SET v = v || ' streamed' WHERE id > 290;
               UPDATE ${qualified(...AB_WEIRD)} SET v = v || ' streamed' WHERE id > 40;`);
        for (const t of ALL) await requestResync(target, name, `${DB}/${displayName(...t)}`);
        const done = await until(
          'the three resyncs done',
          async () => {
            const all = await tableResyncs(store, name);
            const again = all.find((r) => r.table === displayName(...AB_C));
            return all.length === 3 && again?.requests === 2 && all.every((r) => r.doneAt !== undefined) ? all : undefined;
          },
          180_000,
        );
        assert.deepEqual(done.map((r) => [r.schema, r.name, r.error]).sort(), [
          ['a', 'b.c', undefined],
          ['a.b', 'c', undefined],
          ['a.b', WEIRD, undefined],
        ]);

        // every event and progress line on one line; the tables named as the quoting helper prints them
        const said = (await catalogEvents(store, name, 500)).map((e) => e.message);
        for (const line of said) assert.doesNotMatch(line, /[\n\r]/, line);
        for (const e of progress) for (const v of Object.values(e)) if (typeof v === 'string') assert.doesNotMatch(v, /[\n\r]/, v);
        const printed = displayName(...AB_WEIRD);
        assert.equal(printed, '"a.b".U&"we""ird x\\000Aname"');
        // "a.b".c keeps its reason (created): its second copy is said as a follow
        const named = [`followed ${displayName(...AB_C)}, `, `resynchronised ${displayName(...A_BC)}: `, `resynchronised ${printed}: `];
        for (const start of named)
          assert.ok(
            said.some((m) => m.startsWith(start)),
            `an event starts ${start}: ${said.join(' | ')}`,
          );
        assert.ok(said.includes(`resync of ${printed} requested`));
        const shown = await tableProgress(store, name);
        assert.ok(
          shown.some((t) => t.table === printed && t.state === 'Completed'),
          `show's tables: ${shown.map((t) => t.table).join(', ')}`,
        );
        for (const t of shown) assert.doesNotMatch(t.table, /[\n\r]/);

        await requestCutover(target, name);
        const end: MigrationStatus = await running;
        assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}`);
        const [src, dst] = await Promise.all([contents(pair.source), contents(pair.target)]);
        assert.deepEqual(dst, src);
        assert.equal(src[qualified(...AB_C)]!.split(',')[0], '200 rows');
        assert.equal(src[qualified(...A_BC)]!.split(',')[0], '300 rows');
        const status = await get(store, name);
        assert.equal(status?.state, 'Succeeded');
      } finally {
        await endIfRunning({ target, migrationName: name }, running);
        await store.close();
      }
    },
  );
});
