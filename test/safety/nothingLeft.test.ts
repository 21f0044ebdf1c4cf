// What pgferry leaves on the servers once a migration is over: nothing of its own, and everything a
// DBA made before it. One source and target pair carries four migrations at once, one database each:
// an offline one, an online one cut over without a fallback window, one cut over with a window that
// then closes (asked by the user on one kind of target, its end passing on the other), and one
// canceled while it streams. Each online one makes all it may (the writer fence, the target's guard,
// the source's event trigger, replica identity FULL, parallel apply sessions). Before and after, each server's objects are listed in every migrated database and in
// the postgres database: schemas, functions, triggers, event triggers, publications, database
// settings, replication slots and origins, roles and the databases' comments. A DBA's own objects
// made beforehand (a schema named pgferry, a publication and a slot, a role, a database's comment)
// are kept under their OIDs. The one thing a cutover keeps on purpose, the old source's writer
// fence, is shown by `show` with the statements that lift it; once they are run the source is as it
// was. `show` still reads each migration after the clean-up, and a resume of one that ended leaves
// nothing either. On a superuser target and on a managed-like one, whose applied positions are rows
// of a table in the target database rather than replication origins.
import assert from 'node:assert/strict';
import {
  cancelMigration,
  closeFallbackWindow,
  isFinalState,
  requestCutover,
  resumeMigration,
  showMigration,
  startMigration,
  withPendingFootprint,
  type MigrationSpec,
} from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import type { MigrationStatus } from '../../provider/engine/core/model';
import { CONTROL_SCHEMA_MARK, fenceNamesOf } from '../../provider/engine/core/names';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { endIfRunning, onBothTargets, pairSpec, serverObjects, until, waitForStatus, type ServerPair } from '../support';

const OFFLINE = 'fp_offline';
const CUT = 'fp_cut';
const WINDOW = 'fp_window';
const CANCELED = 'fp_canceled';
const DATABASES = [OFFLINE, CUT, WINDOW, CANCELED] as const;

const SCHEMA = `
CREATE TABLE parent (id int PRIMARY KEY, v text);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent);
CREATE TABLE keyless (v int);
CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := coalesce(NEW.v, 'x'); RETURN NEW; END $$;
CREATE TRIGGER stamped BEFORE INSERT ON parent FOR EACH ROW EXECUTE FUNCTION stamp();
INSERT INTO parent SELECT g, g::text FROM generate_series(1, 200) g;
INSERT INTO child SELECT g, g FROM generate_series(1, 200) g;
INSERT INTO keyless SELECT g FROM generate_series(1, 50) g;`;

/** The online options that make every change pgferry may make in a database but the pooler's. */
const EVERYTHING = {
  mode: 'Online',
  option: 'Migrate',
  fenceWriters: true,
  verify: true,
  followSchemaChanges: true,
  schemaChangeCapture: 'eventTrigger',
  allowReplicaIdentityFull: true,
  applySessions: 2,
};

/** The OIDs of the DBA's own objects, to tell them kept under their identity and not made again. */
async function dbaOids(pair: ServerPair): Promise<string[]> {
  const [schema] = await pair.source.query<{ oid: string }>("SELECT oid::text FROM pg_namespace WHERE nspname = 'pgferry'", [], CANCELED);
  const [publication] = await pair.source.query<{ oid: string }>("SELECT oid::text FROM pg_publication WHERE pubname = 'dba_pub'", [], CUT);
  const [target] = await pair.target.query<{ oid: string }>("SELECT oid::text FROM pg_namespace WHERE nspname = 'pgferry'");
  return [schema?.oid ?? '-', publication?.oid ?? '-', target?.oid ?? '-'];
}

/**
 * While the online migrations stream, what each made is there: on the source its slot,
 * publication, event triggers and a keyless table's FULL identity; on the target its applied
 * position and counts (so the lists below would see them left).
 */
async function madeWhileStreaming(
  pair: ServerPair,
  sourceBefore: readonly string[],
  targetBefore: readonly string[],
  managed: boolean,
): Promise<void> {
  await until('the streamed writes applied', async () => {
    const rows = await pair.target.query<{ n: number }>("SELECT count(*)::int AS n FROM parent WHERE v LIKE '%!'", [], CANCELED);
    return rows[0]!.n === 20 ? true : undefined;
  });
  const sourceStreaming = (await serverObjects(pair.source, DATABASES)).filter((l) => !sourceBefore.includes(l));
  const targetStreaming = (await serverObjects(pair.target, DATABASES)).filter((l) => !targetBefore.includes(l));
  for (const db of [CUT, WINDOW, CANCELED]) {
    const made = sourceStreaming.filter((l) => l.startsWith(`${db}: `) || l.endsWith(` in ${db}`));
    assert.deepEqual(
      ['slot ', 'publication ', 'event trigger ', 'identity keyless f'].map((kind) => made.some((l) => l.includes(kind))),
      [true, true, true, true],
      `${db} on the source while streaming: ${made.join('; ')}`,
    );
    assert.ok(targetStreaming.includes(`${db}: relation pgferry.apply_count`), `${db} on the target: ${targetStreaming.join('; ')}`);
  }
  // each stream's applied position: an origin, or where origins are refused (a managed target) a progress table's row
  const origins = targetStreaming.filter((l) => l.startsWith('origin ')).length;
  const tables = targetStreaming.filter((l) => l.endsWith(': relation pgferry.apply_progress')).length;
  assert.deepEqual([origins, tables], managed ? [0, 3] : [3, 0], targetStreaming.join('; '));
}

/** The target after every migration ended: what the source had and what was there before, nothing else. */
async function targetJudged(pair: ServerPair, sourceBefore: readonly string[], targetBefore: readonly string[]): Promise<string[]> {
  const targetAfter = await serverObjects(pair.target, DATABASES);
  // a publication, a database setting and a replica identity are the source's own; a schema named
  // like pgferry's control schema is not copied (copy/ leaves it out as pgferry's own)
  const copied = sourceBefore.filter(
    (l) => DATABASES.some((db) => l.startsWith(`${db}: `)) && !/^\S+: (publication |setting |identity |schema pgferry$)/.test(l),
  );
  const expectedTarget = [...targetBefore, ...copied, 'role dba_reader', `database ${WINDOW} comment the shop's orders`].sort();
  assert.deepEqual(
    targetAfter.filter((l) => !expectedTarget.includes(l)),
    [],
    'on the target, beside what the source has and what was there before',
  );
  assert.deepEqual(
    expectedTarget.filter((l) => !targetAfter.includes(l)),
    [],
    'missing on the target',
  );
  return targetAfter;
}

/**
 * The source after every migration ended: as before, but the fence each cut-over database keeps on
 * purpose, which `show` names with the statements that lift it; once they are run, as before.
 */
async function sourceJudged(pair: ServerPair, sourceBefore: readonly string[], cutOver: readonly MigrationSpec[]): Promise<void> {
  const sourceAfter = await serverObjects(pair.source, DATABASES);
  const kept = sourceAfter.filter((l) => !sourceBefore.includes(l));
  assert.deepEqual(
    sourceBefore.filter((l) => !sourceAfter.includes(l)),
    [],
    'taken from the source',
  );
  for (const spec of cutOver) {
    const status = await showMigration(spec.target, spec.migrationName);
    const fence = status?.databases[0]?.writerFence;
    assert.equal(fence?.kept, true, `${spec.migrationName}: the fence kept`);
    await pair.source.query(fence!.lift);
    await pair.source.query(fence!.liftInDatabase, [], spec.databases[0]);
  }
  // the fence, and only it, in each cut-over database: its setting, schema, function, passes
  // table and its trigger on each published table
  for (const spec of cutOver) {
    const db = spec.databases[0]!;
    const fence = fenceNamesOf(spec.migrationName, db);
    assert.deepEqual(
      kept.filter((l) => l.startsWith(`${db}: `)),
      [
        `function pgferry.${fence.function}()`,
        `relation pgferry.${fence.passes}`,
        `schema pgferry comment ${CONTROL_SCHEMA_MARK}`,
        'setting default_transaction_read_only=on',
        ...['child', 'keyless', 'parent'].map((t) => `trigger ${fence.trigger} on ${t} A`),
      ].map((l) => `${db}: ${l}`),
      db,
    );
  }
  assert.deepEqual(
    kept.filter((l) => !l.startsWith(`${CUT}: `) && !l.startsWith(`${WINDOW}: `)),
    [],
    'left on the source beside the fences',
  );
  assert.deepEqual(await serverObjects(pair.source, DATABASES), sourceBefore, 'the source once the fences are lifted');
}

/**
 * The DBA's own objects, made before any migration: an empty schema named like pgferry's control
 * schema on the source and on the target (the control catalog's home, the target user's as an
 * admin's would be), a publication, a logical slot, a role and a database's comment.
 */
async function dbaObjects(pair: ServerPair, target: ServerSpec): Promise<void> {
  for (const db of DATABASES) {
    await pair.source.query(`CREATE DATABASE ${db}`);
    await pair.source.query(SCHEMA, [], db);
  }
  await pair.source.query('CREATE SCHEMA pgferry', [], CANCELED);
  await pair.source.query('CREATE SCHEMA pgferry', [], OFFLINE);
  await pair.source.query('CREATE PUBLICATION dba_pub FOR TABLE parent', [], CUT);
  await pair.source.query("SELECT pg_create_logical_replication_slot('dba_slot', 'pgoutput')", [], CUT);
  await pair.source.query('CREATE ROLE dba_reader NOLOGIN');
  await pair.source.query(`COMMENT ON DATABASE ${WINDOW} IS 'the shop''s orders'`);
  await pair.target.query(`CREATE SCHEMA pgferry AUTHORIZATION ${target.user}`);
  await pair.target.query("SELECT pg_create_logical_replication_slot('dba_target_slot', 'pgoutput')");
  // a fallback window streams back from the target: Azure's admin has REPLICATION
  await pair.target.query(`ALTER ROLE ${target.user} REPLICATION`);
}

/** The DBA's slots and publication dropped, which the pair's leak check would count as left behind. */
async function dropDbaStreams(pair: ServerPair): Promise<void> {
  await pair.source.query("SELECT pg_drop_replication_slot('dba_slot')").catch(() => undefined);
  await pair.target.query("SELECT pg_drop_replication_slot('dba_target_slot')").catch(() => undefined);
  await pair.source.query('DROP PUBLICATION IF EXISTS dba_pub', [], CUT).catch(() => undefined);
}

async function scenario(pair: ServerPair, target: ServerSpec, managed: boolean): Promise<void> {
  await dbaObjects(pair, target);
  const store = new CatalogConnection(target);
  // the control catalog is the runner's, in the target's maintenance database, before any migration
  await store.install();
  const sourceBefore = await serverObjects(pair.source, DATABASES);
  const targetBefore = await serverObjects(pair.target, DATABASES);
  const oidsBefore = await dbaOids(pair);
  const specs = {
    offline: { ...pairSpec(pair, 'fp-offline', [OFFLINE], { mode: 'Offline', option: 'Migrate' }), target },
    cut: { ...pairSpec(pair, 'fp-cut', [CUT], EVERYTHING), target },
    window: { ...pairSpec(pair, 'fp-window', [WINDOW], { ...EVERYTHING, fallbackWindow: '1h' }), target },
    canceled: { ...pairSpec(pair, 'fp-canceled', [CANCELED], EVERYTHING), target },
  };
  const all = Object.values(specs);
  try {
    for (const spec of all) await startMigration(spec);
    const online = [specs.cut, specs.window, specs.canceled];
    for (const spec of online) {
      const ready = await waitForStatus(
        store,
        spec.migrationName,
        (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state),
      );
      assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${spec.migrationName}: ${ready.state}: ${ready.message}`);
    }
    // the source's writes streamed meanwhile, so the apply sessions have committed
    for (const db of [CUT, WINDOW, CANCELED]) await pair.source.query('UPDATE parent SET v = v || $1 WHERE id <= 20', ['!'], db);
    await madeWhileStreaming(pair, sourceBefore, targetBefore, managed);
    await requestCutover(specs.cut.target, specs.cut.migrationName);
    await requestCutover(specs.window.target, specs.window.migrationName);
    await cancelMigration(specs.canceled.target, specs.canceled.migrationName, { spec: specs.canceled });
    const ends: Record<string, MigrationStatus> = {};
    for (const spec of all) ends[spec.migrationName] = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state));
    assert.deepEqual(
      all.map((s) => `${s.migrationName} ${ends[s.migrationName]!.state}`),
      ['fp-offline Succeeded', 'fp-cut Succeeded', 'fp-window Succeeded', 'fp-canceled Canceled'],
      JSON.stringify(all.map((s) => ends[s.migrationName]!.message)),
    );
    await until('the window open', async () => ((await fallbackWindows(store, 'fp-window'))[0]?.state === 'Open' ? true : undefined));
    if (managed) {
      // the window passes: its end brought to now in the catalog, as the clock would bring it
      await pair.target.query("UPDATE pgferry.fallback_window SET ends_at = now() WHERE migration = 'fp-window'");
    } else {
      await closeFallbackWindow(specs.window.target, specs.window.migrationName);
    }
    await until('the window closed and its runner gone', async () => {
      const [w] = await fallbackWindows(store, 'fp-window');
      const s = await showMigration(specs.window.target, 'fp-window');
      return w?.state === 'Closed' && s?.runner?.alive === false ? true : undefined;
    });
    for (const spec of all) {
      await until(`${spec.migrationName}'s runner gone`, async () =>
        (await showMigration(spec.target, spec.migrationName))?.runner?.alive === false ? true : undefined,
      );
    }

    const targetAfter = await targetJudged(pair, sourceBefore, targetBefore);
    await sourceJudged(pair, sourceBefore, [specs.cut, specs.window]);
    assert.deepEqual(await dbaOids(pair), oidsBefore, "the DBA's schemas and publication under their OIDs");

    // show still reads every migration after the clean-up, and lists nothing still to give back
    for (const spec of all) {
      const status = await withPendingFootprint(spec, (await showMigration(spec.target, spec.migrationName))!);
      assert.deepEqual(
        [status.state, status.databases.map((d) => d.pendingFootprint ?? [])],
        [ends[spec.migrationName]!.state, [[]]],
        spec.migrationName,
      );
    }
    // a resume of a migration that ended is refused, and makes nothing again
    await assert.rejects(resumeMigration(specs.cut), (e: { code?: string }) => e.code === 'MIGRATION_FINISHED');
    await assert.rejects(resumeMigration(specs.window), (e: { code?: string }) => e.code === 'MIGRATION_FINISHED');
    assert.deepEqual(await serverObjects(pair.target, DATABASES), targetAfter, 'the target after the resumes');
  } finally {
    for (const spec of all) await endIfRunning(spec, Promise.resolve());
    await store.close();
    await dropDbaStreams(pair);
  }
}

describe('safety: nothing of pgferry is left behind once a migration is over, and nothing of a DBA is taken', function () {
  this.timeout(600_000);
  onBothTargets(
    {
      superuser:
        'superuser target: an offline migration, an online one cut over, one cut over with a window the user then closes, and one canceled leave no object of pgferry on either server, the DBA objects kept',
      managed: 'managed-like target (applied positions in a table, not origins), the window closed by its end passing: the same',
    },
    ({ pair, target, managed }) => scenario(pair, target, managed),
  );
});
