// An application's migration tool adds a column of a new enum type while changes stream: the type
// and the column in one transaction, as knex 3.3.0 (`t.enu(..., { useNative: true, enumName })`)
// and TypeORM 1.1.1 (`queryRunner.addColumn` of an `enum` column) print them (statements copied
// from what each printed, docs/limits.md). The apply meets the column at the table's next write,
// often before the schema watch has made the type on the target: its ADD COLUMN is refused for
// want of the type, and the stream used to stop until the watch's next look made it. The apply now
// holds that change until a look of the watch has made the type (cdc/apply/watchWait.ts): rows
// written with the new column reach the target (md5 of the table equal on both servers), the
// target's labels are the source's, no stream stop is recorded, and the cutover Succeeds.
import assert from 'node:assert/strict';
import type pg from 'pg';
import { onTarget, ormMigrationMidStream, tableContents, type Cluster, type ServerPair } from '../support';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';

const USERS = 1_000;

/** One ORM's migration: the enum type and the column of it, in one transaction, as the ORM printed it. */
interface OrmMigration {
  readonly db: string;
  readonly type: string;
  readonly sql: string;
}

/** knex 3.3.0: `table.enu('tier', ['free', 'pro'], { useNative: true, enumName: 'user_tier' }).notNullable().defaultTo('free')`. */
const KNEX: OrmMigration = {
  db: 'knexapp',
  type: 'public.user_tier',
  sql: `BEGIN;
create type "user_tier" as enum ('free', 'pro');
alter table "users" add column "tier" "user_tier" not null default 'free';
COMMIT;`,
};

/** TypeORM 1.1.1: `queryRunner.addColumn('users', new TableColumn({ name: 'tier', type: 'enum', enum: ['free', 'pro'], enumName: 'user_tier_enum', default: "'free'" }))`. */
const TYPEORM: OrmMigration = {
  db: 'typeormapp',
  type: 'public.user_tier_enum',
  sql: `BEGIN;
CREATE TYPE "public"."user_tier_enum" AS ENUM('free', 'pro');
ALTER TABLE "users" ADD "tier" "public"."user_tier_enum" NOT NULL DEFAULT 'free';
COMMIT;`,
};

async function loadSource(pair: ServerPair, db: string): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(
    `CREATE TABLE users (id integer PRIMARY KEY, email text NOT NULL);
     INSERT INTO users SELECT g, 'e' || g FROM generate_series(1, ${USERS}) g;`,
    [],
    db,
  );
}

/** The app: a user added, another one's email changed; once the column exists, users given tiers. */
async function writeOne(c: pg.Client, n: number, tiers: boolean): Promise<unknown> {
  await c.query(`INSERT INTO users (id, email) VALUES ($1, $2)`, [USERS + n, `w${n}`]);
  await c.query(`UPDATE users SET email = email || '.' WHERE id = $1`, [1 + ((n * 7919) % USERS)]);
  return tiers ? c.query(`UPDATE users SET tier = 'pro' WHERE id = $1`, [1 + ((n * 31) % USERS)]) : undefined;
}

async function labels(cluster: Cluster, db: string, type: string): Promise<string | null> {
  const [row] = await cluster.query<{ l: string | null }>(
    `SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) AS l FROM pg_enum WHERE enumtypid = to_regtype($1)`,
    [type],
    db,
  );
  return row!.l;
}

/** Streams the ORM's database and runs the ORM's migration mid-stream: the target's labels the source's. */
function migrateMidStream(pair: ServerPair, target: ServerSpec, orm: OrmMigration): Promise<void> {
  return ormMigrationMidStream(pair, target, {
    name: `${orm.db}-enum`,
    db: orm.db,
    table: 'users',
    sql: orm.sql,
    write: writeOne,
    check: async () => assert.equal(await labels(pair.target, orm.db, orm.type), 'free,pro'),
  });
}

describe('a column of a new enum type added by an ORM while streaming (the type made with it)', function () {
  this.timeout(300_000);

  onTarget(
    'superuser',
    "knex's native enu: rows with the column equal by md5, labels the source's, no stream stop, Succeeded",
    async ({ pair, target }) => {
      await loadSource(pair, KNEX.db);
      await migrateMidStream(pair, target, KNEX);
      assert.equal(await tableContents(pair.target, KNEX.db, 'users'), await tableContents(pair.source, KNEX.db, 'users'));
    },
  );

  onTarget(
    'managed',
    "TypeORM's addColumn of an enum: rows with the column equal by md5, labels the source's, no stream stop, Succeeded",
    async ({ pair, target }) => {
      await loadSource(pair, TYPEORM.db);
      await migrateMidStream(pair, target, TYPEORM);
      assert.equal(await tableContents(pair.target, TYPEORM.db, 'users'), await tableContents(pair.source, TYPEORM.db, 'users'));
    },
  );
});
