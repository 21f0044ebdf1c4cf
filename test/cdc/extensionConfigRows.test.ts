// The rows of an extension's configuration table (pg_extension_config_dump) that its condition
// selects, PostGIS's spatial_ref_sys SRIDs a user added: pg_dump copies them with the extension, and
// so does pgferry, in the copy's snapshot, and again at an online cutover after the drain (the table
// is not published); the verification compares them. The extension's own rows on the target are
// neither duplicated nor lost: the whole table is read back from both servers. Before, a migration
// Succeeded with the user's SRIDs missing on the target. A row deleted on the source while
// streaming is deleted on the target at the cutover only because pgferry copied it (its key recorded
// in the control catalog); a DBA's row on the target stays, and so does a row pgferry copied that a
// DBA edited there under the same key (recorded as kept, said in a warning); a fall-back carries the
// rows back and compares them, each server's own kept. A copied row a DBA deleted on the target
// stays deleted while the source's is unchanged, named in a warning.
import assert from 'node:assert/strict';
import { parseMigrationSpec, runMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events } from '../../provider/engine/control/store';
import { requestCutover } from '../../provider/engine/control/migrationRequests';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { isFinalState, requestFallBack, startMigration } from '../../provider/engine';
import {
  fallBackSettles,
  pairSpec,
  requirePrerequisite,
  serverSpec,
  startPair,
  until,
  waitForStatus,
  writeBehindFence,
  type Cluster,
  type ServerPair,
} from '../support';

const SPATIAL = 'public.spatial_ref_sys (configuration of extension postgis)';

/** Every row of spatial_ref_sys, as text, in one order: the extension's own and the user's. */
async function spatialRefSys(cluster: Cluster, db: string): Promise<string[]> {
  const rows = await cluster.query<{ row: string }>(`SELECT s::text AS row FROM public.spatial_ref_sys s ORDER BY srid`, [], db);
  return rows.map((r) => r.row);
}

/** The SRIDs the tests add (990000 and above), in order. */
async function userSrids(cluster: Cluster, db: string): Promise<number[]> {
  const rows = await cluster.query<{ srid: number }>(`SELECT srid FROM public.spatial_ref_sys WHERE srid >= 990000 ORDER BY srid`, [], db);
  return rows.map((r) => r.srid);
}

function addSrid(cluster: Cluster, db: string, srid: number, proj4: string): Promise<unknown> {
  return cluster.query(
    `INSERT INTO public.spatial_ref_sys (srid, auth_name, auth_srid, proj4text) VALUES ($1, 'trial', $1, $2)`,
    [srid, proj4],
    db,
  );
}

/**
 * A row deleted on the source while streaming is deleted on the target, a DBA's row there stays, and
 * so does a copied row a DBA edited there; a fall-back carries the window's rows back, each server's
 * own kept.
 */
async function deletedEditedAndFallenBack(pair: ServerPair): Promise<void> {
  const db = 'gisdeleted';
  const name = 'gis-deleted';
  const srids = (cluster: Cluster) => userSrids(cluster, db);
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(`CREATE EXTENSION postgis; CREATE TABLE places (id int PRIMARY KEY, srid int)`, [], db);
  await addSrid(pair.source, db, 990001, '+proj=longlat +datum=WGS84 +no_defs');
  await addSrid(pair.source, db, 990003, '+proj=longlat +ellps=GRS80 +no_defs');
  await addSrid(pair.source, db, 990007, '+proj=longlat +ellps=GRS80 +no_defs');
  const store = new CatalogConnection(serverSpec(pair.target));
  try {
    const spec = pairSpec(pair, name, [db], {
      mode: 'Online',
      option: 'Migrate',
      overwriteDbsInTarget: true,
      fenceWriters: true,
      fallbackWindow: '1h',
    });
    await startMigration(spec);
    const ready = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state), 240_000);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    assert.deepEqual(await srids(pair.target), [990001, 990003, 990007], 'the copy brought them');

    await addSrid(pair.target, db, 990500, '+proj=longlat +datum=NAD27 +no_defs'); // the DBA's own, on the target alone
    // a row pgferry copied, edited by a DBA on the target under the same key, then deleted on the source
    await pair.target.query(
      `UPDATE public.spatial_ref_sys SET proj4text = '+proj=longlat +datum=NAD83 +no_defs' WHERE srid = 990007`,
      [],
      db,
    );
    await pair.source.query(`DELETE FROM public.spatial_ref_sys WHERE srid IN (990003, 990007)`, [], db);
    await addSrid(pair.source, db, 990002, '+proj=longlat +ellps=GRS80 +no_defs');
    await requestCutover(store, name);
    const done = await waitForStatus(store, name, (st) => isFinalState(st.state), 240_000);
    assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
    assert.deepEqual(await srids(pair.source), [990001, 990002]);
    assert.deepEqual(
      await srids(pair.target),
      [990001, 990002, 990007, 990500],
      "the row pgferry copied and the source deleted is gone; the DBA's stays, and so does the copied row the DBA edited",
    );
    assert.deepEqual(await pair.target.query(`SELECT proj4text FROM public.spatial_ref_sys WHERE srid = 990007`, [], db), [
      { proj4text: '+proj=longlat +datum=NAD83 +no_defs' },
    ]);
    const compared = done.verification?.tables.filter((t) => t.table === SPATIAL);
    assert.deepEqual(compared, [{ database: db, table: SPATIAL, sourceRows: 2, targetRows: 2, matches: true }], "the DBA's rows left out");
    const said = (await events(store, name, 500)).filter((e) => e.message.startsWith(`cutover: ${SPATIAL}`));
    assert.deepEqual(
      said.map((e) => [e.level, e.message.replace(/^.*\(the rest there already\)/, '')]),
      [
        [
          'warning',
          ", 1 pgferry had copied deleted there (gone from where they came from), 1 of the target's own kept (pgferry did not copy them), 1 pgferry had copied kept on the target though gone from where they came from: edited there since under the same key",
        ],
      ],
    );
    const [recorded] = await pair.target.query<{ kept: boolean }>(
      `SELECT kept FROM pgferry.extension_config_row WHERE migration = $1 AND key = '(990007)'`,
      [name],
    );
    assert.deepEqual(recorded, { kept: true }, 'the edited row recorded as kept');

    // the window: the new server adds one and deletes one pgferry copied; the old source's DBA adds one behind its fence
    await until('the window open', async () => ((await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined));
    await addSrid(pair.target, db, 990004, '+proj=longlat +datum=WGS84 +no_defs');
    await pair.target.query(`DELETE FROM public.spatial_ref_sys WHERE srid = 990001`, [], db);
    await pair.target.query(`UPDATE public.spatial_ref_sys SET auth_name = 'in the window' WHERE srid = 990002`, [], db);
    await writeBehindFence(
      pair.source,
      db,
      "INSERT INTO public.spatial_ref_sys (srid, auth_name, auth_srid, proj4text) VALUES (990600, 'old', 990600, '+proj=longlat +datum=WGS84 +no_defs')",
    );
    await requestFallBack(serverSpec(pair.target), name);
    const settled = await fallBackSettles(store, name);
    const fallback = settled.databases[0]!.fallback!;
    assert.equal(fallback.state, 'FellBack', fallback.message);
    assert.deepEqual(
      await srids(pair.source),
      [990002, 990004, 990600],
      "the window's rows back, the old source's own kept, the new server's own not carried",
    );
    assert.deepEqual(await srids(pair.target), [990002, 990004, 990007, 990500]);
    assert.deepEqual(await pair.source.query(`SELECT auth_name FROM public.spatial_ref_sys WHERE srid = 990002`, [], db), [
      { auth_name: 'in the window' },
    ]);
  } finally {
    await store.close();
  }
}

/**
 * A row pgferry copied that a DBA edited on the target keeps the edit at the cutover while the
 * source's is unchanged; one both edited keeps the target's, named in a warning; one only the source
 * changed takes the source's. A fall-back carries neither edit back, and both comparisons pass.
 */
async function dbaEditsKept(pair: ServerPair): Promise<void> {
  const db = 'gisedited';
  const name = 'gis-edited';
  const proj4 = async (cluster: Cluster) =>
    (
      await cluster.query<{ srid: number; proj4text: string }>(
        `SELECT srid, proj4text FROM public.spatial_ref_sys WHERE srid >= 990000 ORDER BY srid`,
        [],
        db,
      )
    ).map((r) => `${r.srid} ${r.proj4text}`);
  const setProj4 = (cluster: Cluster, srid: number, text: string) =>
    cluster.query(`UPDATE public.spatial_ref_sys SET proj4text = $2 WHERE srid = $1`, [srid, text], db);
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(`CREATE EXTENSION postgis; CREATE TABLE places (id int PRIMARY KEY, srid int)`, [], db);
  for (const srid of [990011, 990012, 990013]) await addSrid(pair.source, db, srid, 'copied');
  const store = new CatalogConnection(serverSpec(pair.target));
  try {
    const spec = pairSpec(pair, name, [db], { mode: 'Online', overwriteDbsInTarget: true, fenceWriters: true, fallbackWindow: '1h' });
    await startMigration(spec);
    const ready = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state), 240_000);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await setProj4(pair.target, 990011, 'dba alone');
    await setProj4(pair.target, 990012, 'dba on both');
    await setProj4(pair.source, 990012, 'source on both');
    await setProj4(pair.source, 990013, 'source alone');
    await requestCutover(store, name);
    const done = await waitForStatus(store, name, (st) => isFinalState(st.state), 240_000);
    assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
    assert.deepEqual(await proj4(pair.source), ['990011 copied', '990012 source on both', '990013 source alone']);
    assert.deepEqual(
      await proj4(pair.target),
      ['990011 dba alone', '990012 dba on both', '990013 source alone'],
      "the DBA's edits kept, the source's change of a row the DBA did not touch copied",
    );
    const compared = done.verification?.tables.filter((t) => t.table === SPATIAL);
    assert.deepEqual(compared, [{ database: db, table: SPATIAL, sourceRows: 1, targetRows: 1, matches: true }], 'the edited rows left out');
    const said = (await events(store, name, 500)).filter((e) => e.message.startsWith(`cutover: ${SPATIAL}`));
    assert.deepEqual(
      said.map((e) => [e.level, e.message.replace(/^.*\(the rest there already\)/, '')]),
      [
        ['warning', ', 1 pgferry had copied and someone edited on the target since kept as edited (unchanged where they came from)'],
        [
          'warning',
          `cutover: ${SPATIAL}: key(s) "(990012)" changed on both servers since pgferry copied them (or copied before pgferry recorded what it wrote): the target's row kept, the source's not copied; to take the source's, write its row over the target's by hand`,
        ],
      ],
    );
    const recorded = await pair.target.query<{ key: string; kept: boolean }>(
      `SELECT key, kept FROM pgferry.extension_config_row WHERE migration = $1 ORDER BY key`,
      [name],
    );
    assert.deepEqual(recorded, [
      { key: '(990011)', kept: true },
      { key: '(990012)', kept: true },
      { key: '(990013)', kept: false },
    ]);

    await until('the window open', async () => ((await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined));
    await setProj4(pair.target, 990013, 'in the window');
    await requestFallBack(serverSpec(pair.target), name);
    const fallback = (await fallBackSettles(store, name)).databases[0]!.fallback!;
    assert.equal(fallback.state, 'FellBack', fallback.message);
    assert.deepEqual(
      await proj4(pair.source),
      ['990011 copied', '990012 source on both', '990013 in the window'],
      "the window's change back, the DBA's edits kept on the new server alone",
    );
  } finally {
    await store.close();
  }
}

/**
 * A row pgferry copied that a DBA deleted on the target stays deleted at the cutover while the
 * source's is unchanged, with a warning naming its key; one the source changed since is copied
 * again. The verification leaves the deleted key out and passes.
 */
async function dbaDeletesKept(pair: ServerPair): Promise<void> {
  const db = 'gisdbadeleted';
  const name = 'gis-dba-deleted';
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(`CREATE EXTENSION postgis; CREATE TABLE places (id int PRIMARY KEY, srid int)`, [], db);
  for (const srid of [990021, 990022, 990023]) await addSrid(pair.source, db, srid, 'copied');
  const store = new CatalogConnection(serverSpec(pair.target));
  try {
    await startMigration(pairSpec(pair, name, [db], { mode: 'Online', overwriteDbsInTarget: true }));
    const ready = await waitForStatus(store, name, (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state), 240_000);
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    assert.deepEqual(await userSrids(pair.target, db), [990021, 990022, 990023], 'the copy brought them');
    await pair.target.query(`DELETE FROM public.spatial_ref_sys WHERE srid IN (990021, 990022)`, [], db);
    await pair.source.query(`UPDATE public.spatial_ref_sys SET proj4text = 'changed on the source' WHERE srid = 990022`, [], db);
    await requestCutover(store, name);
    const done = await waitForStatus(store, name, (st) => isFinalState(st.state), 240_000);
    assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
    assert.deepEqual(await userSrids(pair.source, db), [990021, 990022, 990023]);
    const onTarget = await pair.target.query<{ srid: number; proj4text: string }>(
      `SELECT srid, proj4text FROM public.spatial_ref_sys WHERE srid >= 990000 ORDER BY srid`,
      [],
      db,
    );
    assert.deepEqual(
      onTarget,
      [
        { srid: 990022, proj4text: 'changed on the source' },
        { srid: 990023, proj4text: 'copied' },
      ],
      "the DBA's delete kept, the row the source changed since copied again",
    );
    const compared = done.verification?.tables.filter((t) => t.table === SPATIAL);
    assert.deepEqual(compared, [{ database: db, table: SPATIAL, sourceRows: 2, targetRows: 2, matches: true }], 'the deleted key left out');
    const warned = (await events(store, name, 500)).filter((e) => e.level === 'warning' && e.message.includes('deleted on the target'));
    assert.deepEqual(
      warned.map((e) => e.message),
      [
        `cutover: ${SPATIAL}: key(s) "(990021)" deleted on the target since pgferry copied them, unchanged on the source: the delete kept, the source's row not copied again; to take the source's row, insert it on the target by hand (copy its row from the source)`,
      ],
    );
    const recorded = await pair.target.query<{ key: string; kept: boolean }>(
      `SELECT key, kept FROM pgferry.extension_config_row WHERE migration = $1 ORDER BY key`,
      [name],
    );
    assert.deepEqual(recorded, [
      { key: '(990021)', kept: true },
      { key: '(990022)', kept: false },
      { key: '(990023)', kept: false },
    ]);
  } finally {
    await store.close();
  }
}

describe("extension configuration rows: PostGIS's user SRIDs copied, followed at the cutover and verified (integration)", function () {
  this.timeout(300_000);
  let pair: ServerPair;
  before(async function () {
    pair = await startPair(15, 15);
    const [available] = await pair.source.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'`);
    requirePrerequisite(this, available !== undefined, 'PostGIS for PostgreSQL 15 (Debian package postgresql-15-postgis-3)');
  });
  after(async () => pair?.stop());

  it("offline: the SRID the user added is on the target, the extension's own rows once each, and the verification compares it", async () => {
    const db = 'gisoffline';
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(`CREATE EXTENSION postgis; CREATE TABLE places (id int PRIMARY KEY, srid int)`, [], db);
    await addSrid(pair.source, db, 990001, '+proj=longlat +datum=WGS84 +no_defs');
    const done = await runMigration(pairSpec(pair, 'gis-offline', [db], { overwriteDbsInTarget: true }));
    assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
    const source = await spatialRefSys(pair.source, db);
    assert.ok(source.some((r) => r.startsWith('(990001,')));
    assert.deepEqual(await spatialRefSys(pair.target, db), source);
    const compared = done.verification?.tables.filter((t) => t.table === SPATIAL);
    assert.deepEqual(compared, [{ database: db, table: SPATIAL, sourceRows: 1, targetRows: 1, matches: true }]);
    assert.deepEqual(
      done.validation.filter((v) => v.code === 'EXTENSION_CONFIG_ROWS'),
      [],
      'offline, nothing is left to say: the rows are copied and compared',
    );
  });

  it('online: an SRID added and one changed on the source while streaming are on the target after the cutover, verified, said once at validation', async () => {
    const db = 'gisonline';
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(`CREATE EXTENSION postgis; CREATE TABLE places (id int PRIMARY KEY, srid int)`, [], db);
    await addSrid(pair.source, db, 990001, '+proj=longlat +datum=WGS84 +no_defs');
    const store = new CatalogConnection(serverSpec(pair.target));
    try {
      const running = runMigration(
        parseMigrationSpec({
          migrationName: 'gis-online',
          source: serverSpec(pair.source),
          target: serverSpec(pair.target),
          databases: [db],
          mode: 'Online',
          overwriteDbsInTarget: true,
        }),
      );
      const ready = await waitForStatus(store, 'gis-online', (st) => st.state !== 'InProgress', 240_000);
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
      const said = ready.validation.filter((v) => v.code === 'EXTENSION_CONFIG_ROWS');
      assert.deepEqual(
        said.map((v) => [v.database, v.status]),
        [[db, 'Warning']],
      );
      assert.match(
        said[0]!.message,
        /public\.spatial_ref_sys \(1 row\(s\)\); they are copied with the data and compared by the verification, but not streamed/,
      );
      assert.deepEqual(
        await pair.target.query(`SELECT srid FROM public.spatial_ref_sys WHERE srid >= 990000`, [], db),
        [{ srid: 990001 }],
        'the snapshot copy brought the SRID the user had',
      );

      await addSrid(pair.source, db, 990002, '+proj=longlat +ellps=GRS80 +no_defs');
      await pair.source.query(`UPDATE public.spatial_ref_sys SET auth_name = 'changed' WHERE srid = 990001`, [], db);
      await pair.source.query(`INSERT INTO places VALUES (1, 990002)`, [], db);
      await requestCutover(store, 'gis-online');
      const done = await running;
      assert.equal(done.state, 'Succeeded', `${done.message} ${done.verification?.firstMismatch ?? ''}`);
      assert.deepEqual(await spatialRefSys(pair.target, db), await spatialRefSys(pair.source, db));
      assert.deepEqual(
        await pair.target.query(`SELECT srid, auth_name FROM public.spatial_ref_sys WHERE srid >= 990000 ORDER BY srid`, [], db),
        [
          { srid: 990001, auth_name: 'changed' },
          { srid: 990002, auth_name: 'trial' },
        ],
      );
      const compared = done.verification?.tables.filter((t) => t.table === SPATIAL);
      assert.deepEqual(compared, [{ database: db, table: SPATIAL, sourceRows: 2, targetRows: 2, matches: true }]);
    } finally {
      await store.close();
    }
  });

  it("a row deleted on the source while streaming is deleted on the target, a DBA's row there stays; a fall-back carries the window's rows back, each server's own kept", () =>
    deletedEditedAndFallenBack(pair));

  it("a DBA's edit of a copied row on the target is kept at the cutover, one the source changed too kept with a warning naming its key; a fall-back carries neither back", () =>
    dbaEditsKept(pair));

  it("a DBA's delete of a copied row on the target is kept at the cutover with a warning naming its key, one the source changed since copied again; verified", () =>
    dbaDeletesKept(pair));
});
