// An application removes an enum label on the source while changes stream, as drizzle-kit 0.31.11
// writes it (drizzle-orm 0.45.4, docs/trials.md): in one transaction the column to text, its
// default as text, DROP TYPE, CREATE TYPE of the same name with fewer labels, the default and the
// column back `USING "mood"::"public"."mood"`. The source's new type has the old one's name and
// every label streamed after it is valid in the old one, so nothing stopped and the target kept the
// removed label. The schema watch now makes the type again on the target once the apply has passed
// the change: the target's type has the source's labels, the column is of it, rows written before
// and after come back equal (md5 on both servers). A row of the target that holds the removed label
// (a DBA's) stops the follow with a one-line error naming the table, column, label and fix, the
// target's type and rows unchanged; once that row is fixed, the next look makes the change.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { runMigration, type MigrationSpec } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import {
  cutoverEnd,
  endIfRunning,
  onTarget,
  pairSpec,
  startSourceWriter,
  until,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';

const DB = 'dz';
const PEOPLE = 2_000;

/** drizzle-kit 0.31.11's migration for the label 'sad' removed from `mood`, as generated (one transaction). */
const DRIZZLE_0001 = `
BEGIN;
ALTER TABLE "people" ALTER COLUMN "mood" SET DATA TYPE text;
ALTER TABLE "people" ALTER COLUMN "mood" SET DEFAULT 'ok'::text;
DROP TYPE "public"."mood";
CREATE TYPE "public"."mood" AS ENUM('ok', 'happy', 'ecstatic');
ALTER TABLE "people" ALTER COLUMN "mood" SET DEFAULT 'ok'::"public"."mood";
ALTER TABLE "people" ALTER COLUMN "mood" SET DATA TYPE "public"."mood" USING "mood"::"public"."mood";
COMMIT;`;

async function loadSource(pair: ServerPair): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${DB}`);
  // drizzle-kit's 0000 for the schema, and people of every mood
  await pair.source.query(
    `CREATE TYPE "public"."mood" AS ENUM('sad', 'ok', 'happy', 'ecstatic');
     CREATE TABLE "people" ("id" integer PRIMARY KEY NOT NULL, "name" text, "mood" "mood" DEFAULT 'ok' NOT NULL);
     INSERT INTO people SELECT g, 'p' || g, (enum_range(NULL::mood))[1 + g % 4] FROM generate_series(1, ${PEOPLE}) g;`,
    [],
    DB,
  );
}

/** The app: a person added with a label both types have, another one's mood and name changed. */
function writeOne(): (c: pg.Client, n: number) => Promise<unknown> {
  return async (c, n) => {
    const label = ['ok', 'happy', 'ecstatic'][n % 3]!;
    await c.query(`INSERT INTO people (id, name, mood) VALUES ($1, $2, $3)`, [PEOPLE + n, `w${n}`, label]);
    await c.query(`UPDATE people SET name = name || '.', mood = $1 WHERE id = $2`, [label, 1 + ((n * 7919) % PEOPLE)]);
  };
}

async function labels(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ l: string }>(
    `SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) AS l FROM pg_enum WHERE enumtypid = to_regtype('public.mood')`,
    [],
    DB,
  );
  return row!.l;
}

/** The column's type and default, and how many enum types the database has. */
async function column(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ c: string }>(
    `SELECT format_type(a.atttypid, a.atttypmod) || ' default ' || pg_get_expr(d.adbin, d.adrelid)
            || ', enums: ' || (SELECT string_agg(typname, ' ' ORDER BY typname) FROM pg_type WHERE typtype = 'e') AS c
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = 'people'::regclass AND a.attname = 'mood'`,
    [],
    DB,
  );
  return row!.c;
}

async function contents(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(p::text, E'\\n' ORDER BY p.id)) AS h FROM people p`,
    [],
    DB,
  );
  return `${row!.n} rows, ${row!.h}`;
}

interface Running {
  readonly spec: MigrationSpec;
  readonly store: CatalogConnection;
  readonly running: ReturnType<typeof runMigration>;
  readonly told: () => Promise<string>;
}

/** Streams `dz` with the app writing; `scene` runs while it does; the migration is ended whatever happens. */
async function streaming(
  pair: ServerPair,
  name: string,
  target: MigrationSpec['target'],
  scene: (r: Running) => Promise<void>,
): Promise<void> {
  const spec = { ...pairSpec(pair, name, [DB], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }), target };
  const running = runMigration(spec);
  const store = new CatalogConnection(target);
  const told = async () => (await catalogEvents(store, name, 40)).map((e) => `${e.level}: ${e.message.slice(0, 500)}`).join('\n  ');
  try {
    const ready = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state));
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await scene({ spec, store, running, told });
  } finally {
    await endIfRunning(spec, running);
    await store.close();
  }
}

/** The people the app made sad move on before the label goes (drizzle's cast refuses a row still 'sad'). */
async function removeLabel(pair: ServerPair): Promise<void> {
  await pair.source.query(`UPDATE people SET mood = 'ok' WHERE mood = 'sad'`, [], DB);
  await pair.source.query(DRIZZLE_0001, [], DB);
}

async function cutOver(r: Running): Promise<void> {
  const end = await cutoverEnd(r.store, r.spec, r.running);
  assert.equal(end.state, 'Succeeded', `${end.message} ${end.verification?.firstMismatch ?? ''}\nevents:\n  ${await r.told()}`);
}

describe("an enum label removed on the source by drizzle-kit's recreation of the type", function () {
  this.timeout(600_000);

  onTarget(
    'superuser',
    "the target's type is made again with the source's labels, the column of it, rows before and after equal by md5, Succeeded",
    async ({ pair, target }) => {
      await loadSource(pair);
      await streaming(pair, 'drizzle-label', target, async (r) => {
        const writer = startSourceWriter(pair.source, DB, writeOne());
        try {
          await until('the app writing', async () => (writer.committed() >= 5 ? true : undefined), 60_000, 100);
          await removeLabel(pair);
          // many rows at once after the change: the apply stages them (a table of its session), read as the new type
          await pair.source.query(`UPDATE people SET mood = 'ecstatic' WHERE id % 5 = 0`, [], DB);
          await until('the app writing after the change', async () => (writer.committed() >= 25 ? true : undefined), 60_000, 100);
          await until(
            "the target's labels as the source's",
            async () => ((await labels(pair.target)) === 'ok,happy,ecstatic' ? true : undefined),
            90_000,
            500,
          ).catch(async (error: Error) => assert.fail(`${error.message}: ${await labels(pair.target)}\nevents:\n  ${await r.told()}`));
          await writer.stop();
        } finally {
          await writer.stop().catch(() => undefined);
        }
        await cutOver(r);
      });
      assert.equal(await labels(pair.source), 'ok,happy,ecstatic');
      assert.equal(await labels(pair.target), 'ok,happy,ecstatic');
      assert.equal(await column(pair.source), `mood default 'ok'::mood, enums: mood`);
      assert.equal(await column(pair.target), await column(pair.source));
      assert.equal(await contents(pair.target), await contents(pair.source));
    },
  );

  onTarget(
    'managed',
    "a target row holding the removed label (a DBA's): the follow stops naming table, column, label and fix, the target's type and rows unchanged; fixed, the type follows and Succeeded",
    async ({ pair, target }) => {
      await loadSource(pair);
      await streaming(pair, 'drizzle-dba', target, async (r) => {
        await pair.target.query(`INSERT INTO people VALUES (-1, 'the DBA''s', 'sad')`, [], DB);
        await removeLabel(pair);
        const warned = await until(
          'the follow refused on the sad row',
          async () =>
            (await catalogEvents(r.store, r.spec.migrationName, 200)).find(
              (e) => e.message.includes('enum type public.mood') && e.message.includes('following it failed'),
            )?.message,
          90_000,
          500,
        ).catch(async (error: Error) => assert.fail(`${error.message}\nevents:\n  ${await r.told()}`));
        assert.match(
          warned,
          /following it failed: column public\.people\.mood holds the label 'sad', which the source's public\.mood no longer has, in 1 row of the target: change or delete it \(SELECT \* FROM "public"\."people" WHERE "mood"::text = 'sad'\), and the next look makes the type again/,
        );
        assert.doesNotMatch(warned, /\n/);
        // nothing changed on the target: the old type with its labels, the DBA's row
        assert.equal(await labels(pair.target), 'sad,ok,happy,ecstatic');
        assert.deepEqual(await pair.target.query(`SELECT mood::text AS m FROM people WHERE id = -1`, [], DB), [{ m: 'sad' }]);
        // the source's rows (none 'sad' now) streamed over the old type: only the DBA's row differs
        await pair.target.query(`DELETE FROM people WHERE id = -1`, [], DB);
        await until(
          "the target's labels as the source's once the row is gone",
          async () => ((await labels(pair.target)) === 'ok,happy,ecstatic' ? true : undefined),
          90_000,
          500,
        ).catch(async (error: Error) => assert.fail(`${error.message}\nevents:\n  ${await r.told()}`));
        await cutOver(r);
      });
      assert.equal(await column(pair.target), await column(pair.source));
      assert.equal(await contents(pair.target), await contents(pair.source));
    },
  );
});
