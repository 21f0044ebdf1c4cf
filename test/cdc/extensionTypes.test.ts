// Updates and deletes of tables whose columns are of extension types (hstore, citext, ltree, cube,
// isn, PostGIS; a pg_trgm index beside them), streamed to the target: key-less tables (REPLICA
// IDENTITY FULL, matched by the whole old row), FULL tables that kept a primary key (matched by
// it), and keys of extension types. Every session's search_path is empty, so each comparison
// must name its operator's schema (cdc/plan/equality.ts). PostGIS needs its Debian package on a
// PostgreSQL 15 pair (the embedded 16 has none): ensure-deps installs it, and CI fails without it.
import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration } from '../../provider/engine';
import { openClient } from '../../provider/engine/connect/client';
import { openSession, closeSession } from '../../provider/engine/connect/session';
import { qualified } from '../../provider/engine/connect/quote';
import type { PgferryError } from '../../provider/engine/core/errors';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { DEFAULT_LIMITS } from '../../provider/engine/cdc/plan/planner';
import { resolveTargetTable } from '../../provider/engine/cdc/apply/targetTables';
import type { Relation } from '../../provider/engine/cdc/decode/changeEvents';
import { checkCdcTables } from '../../provider/engine/validate/cdcCheck';
import { cdcTableReport } from '../../provider/engine/validate/cdcReport';
import {
  DEFAULT_ALLOW_LIST,
  requirePrerequisite,
  setAllowList,
  serverSpec,
  startPair,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';
import { assertSame, createSlot, drain, rowsOf, setupDb, startApplier, stopCdcPair, TARGET_KINDS, type CdcDb } from './harness';
import { requestCutover } from '../../provider/engine/control/migrationRequests';

const EXTENSIONS =
  'CREATE EXTENSION hstore; CREATE EXTENSION citext; CREATE EXTENSION ltree; CREATE EXTENSION cube; CREATE EXTENSION isn; CREATE EXTENSION pg_trgm; CREATE EXTENSION postgis;';

/** The columns every table below shares: one of each extension type, a domain, an array and a composite of one, and built-in types whose equality is looser than identity. */
const COLUMNS = `h hstore, c citext, l ltree, cu cube, e ean13, g geometry(Point, 4326), d label, ca citext[], co tagged,
  j json, p point, n numeric, f float8, t text`;

const DDL = `
CREATE DOMAIN label AS citext;
CREATE TYPE tagged AS (tag citext, n int);
-- key-less: REPLICA IDENTITY FULL, as pgferry gives it with allowReplicaIdentityFull
CREATE TABLE things (${COLUMNS});
CREATE INDEX things_t_trgm ON things USING gin (t gin_trgm_ops);
CREATE INDEX things_c ON things (c);
ALTER TABLE things REPLICA IDENTITY FULL;
-- the user chose FULL and kept a primary key (of an extension type)
CREATE TABLE things_pk (id citext PRIMARY KEY, ${COLUMNS});
ALTER TABLE things_pk REPLICA IDENTITY FULL;
-- an ordinary key of extension types
CREATE TABLE keyed (k ltree, i isbn13, v hstore, PRIMARY KEY (k, i));`;
const TABLES = ['things', 'things_pk', 'keyed'];

/** A key-less parent and a keyed one, each with an inheritance child holding an identical row. */
const INHERITANCE_DDL = `
CREATE EXTENSION citext;
CREATE TABLE heir (c citext, t text); ALTER TABLE heir REPLICA IDENTITY FULL;
CREATE TABLE heir_child () INHERITS (heir); ALTER TABLE heir_child REPLICA IDENTITY FULL;
CREATE TABLE kheir (id int PRIMARY KEY, v text);
CREATE TABLE kheir_child () INHERITS (kheir); ALTER TABLE kheir_child REPLICA IDENTITY FULL;`;

/** One row of COLUMNS; `c` and `n`, `f` vary so that rows can differ only where equality is looser than identity. */
function row(c: string, n = '1.0', f = '0', t = 'hello'): string {
  return `'a=>1, "b c"=>NULL', '${c}', 'top.mid', '(1, 2)', '9780262510875', 'SRID=4326;POINT(1 2)', 'Lbl', '{A,b}', '(Tag,1)',
    '{"a": 1}', '(1,2)', ${n}, ${f}, '${t}'`;
}

/** Inserts, updates and deletes of every kind on the three tables, in several transactions. */
async function changes(f: CdcDb): Promise<void> {
  // rows that differ only where equality is looser than identity come first, so a match by equality
  // alone would find them before the row the source changes
  await f.src(`INSERT INTO things VALUES (${row('Abc')}), (${row('abc')}), (${row('x', '1.0')}), (${row('x', '1.00')}),
    (${row('y', '1', '0')}), (${row('y', '1', "'-0'")}), (${row('dup')}), (${row('dup')}), (${row('gone')}), (${row('gone')}),
    (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'nulls')`);
  await f.src(`INSERT INTO things_pk SELECT 'K' || g, ${row('Abc')} FROM generate_series(1, 40) g`);
  await f.src(`INSERT INTO keyed SELECT ('top.n' || g)::ltree, '978-0-262-51087-5', ('n=>' || g)::hstore FROM generate_series(1, 20) g`);
  await f.src(`INSERT INTO keyed VALUES ('top.n1', '9780306406157', 'other=>1')`);
  // key-less: the row 'abc', not 'Abc'; 1.00, not 1.0; -0, not 0
  await f.src(`UPDATE things SET t = 'lower case' WHERE c::text = 'abc'`);
  await f.src(`UPDATE things SET t = 'two decimals' WHERE n::text = '1.00'`);
  await f.src(`UPDATE things SET t = 'negative zero' WHERE f::text = '-0'`);
  // one of two identical rows changes, and one of two identical rows goes
  await f.src(`UPDATE things SET t = 'one of two' WHERE ctid = (SELECT ctid FROM things WHERE c = 'dup' LIMIT 1)`);
  await f.src(`DELETE FROM things WHERE ctid = (SELECT ctid FROM things WHERE c = 'gone' LIMIT 1)`);
  // every extension column changed, then the row with NULLs changed and deleted
  await f.src(`UPDATE things SET h = h || 'z=>9', l = l || 'leaf', cu = cube(cu, 3), e = '9780306406157', g = ST_SetSRID(ST_MakePoint(3, 4), 4326),
    d = 'LBL2', ca = ca || 'C'::citext, co = ROW('tag2', 2)::tagged WHERE c = 'x'`);
  await f.src(`BEGIN; UPDATE things SET c = 'was null' WHERE t = 'nulls'; DELETE FROM things WHERE c = 'was null'; COMMIT`);
  // FULL with a primary key: many rows in one statement, a key changed in case only, deletes
  await f.src(`UPDATE things_pk SET t = t || '!', g = ST_Translate(g, 1, 1)`);
  await f.src(`UPDATE things_pk SET id = 'k1' WHERE id = 'K1'`);
  await f.src(`DELETE FROM things_pk WHERE id::text LIKE 'K3%'`);
  // keys of extension types: updates (one changes the key), deletes
  await f.src(`UPDATE keyed SET v = v || 'u=>1' WHERE i = '9780262510875'`);
  await f.src(`UPDATE keyed SET k = 'top.moved' WHERE k = 'top.n2'`);
  await f.src(`DELETE FROM keyed WHERE k ~ 'top.n1*'`);
}

/** The same DDL on both sides; on the target the extensions are created by its superuser, as a managed server's extension support does for its admin. */
async function setupExtensionDb(pair: ServerPair, kind: (typeof TARGET_KINDS)[number]): Promise<CdcDb> {
  const f = await setupDb(pair.source, pair.target, '', { target: kind });
  await f.src(EXTENSIONS + DDL);
  await f.dst(EXTENSIONS);
  const client = await openClient(f.targetSpec, { database: f.db });
  try {
    await client.query(DDL);
  } finally {
    await client.end();
  }
  return f;
}

async function postgisAvailable(cluster: Cluster): Promise<boolean> {
  const rows = await cluster.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'`);
  return rows.length > 0;
}

describe('cdc: tables with extension types (integration)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async function () {
    pair = await startPair(15, 15);
    const available = (await postgisAvailable(pair.source)) && (await postgisAvailable(pair.target));
    requirePrerequisite(this, available, 'PostGIS for PostgreSQL 15 (Debian package postgresql-15-postgis-3)');
  });
  after(async () => stopCdcPair(pair));

  for (const kind of TARGET_KINDS) {
    for (const staged of [false, true]) {
      it(`applies updates and deletes to key-less and FULL tables and to keys of extension types, changing exactly the source's rows (${staged ? 'staged' : 'parameter'} groups, ${kind} target)`, async () => {
        const f = await setupExtensionDb(pair, kind);
        const exported = await createSlot(f);
        await exported.release();
        const limits = { ...DEFAULT_LIMITS, stageMinRows: staged ? 1 : Number.MAX_SAFE_INTEGER };
        const running = startApplier(f, { initialLsn: exported.consistentLsn, limits });
        await changes(f);
        await drain(f, running);
        await assertSame(f, TABLES);
        assert.deepEqual(await f.dst(`SELECT t, count(*)::int AS n FROM things WHERE c IN ('dup', 'gone') GROUP BY t ORDER BY t`), [
          { t: 'hello', n: 2 },
          { t: 'one of two', n: 1 },
        ]);
        assert.deepEqual(await f.dst(`SELECT c::text AS c FROM things WHERE t = 'lower case'`), [{ c: 'abc' }]);
        const stats = running.applier.stats();
        assert.ok(stats.updates > 40 && stats.deletes > 10, `${stats.updates} updates, ${stats.deletes} deletes`);
      });
    }
  }

  it('matches a FULL table with a usable unique index by that index and a key-less one by every column, with schema-qualified operators; any table name resolves, a table the target lacks is refused by name', async () =>
    resolvesMatches(pair));

  it('warns at validation when a column of a table matched by its whole old row can be compared neither by equality nor by a stable text', async () =>
    warnsOfUnstableColumns(pair));

  it("changes a parent's own row, never an inheritance child's identical one, by key and by whole row", async () => {
    const f = await setupDb(pair.source, pair.target, INHERITANCE_DDL);
    const exported = await createSlot(f);
    await exported.release();
    const running = startApplier(f, { initialLsn: exported.consistentLsn });
    await f.src(`INSERT INTO heir VALUES ('Same', 'x'); INSERT INTO heir_child VALUES ('Same', 'x');
      INSERT INTO kheir VALUES (1, 'x'); INSERT INTO kheir_child VALUES (1, 'x')`);
    await f.src(`UPDATE ONLY heir SET t = 'parent' WHERE c = 'Same'; UPDATE ONLY kheir SET v = 'parent' WHERE id = 1`);
    await f.src(`DELETE FROM ONLY heir; DELETE FROM ONLY kheir`);
    await drain(f, running);
    await assertSame(f, ['ONLY heir', 'heir_child', 'ONLY kheir', 'kheir_child']);
    assert.deepEqual(await f.dst(`SELECT c::text AS c, t FROM heir_child`), [{ c: 'Same', t: 'x' }]);
  });

  it('migrates key-less PostGIS tables of countries and capitals online, streaming updates and deletes, then cuts over verified', async () =>
    migratesCountriesAndCapitals(pair));
});

async function resolvesMatches(pair: ServerPair): Promise<void> {
  const f = await setupExtensionDb(pair, 'superuser');
  await f.dst(`CREATE TYPE vt; CREATE FUNCTION vt_in(cstring) RETURNS vt AS 'textin' LANGUAGE internal IMMUTABLE STRICT;
    CREATE FUNCTION vt_out(vt) RETURNS cstring AS 'textout' LANGUAGE internal VOLATILE STRICT;
    CREATE TYPE vt (INPUT = vt_in, OUTPUT = vt_out, LIKE = text); ALTER TABLE things ADD COLUMN v vt`);
  const target = await openSession(f.targetSpec, { database: f.db, purpose: 'test' });
  try {
    const relation = async (name: string, replicaIdentity: Relation['replicaIdentity'], keys: readonly string[]): Promise<Relation> => {
      const cols = await f.dst(
        `SELECT attname AS name, atttypid::int AS oid FROM pg_attribute WHERE attrelid = format('public.%I', $1::text)::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
        [name],
      );
      const types = await f.dst(
        `SELECT t.oid::int AS oid, n.nspname AS schema, t.typname AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace`,
      );
      const typeOf = new Map(types.map((t) => [t.oid as number, { schema: t.schema as string, name: t.name as string }]));
      return {
        oid: 1,
        schema: 'public',
        name,
        replicaIdentity,
        columns: cols.map((c) => ({
          name: c.name as string,
          isKey: replicaIdentity === 'full' || keys.includes(c.name as string),
          typeOid: c.oid as number,
          typeMod: -1,
        })),
        typeNames: cols.map((c) => typeOf.get(c.oid as number)),
      };
    };
    const things = await resolveTargetTable(target, await relation('things', 'full', []), false);
    assert.equal(things.identityFull, true);
    const eq = Object.fromEntries(things.columns.map((c) => [c.name, c.equality ?? (c.stableText ? 'text' : 'unstable text')]));
    assert.deepEqual(eq, {
      h: 'OPERATOR("public".=)',
      c: 'OPERATOR("public".=)',
      l: 'OPERATOR("public".=)',
      cu: 'OPERATOR("public".=)',
      e: 'OPERATOR("public".=)',
      g: 'OPERATOR("public".=)',
      d: 'OPERATOR("public".=)', // the domain's base type, citext
      ca: 'OPERATOR("pg_catalog".=)', // array_eq, with citext's equality for the elements
      co: 'OPERATOR("pg_catalog".=)', // record_eq
      j: 'text',
      p: 'text',
      n: 'OPERATOR("pg_catalog".=)',
      f: 'OPERATOR("pg_catalog".=)',
      t: 'OPERATOR("pg_catalog".=)',
      v: 'unstable text',
    });
    const withKey = await resolveTargetTable(target, await relation('things_pk', 'full', []), false);
    assert.equal(withKey.identityFull, false);
    assert.deepEqual(
      withKey.columns.filter((c) => c.isKey).map((c) => [c.name, c.equality]),
      [['id', 'OPERATOR("public".=)']],
    );
    const keyed = await resolveTargetTable(target, await relation('keyed', 'default', ['k', 'i']), false);
    assert.deepEqual(
      keyed.columns.filter((c) => c.isKey).map((c) => [c.name, c.equality]),
      [
        ['k', 'OPERATOR("public".=)'],
        ['i', 'OPERATOR("public".=)'],
      ],
    );
    // a name with quotes and with what a replacement string or a placeholder would read ($1, $', $&)
    const odd = `it's "odd" $1 $' $&`;
    await f.dst(`CREATE TABLE ${qualified('public', odd)} (id int PRIMARY KEY, v citext)`);
    const oddTable = await resolveTargetTable(target, await relation(odd, 'default', ['id']), false);
    assert.deepEqual(
      oddTable.columns.map((c) => [c.name, c.cast, c.isKey]),
      [
        ['id', 'integer', true],
        ['v', '"public"."citext"', false],
      ],
    );
    const missing = { ...(await relation('keyed', 'default', ['k'])), name: 'not_on_the_target' };
    await assert.rejects(resolveTargetTable(target, missing, false), (error: PgferryError) => {
      assert.equal(error.code, 'CDC_TABLE_MISSING');
      assert.match(error.message, /not_on_the_target/);
      return true;
    });
  } finally {
    await closeSession(target);
  }
}

async function warnsOfUnstableColumns(pair: ServerPair): Promise<void> {
  await pair.source.query('CREATE DATABASE unstable');
  await pair.source.query(
    `CREATE TYPE vt; CREATE FUNCTION vt_in(cstring) RETURNS vt AS 'textin' LANGUAGE internal IMMUTABLE STRICT;
     CREATE FUNCTION vt_out(vt) RETURNS cstring AS 'textout' LANGUAGE internal VOLATILE STRICT;
     CREATE TYPE vt (INPUT = vt_in, OUTPUT = vt_out, LIKE = text);
     CREATE TABLE loose (v vt, j json);
     CREATE TABLE loose_pk (id int PRIMARY KEY, v vt); ALTER TABLE loose_pk REPLICA IDENTITY FULL;
     CREATE TABLE fine (j json, p point);`,
    [],
    'unstable',
  );
  const client = await openSession(serverSpec(pair.source), { database: 'unstable', purpose: 'test', readOnly: true });
  try {
    const results = checkCdcTables(await cdcTableReport(client), 'unstable', { allowReplicaIdentityFull: true });
    const unstable = results.filter((r) => r.code === 'ROW_MATCH_UNSTABLE_COLUMN');
    // loose_pk is matched by its primary key on the target, fine's json and point by their stable text
    assert.deepEqual(
      unstable.map((r) => [r.status, /^table ([^\s:]+)/.exec(r.message)?.[1]]),
      [['Warning', 'public.loose']],
    );
    assert.match(unstable[0]!.message, /columns v have a type with no equality operator .* streaming stops \(CDC_TARGET_DIVERGED\)/);
  } finally {
    await closeSession(client);
  }
  await pair.source.query('DROP DATABASE unstable');
}

async function migratesCountriesAndCapitals(pair: ServerPair): Promise<void> {
  const db = 'world';
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(
    `CREATE EXTENSION postgis; CREATE EXTENSION citext;
     CREATE TABLE countries (name text NOT NULL, iso citext, geom geometry(MultiPolygon, 4326));
     CREATE TABLE capitals (name text NOT NULL, country text, geom geometry(Point, 4326));
     CREATE INDEX countries_geom ON countries USING gist (geom);
     CREATE INDEX capitals_geom ON capitals USING gist (geom);
     INSERT INTO countries SELECT 'country ' || g, 'C' || g,
       ST_Multi(ST_MakeEnvelope(g, g, g + 1, g + 1, 4326)) FROM generate_series(1, 50) g;
     INSERT INTO capitals SELECT 'capital ' || g, 'country ' || g, ST_SetSRID(ST_MakePoint(g + 0.5, g + 0.5), 4326) FROM generate_series(1, 50) g;`,
    [],
    db,
  );
  // a managed target allows the extensions its azure.extensions lists (the managed tests above set it)
  await setAllowList(pair.target, `${DEFAULT_ALLOW_LIST},POSTGIS`);
  const store = new CatalogConnection(serverSpec(pair.target));
  try {
    const running = runMigration(
      parseMigrationSpec({
        migrationName: 'world-online',
        source: serverSpec(pair.source),
        target: serverSpec(pair.target),
        databases: [db],
        mode: 'Online',
        option: 'ValidateAndMigrate',
        allowReplicaIdentityFull: true,
      }),
    );
    const ready = await waitForStatus(store, 'world-online', (st) => st.state !== 'InProgress', 240_000);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    const full = ready.validation.filter((v) => v.code === 'NO_REPLICA_IDENTITY');
    assert.deepEqual(
      full.map((v) => v.status),
      ['Warning', 'Warning'],
    );
    assert.deepEqual(
      ready.validation.filter((v) => v.code === 'ROW_MATCH_UNSTABLE_COLUMN'),
      [],
    );
    const s = (sql: string) => pair.source.query(sql, [], db);
    // the most ordinary edits: a capital moves, a border changes, a country renamed, one removed
    await s(`UPDATE capitals SET geom = ST_SetSRID(ST_MakePoint(0.25, 0.25), 4326) WHERE name = 'capital 1'`);
    await s(`UPDATE countries SET geom = ST_Multi(ST_Buffer(ST_MakeEnvelope(2, 2, 3, 3, 4326), 0.1)) WHERE name = 'country 2'`);
    await s(`UPDATE countries SET name = 'country three', iso = 'c3' WHERE iso = 'C3'`);
    await s(`BEGIN; DELETE FROM capitals WHERE country = 'country 4'; DELETE FROM countries WHERE name = 'country 4'; COMMIT`);
    await s(`INSERT INTO countries VALUES ('country 51', 'C51', ST_Multi(ST_MakeEnvelope(51, 51, 52, 52, 4326)))`);
    await requestCutover(store, 'world-online');
    const done = await running;
    assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
    assert.equal(done.verification?.ok, true);
    assert.ok(done.databases[0]!.updates >= 3 && done.databases[0]!.deletes >= 2, JSON.stringify(done.databases[0]));
    for (const table of ['countries', 'capitals']) {
      assert.deepEqual(await rowsOf(pair.target, db, table), await rowsOf(pair.source, db, table), table);
    }
  } finally {
    await store.close();
  }
}
