// Columns added on the source while streaming (issue 47): the target's existing rows get exactly
// the values the source's have, a volatile default's by a copy of the table at a pin (issue 49); a table whose shape changed is verified whole at cutover; and verification compares rows
// by column name, naming a column that is on one side only.
import assert from 'node:assert/strict';
import { mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requestCutover, runMigration, waitingForApplyFix, type MigrationSpec, type MigrationStatus } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { isFinalState } from '../../provider/engine/core/model';
import { tableVerifications } from '../../provider/engine/control/tableVerification';
import { checksum } from '../../provider/engine/verify/keyedChecksum';
import { tableChecksumSql, verifyDatabases, type TableRecheck } from '../../provider/engine/verify/verifyTables';
import { type Cluster, endIfRunning, pairSpec, type ServerPair, suiteServers, until, waitForStatus } from '../support';
import { get } from '../../provider/engine/control/store';
import { tableResyncs } from '../../provider/engine/control/tableResyncs';
import { heldFile, isHeld, startHeldAt } from '../support/holdPoints';

const ROWS = 20_000;

function onlineSpec(pair: ServerPair, name: string, db: string): MigrationSpec {
  return pairSpec(pair, name, [db], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true });
}

/** A source database with one table of ROWS rows, `extra` columns declared after (id, n). */
async function sourceTable(pair: ServerPair, db: string, table: string): Promise<void> {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(
    `CREATE TABLE ${table} (id int PRIMARY KEY, n int NOT NULL); INSERT INTO ${table} SELECT g, g % 97 FROM generate_series(1, ${ROWS}) g;`,
    [],
    db,
  );
}

/** Each row's key and the md5 of its columns' text by name (`columns`), ordered by key. */
async function rowHashes(cluster: Cluster, db: string, table: string, columns: readonly string[]): Promise<string[]> {
  const row = columns.map((c) => `t.${c}`).join(', ');
  const rows = await cluster.query<{ r: string }>(
    `SELECT t.id || ':' || md5(ROW(${row})::text) AS r FROM ${table} t ORDER BY t.id`,
    [],
    db,
  );
  return rows.map((r) => r.r);
}

/**
 * The migration's end after a cutover request: its final status, or the status of a cutover that
 * stopped on a verification difference (the migration then waits, streaming, and `running` with it).
 */
async function cutoverEnd(store: CatalogConnection, spec: MigrationSpec, running: Promise<MigrationStatus>): Promise<MigrationStatus> {
  await requestCutover(spec.target, spec.migrationName);
  const status = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state) || /^cutover stopped/.test(s.message ?? ''));
  return isFinalState(status.state) ? running : status;
}

/** Waits until `table`'s resync is done and the migration streams on; fails naming the state it stopped in instead. */
async function resynchronised(store: CatalogConnection, migration: string, table: string): Promise<void> {
  const resynced = await until(`${table} copied again at a pin`, async () => {
    const s = await get(store, migration);
    if (s && (waitingForApplyFix(s) || s.state === 'Failed')) return s;
    const done = (await tableResyncs(store, migration)).find((r) => r.table === table && r.doneAt !== undefined);
    return done ? s : undefined;
  });
  assert.equal(resynced?.subState, 'WaitingForCutoverTrigger', `not followed: ${resynced?.state} ${resynced?.message}`);
}

const streamingOrOver = (s: MigrationStatus): boolean =>
  s.subState === 'WaitingForCutoverTrigger' || waitingForApplyFix(s) || s.state === 'Failed' || s.state === 'Succeeded';

/** A stable default (now()): the rows that existed get the source's value, and the cutover reads the table whole. */
async function followsStableDefault(pair: ServerPair): Promise<void> {
  const started = Date.now();
  await sourceTable(pair, 'placed', 'orders');
  const spec = onlineSpec(pair, 'added-stable', 'placed');
  const store = new CatalogConnection(spec.target);
  const running = runMigration(spec);
  try {
    const ready = await waitForStatus(store, spec.migrationName, streamingOrOver);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', ready.message);
    // the background verifier compared the table before its shape changed: the cutover must not trust that
    await until('a background verification of public.orders', async () =>
      (await tableVerifications(store, spec.migrationName)).find((r) => r.table === 'public.orders' && r.matches) ? true : undefined,
    );
    await pair.source.query(`ALTER TABLE orders ADD COLUMN placed_at timestamptz DEFAULT now()`, [], 'placed');
    await new Promise((r) => setTimeout(r, 50)); // the target's own now() would surely differ
    await pair.source.query(`INSERT INTO orders (id, n) VALUES (${ROWS + 1}, 1)`, [], 'placed');
    await until('the new row on the target', async () =>
      (await pair.target.query(`SELECT 1 FROM orders WHERE id = ${ROWS + 1}`, [], 'placed')).length ? true : undefined,
    );
    const done = await cutoverEnd(store, spec, running);
    assert.equal(done.state, 'Succeeded', done.message);
    assert.equal(done.verification?.ok, true, done.verification?.firstMismatch);
    const orders = done.verification?.tables.find((t) => t.table === 'public.orders');
    assert.equal(orders?.method, 'full', JSON.stringify(orders));
    assert.equal(orders?.sourceRows, ROWS + 1);

    const existing = `SELECT count(*)::int AS n, count(DISTINCT placed_at)::int AS distinct, min(placed_at)::text AS at FROM orders WHERE id <= ${ROWS}`;
    const [src] = await pair.source.query(existing, [], 'placed');
    const [dst] = await pair.target.query(existing, [], 'placed');
    assert.deepEqual(src, { n: ROWS, distinct: 1, at: src!.at });
    assert.deepEqual(dst, src, 'the target rows that existed before the column have the source value');
    const columns = ['id', 'n', 'placed_at'];
    const [a, b] = await Promise.all([
      rowHashes(pair.source, 'placed', 'orders', columns),
      rowHashes(pair.target, 'placed', 'orders', columns),
    ]);
    assert.equal(a.length, ROWS + 1);
    assert.deepEqual(b, a);
    // new rows get the source's default on the target too: the expression, not the constant
    const [def] = await pair.target.query<{ d: string }>(
      `SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'orders'::regclass AND adnum = 3`,
      [],
      'placed',
    );
    assert.equal(def?.d, 'now()');
    console.log(`      stable default: ${ROWS} rows equal, value ${src!.at}, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await endIfRunning(spec, running);
    await store.close();
  }
}

/**
 * A volatile default (gen_random_uuid()): the source gave each existing row its own value, which
 * the target cannot compute, so the column is added and the table copied again at a pinned
 * position (a resync) while streaming goes on; no stop, no step by hand (issue 49).
 */
async function followsVolatileDefault(pair: ServerPair): Promise<void> {
  const started = Date.now();
  await sourceTable(pair, 'tokens', 'tokens');
  const spec = onlineSpec(pair, 'added-volatile', 'tokens');
  const store = new CatalogConnection(spec.target);
  const running = runMigration(spec);
  try {
    const ready = await waitForStatus(store, spec.migrationName, streamingOrOver);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', ready.message);
    await pair.source.query(`ALTER TABLE tokens ADD COLUMN u uuid DEFAULT gen_random_uuid()`, [], 'tokens');
    await pair.source.query(`INSERT INTO tokens (id, n) VALUES (${ROWS + 1}, 1)`, [], 'tokens');
    await resynchronised(store, spec.migrationName, 'public.tokens');
    await pair.source.query(`INSERT INTO tokens (id, n) VALUES (${ROWS + 2}, 2)`, [], 'tokens');
    const done = await cutoverEnd(store, spec, running);
    assert.equal(done.state, 'Succeeded', done.message);
    assert.equal(done.verification?.ok, true, done.verification?.firstMismatch);
    const columns = ['id', 'n', 'u'];
    const [a, b] = await Promise.all([
      rowHashes(pair.source, 'tokens', 'tokens', columns),
      rowHashes(pair.target, 'tokens', 'tokens', columns),
    ]);
    assert.equal(a.length, ROWS + 2);
    assert.deepEqual(b, a);
    const [distinct] = await pair.target.query<{ n: number }>(`SELECT count(DISTINCT u)::int AS n FROM tokens`, [], 'tokens');
    assert.equal(distinct?.n, ROWS + 2);
    const [def] = await pair.target.query<{ d: string }>(
      `SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'tokens'::regclass AND adnum = 3`,
      [],
      'tokens',
    );
    assert.equal(def?.d, 'gen_random_uuid()');
    console.log(
      `      volatile default: table copied again at a pin; ${ROWS + 2} rows equal, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    await endIfRunning(spec, running);
    await store.close();
  }
}

/**
 * A column added while a resync waits for its pin (the gauntlet, ci102): the resync had read the
 * table's columns when it was asked for, the apply added the new column on the target meanwhile,
 * and the copy at the pin, made without it, took it for a column of the target's own: its values
 * were set aside and put back by key, and the rows the apply had skipped for the copy kept the
 * column's default instead of the source's value. The copy now reads its tables' shape in the pin's
 * snapshot. The resync is held between its look at the table and its pin (hold point resync-pin).
 */
async function columnAddedBeforePin(pair: ServerPair): Promise<void> {
  const db = 'latecols';
  await sourceTable(pair, db, 'items');
  const spec = onlineSpec(pair, 'added-before-pin', db);
  const store = new CatalogConnection(spec.target);
  const holdDir = mkdtempSync(path.join(os.tmpdir(), 'pgferry-hold-'));
  const point = 'resync-pin:public.items';
  try {
    await startHeldAt(spec, point, holdDir);
    const ready = await waitForStatus(store, spec.migrationName, streamingOrOver);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', ready.message);
    // a volatile default: the table is resynchronised, and the resync holds before its pin
    await pair.source.query(`ALTER TABLE items ADD COLUMN u uuid DEFAULT gen_random_uuid()`, [], db);
    await pair.source.query(`INSERT INTO items (id, n) VALUES (${ROWS + 1}, 1)`, [], db);
    await until('the resync held before its pin', async () => ((await isHeld(point, holdDir)) ? true : undefined));
    // the application's next release: a column with a default, rows written with other values
    await pair.source.query(
      `ALTER TABLE items ADD COLUMN channel text NOT NULL DEFAULT 'web';
       INSERT INTO items (id, n, channel) SELECT g, 2, 'app' FROM generate_series(${ROWS + 2}, ${ROWS + 11}) g;`,
      [],
      db,
    );
    await until('the apply to add the column on the target', async () => {
      const rows = await pair.target.query(`SELECT 1 FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'channel'`, [], db);
      return rows.length > 0 ? true : undefined;
    });
    await fs.rm(heldFile(point, holdDir));
    await resynchronised(store, spec.migrationName, 'public.items');
    await requestCutover(spec.target, spec.migrationName);
    const done = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state) || /^cutover stopped/.test(s.message ?? ''));
    const columns = ['id', 'n', 'u', 'channel'];
    const [a, b] = await Promise.all([rowHashes(pair.source, db, 'items', columns), rowHashes(pair.target, db, 'items', columns)]);
    assert.equal(a.length, ROWS + 11);
    assert.deepEqual(b, a);
    const [apps] = await pair.target.query<{ n: number }>(`SELECT count(*)::int AS n FROM items WHERE channel = 'app'`, [], db);
    assert.equal(apps?.n, 10);
    assert.equal(done.state, 'Succeeded', done.message);
  } finally {
    await fs.rm(heldFile(point, holdDir), { force: true });
    await endIfRunning(
      spec,
      waitForStatus(store, spec.migrationName, (st) => isFinalState(st.state)).catch(() => undefined),
    );
    await store.close();
    await fs.rm(holdDir, { recursive: true, force: true });
  }
}

/** Verification by column name: a column missing, extra or renamed on the target is named; one placed elsewhere matches. */
async function verifiesByColumnName(pair: ServerPair): Promise<void> {
  const db = 'shapes';
  const rows = (table: string, columns: string, values: string) =>
    `INSERT INTO ${table} (${columns}) SELECT ${values} FROM generate_series(1, 1000) g;`;
  // the same values under the same names; a renamed column holds what its source column held
  const sourceDdl = `
    CREATE TABLE missing (id int PRIMARY KEY, a int, b int); ${rows('missing', 'id, a, b', 'g, g * 2, g * 3')}
    CREATE TABLE extra (id int PRIMARY KEY, a int); ${rows('extra', 'id, a', 'g, g * 2')}
    CREATE TABLE renamed (id int PRIMARY KEY, a int, b int); ${rows('renamed', 'id, a, b', 'g, g * 2, g * 3')}
    CREATE TABLE reordered (id int PRIMARY KEY, a int, b text); ${rows('reordered', 'id, a, b', "g, g * 2, 't' || g")}`;
  const targetDdl = `
    CREATE TABLE missing (id int PRIMARY KEY, a int); ${rows('missing', 'id, a', 'g, g * 2')}
    CREATE TABLE extra (id int PRIMARY KEY, a int, c int); ${rows('extra', 'id, a, c', 'g, g * 2, g * 3')}
    CREATE TABLE renamed (id int PRIMARY KEY, a int, c int); ${rows('renamed', 'id, a, c', 'g, g * 2, g * 3')}
    CREATE TABLE reordered (id int PRIMARY KEY, b text, a int); ${rows('reordered', 'id, a, b', "g, g * 2, 't' || g")}`;
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.target.query(`CREATE DATABASE ${db}`);
  await pair.source.query(sourceDdl, [], db);
  await pair.target.query(targetDdl, [], db);
  const spec = pairSpec(pair, 'shapes', [db]);
  const report = await verifyDatabases(spec, { databases: [db] });
  const reasons = Object.fromEntries(report.tables.map((t) => [t.table, [t.matches, t.reason, t.sourceRows, t.targetRows]]));
  assert.deepEqual(reasons['public.missing'], [false, 'column b is missing on the target', 1000, 1000]);
  assert.deepEqual(reasons['public.extra'], [false, 'column c is only on the target', 1000, 1000]);
  assert.deepEqual(reasons['public.renamed'], [false, 'column b is missing on the target; column c is only on the target', 1000, 1000]);
  assert.deepEqual(reasons['public.reordered'], [true, undefined, 1000, 1000]);
  assert.equal(report.ok, false);

  // the cutover's re-read of changed keys (and of counts) names the column too, never a match
  const keyColumns = [{ name: 'id', cast: 'integer', isKey: true, stableText: true, equality: 'OPERATOR(pg_catalog.=)' }];
  for (const recheck of [{ kind: 'keys', keys: ['["1"]', '["2"]'], keyColumns }, { kind: 'count' }] as TableRecheck[]) {
    const rechecked = await verifyDatabases(spec, { databases: [db], recheck: () => recheck });
    const missing = rechecked.tables.find((t) => t.table === 'public.missing');
    assert.deepEqual([missing?.matches, missing?.reason], [false, 'column b is missing on the target'], recheck.kind);
    const reordered = rechecked.tables.find((t) => t.table === 'public.reordered');
    assert.deepEqual([reordered?.matches, reordered?.method], [true, recheck.kind], recheck.kind);
  }

  // the same text as the whole row for the same columns in the same order: existing checksums stay
  const client = await pair.source.connect(db);
  try {
    const whole = await checksum(client, tableChecksumSql('"public"."missing"'));
    const named = await checksum(client, tableChecksumSql('"public"."missing"', ['id', 'a', 'b']));
    assert.deepEqual(named, whole);
  } finally {
    await client.end();
  }
  await pair.source.query(`DROP DATABASE ${db}`);
  await pair.target.query(`DROP DATABASE ${db}`);
}

describe('online: columns added on the source while streaming (issue 47), and verification by column name', function () {
  this.timeout(400_000);
  const servers = suiteServers();

  it('ADD COLUMN ... DEFAULT now(): the target rows get the source value; the cutover reads the table whole', () =>
    followsStableDefault(servers.pair));

  it('ADD COLUMN ... DEFAULT gen_random_uuid(): the table is copied again at a pin with the source values; the cutover succeeds', () =>
    followsVolatileDefault(servers.pair));

  it('a column added while a resync waits for its pin: the copy takes it from the source, every row with its value', () =>
    columnAddedBeforePin(servers.pair));

  it('verification compares columns by name: a column missing, extra or renamed on the target is a mismatch naming it', () =>
    verifiesByColumnName(servers.pair));
});
