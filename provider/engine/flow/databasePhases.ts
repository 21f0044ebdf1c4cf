// One database's copy, phase by phase: the target database, then schema, data, indexes, post-data,
// sequences and large objects as of a snapshot, then ANALYZE and the database's properties. The
// offline flow runs them around its copy snapshot, the online flow around its slot's; both read
// the source database's properties once (readSourceProperties) and hand them to each phase.
import type { SnapshotSessions } from '../connect/snapshotSessions';
import type pg from 'pg';
import {
  databaseProperties,
  listLargeObjects,
  listSequences,
  listTableIndexes,
  listTables,
  type DatabaseProperties,
} from '../catalog/introspect';
import { stopOnAbort } from '../connect/interrupt';
import { closeSession, openSession, withSession } from '../connect/session';
import { copyTables } from '../copy/copyTables';
import { builtObjectOids } from '../copy/indexes';
import { copyLargeObjects, largeObjectsAmong } from '../copy/largeObjects';
import { configRowsMessages, syncExtensionConfigRows } from '../switchover/extensionConfigSync';
import { forgetMovedLargeObjects, movedLargeObjects, recordMovedLargeObjects } from '../control/movedLargeObjects';
import { configRowsLedger } from '../control/extensionConfigRows';
import { readSequenceValues, writeSequenceValues } from '../switchover/sequenceSync';
import { runWorkers, WorkQueue } from '../util/workQueue';
import { PgferryError } from '../core/errors';
import { holdpoint } from '../util/failpoints';
import type { MigrationRun } from '../run/migrationRun';
import { applyDatabaseProperties, createTargetDatabase } from '../schema/database';
import { leaveBehindUnsupported } from './leaveBehindUnsupported';
import { endCopyRound, freshCopyWork, resumedCopyWork, schemaSignature, type CopyWork } from './copyWork';
import { markCopyPostData } from '../control/copyItems';
import { dropLedger } from '../copy/doneRecords';
import { analyzedTables, notAllVisible, vacuumStatement } from '../copy/vacuum';
import { dumpFile, dumpSchema, listToc, restoreSection } from '../schema/dumpRestore';
import { filteredDumpIds } from '../schema/filteredToc';
import { leftOutRelations, readFilterPlan, type FilterPlan } from '../filter/plan';
import { qualifiedKey } from '../core/names';
import { refuseBrokenDependencies } from './filterGuard';
import { recordRestoredObjects } from './schemaFollow';
import { get, setTables, setTargetDatabase, updateDatabase, updateTable } from '../control/store';
import { dropControlSchemaIfMade } from '../footprint/controlSchema';
import { displayIdent } from '../connect/quote';

/** The source database's properties (encoding, locale, owner, settings...), which every phase reads. */
export async function readSourceProperties(run: MigrationRun, database: string): Promise<DatabaseProperties> {
  const props = await withSession(run.spec.source, { purpose: 'catalog' }, (c) => databaseProperties(c, database));
  if (!props) {
    throw new PgferryError('SOURCE_DATABASE_MISSING', `database ${displayIdent(database)} does not exist on the source`, {
      category: 'validation',
      field: 'databases',
      fix: 'remove it from databases (DBsToMigrate) or create it on the source',
    });
  }
  return props;
}

/** The steps of one database, in order: progress prints them as `step n/N`. */
const DATABASE_STEPS = [
  'dump schema',
  'restore pre-data',
  'copy data and build indexes',
  'restore post-data',
  'sequences',
  'large objects',
  'extension configuration',
  'analyze',
] as const;
type DatabaseStep = (typeof DATABASE_STEPS)[number];

async function timed<T>(run: MigrationRun, database: string, step: DatabaseStep, fn: () => Promise<T>): Promise<T> {
  const started = Date.now();
  run.onProgress({ kind: 'step', step, index: DATABASE_STEPS.indexOf(step) + 1, total: DATABASE_STEPS.length, database });
  const result = await fn();
  run.onProgress({ kind: 'step-done', step, seconds: (Date.now() - started) / 1000, database });
  return result;
}

/** Creates the target database (overwrite rules): online before its slot, offline beside its snapshot's first reads. */
export async function prepareTargetDatabase(run: MigrationRun, database: string, props: DatabaseProperties): Promise<void> {
  const name = run.spec.migrationName;
  const owned = (await get(run.store, name))?.databases.find((d) => d.database === database)?.targetDatabase;
  const { warnings } = await withSession(run.spec.target, { purpose: 'create database', writable: true }, (target) =>
    createTargetDatabase(target, props, {
      overwrite: run.spec.overwriteDbsInTarget,
      targetMajor: run.targetMajor,
      owned,
      record: (action, oid) => setTargetDatabase(run.store, name, database, action, oid),
    }),
  );
  for (const w of warnings) await run.warn(w, database);
}

/** The schema dumped in the snapshot, and what of it is left behind (the target cannot have it) or filtered out. */
async function dumpPreData(run: MigrationRun, database: string, snapshot: SnapshotSessions, filter: FilterPlan) {
  const { spec, signal } = run;
  const tools = await run.tools();
  const file = dumpFile(run.workDir, database);
  await timed(run, database, 'dump schema', () =>
    dumpSchema({
      tools,
      source: spec.source,
      database,
      snapshot: snapshot.name,
      lockTimeoutSeconds: spec.lockTimeoutSeconds,
      file,
      signal,
      excludeRelations: leftOutRelations(filter),
    }),
  );
  const toc = await listToc(tools, file);
  const filtered = filteredDumpIds(toc, filter);
  const leftBehind = await leaveBehindUnsupported(run, database, snapshot, file, toc);
  const restored = toc.filter((e) => !leftBehind?.dumpIds.has(e.dumpId) && !filtered.has(e.dumpId));
  return { file, toc, restored, leftBehind };
}

type DumpedSchema = Awaited<ReturnType<typeof dumpPreData>>;

/** The pre-data schema restored from the dump, minus what is left behind or filtered out. */
async function restorePreData(run: MigrationRun, database: string, schema: DumpedSchema): Promise<void> {
  const { spec, signal } = run;
  const tools = await run.tools();
  const pre = await timed(run, database, 'restore pre-data', () =>
    restoreSection({
      tools,
      target: spec.target,
      database,
      file: schema.file,
      section: 'pre-data',
      ...(schema.restored.length < schema.toc.length ? { only: schema.restored } : {}),
      noOwner: !spec.migrateRoles,
      signal,
    }),
  );
  for (const w of pre.warnings) await run.warn(w, database);
}

/** What the copy moves, read inside the snapshot, so it describes exactly what is copied. */
async function readCopyCatalog(
  run: MigrationRun,
  snapshot: SnapshotSessions,
  leftBehind: { objectOids: ReadonlySet<string> } | undefined,
  filter: FilterPlan,
) {
  return snapshot.use(async (source) => {
    const [allTables, allIndexes, allSequences, largeObjects] = [
      await listTables(source, run.sourceMajor, filter.leftOut),
      await listTableIndexes(source, filter.leftOut),
      await listSequences(source),
      await listLargeObjects(source),
    ];
    // Filters: rows of left-out and schema-only tables stay behind, and so do the sequences that go
    // with left-out tables or schemas. The copy builds indexes only for tables it copies with their
    // keys: a schema-only table's come with the post-data restore, a data-only table has none.
    const tables = allTables.filter((t) => filter.rowsMove(t.oid));
    const indexes = allIndexes.filter((i) => filter.rowsMove(i.tableOid) && !filter.dataOnly.has(i.tableOid));
    const sequences = allSequences.filter((s) => !filter.leftOutNames.has(qualifiedKey(s.schema, s.name)));
    const sequenceValues = await readSequenceValues(source, sequences);
    // An index left behind (it calls a function the target cannot have) is not built either.
    const buildable = indexes.filter(
      (i) => !leftBehind?.objectOids.has(i.indexOid) && !leftBehind?.objectOids.has(i.constraint?.oid ?? ''),
    );
    // With filters, large objects move only when a table whose rows move can hold their OIDs.
    return {
      tables,
      indexes: buildable,
      sequenceValues,
      largeObjects: filter.largeObjectsMove ? largeObjects : [],
      largeObjectsLeftBehind: filter.largeObjectsMove ? 0 : largeObjects.length,
    };
  });
}

type CopyCatalog = Awaited<ReturnType<typeof readCopyCatalog>>;

/** The tables' rows and their indexes, with per-table progress in the control catalog. */
async function copyData(
  run: MigrationRun,
  database: string,
  props: DatabaseProperties,
  snapshot: SnapshotSessions,
  catalog: CopyCatalog,
  work: CopyWork,
): Promise<void> {
  const { spec, store } = run;
  const name = spec.migrationName;
  // a test holds here to act while the copy has not begun, with the schema already on the target
  await holdpoint(`copy-data:${database}`);
  await setTables(
    store,
    name,
    database,
    catalog.tables.map((t) => ({ table: t, parts: 1, sizeBytes: t.bytes })),
  );
  let rows = 0;
  let bytes = 0;
  await timed(run, database, 'copy data and build indexes', () =>
    copyTables({
      spec,
      database,
      sessions: snapshot,
      tables: catalog.tables,
      indexes: catalog.indexes,
      items: work.items,
      done: work.done,
      builtIndexes: work.builtIndexes,
      ledger: work.ledger,
      encoding: props.encoding,
      targetMajor: run.targetMajor,
      sourceMajor: run.sourceMajor,
      signal: run.signal,
      onProgress: run.onProgress,
      onTableStart: (table, parts) => updateTable(store, name, database, table, { state: 'Loading', startedAt: true, parts }),
      onTableDone: async (table, tableRows, tableBytes) => {
        rows += tableRows;
        bytes += tableBytes;
        await updateTable(store, name, database, table, { state: 'Completed', rows: tableRows, bytes: tableBytes, endedAt: true });
        await updateDatabase(store, name, database, { rowsCopied: rows, bytesCopied: bytes });
      },
    }).finally(() => endCopyRound(run, database, snapshot).catch(() => undefined)),
  );
}

/**
 * The copy's work: resumed inside when asked and exact (flow/copyWork.ts), else planned afresh into
 * a target database with the pre-data schema restored (re-created first when a resume inside was
 * asked and is not possible).
 */
async function copyWorkFor(
  run: MigrationRun,
  database: string,
  props: DatabaseProperties,
  snapshot: SnapshotSessions,
  schema: DumpedSchema,
  catalog: CopyCatalog,
  resumeInside: boolean,
  targetReady: Promise<void> | undefined,
): Promise<CopyWork> {
  const signature = schemaSignature(schema.toc);
  await targetReady;
  if (resumeInside) {
    const resumed = await resumedCopyWork(run, database, snapshot, catalog.tables, signature);
    if (resumed) {
      run.onProgress({
        kind: 'info',
        message: `database ${displayIdent(database)}: the copy resumes inside: ${resumed.done.size} of ${resumed.items.length} items were done`,
      });
      return resumed;
    }
    await run.warn('the schema changed on the source since the copy began: the database is copied again from the start', database);
    await prepareTargetDatabase(run, database, props);
  }
  await restorePreData(run, database, schema);
  return freshCopyWork(run, database, snapshot, catalog.tables, signature);
}

/**
 * A resumed copy: the objects an earlier copy recorded as moved that the source unlinked before
 * this copy's snapshot and the target lacks (its content never reached it, or the database was made
 * again) are on neither server, so they are no longer pgferry's: forgotten, so that an object made
 * on the target under one of those OIDs before the cutover is kept as someone else's. Those the
 * target holds stay recorded: pgferry made them there, and the cutover unlinks them.
 */
async function forgetLargeObjectsGone(run: MigrationRun, database: string, copied: readonly string[]): Promise<void> {
  const name = run.spec.migrationName;
  const inSnapshot = new Set(copied);
  const recorded = [...(await movedLargeObjects(run.store, name, database))].filter((oid) => !inSnapshot.has(oid));
  if (recorded.length === 0) return;
  const onTarget = await withSession(run.spec.target, { database, purpose: 'large objects' }, (target) =>
    largeObjectsAmong(target, recorded),
  );
  await forgetMovedLargeObjects(
    run.store,
    name,
    database,
    recorded.filter((oid) => !onTarget.has(oid)),
  );
}

/**
 * Schema, data, indexes, post-data, sequences and large objects as of the snapshot its sessions
 * read. `resumeInside`: the target database holds an earlier copy of this migration's
 * (mayResumeInside); only what it lacks is copied, when that is exact. `targetReady`: the target
 * database still being made (prepareTargetDatabase): the source's reads and the schema's dump go
 * on beside it, and nothing is written into that database before it settles.
 */
export async function copyDatabaseAt(
  run: MigrationRun,
  database: string,
  props: DatabaseProperties,
  snapshot: SnapshotSessions,
  options: { readonly resumeInside?: boolean; readonly targetReady?: Promise<void> } = {},
): Promise<void> {
  const { spec, signal } = run;
  const filter = await snapshot.use((source) => readFilterPlan(source, spec));
  await refuseBrokenDependencies(database, snapshot, filter);
  const schema = await dumpPreData(run, database, snapshot, filter);
  const catalog = await readCopyCatalog(run, snapshot, schema.leftBehind, filter);
  if (catalog.largeObjectsLeftBehind > 0) {
    await run.warn(
      `${catalog.largeObjectsLeftBehind} large object(s) left behind: no table the filters move has a column of type oid (or lo) to hold them`,
      database,
    );
  }
  // the large objects the copy moves are pgferry's on the target, recorded before the restore makes
  // them: the cutover unlinks one the source unlinked since, never one made on the target alone
  await recordMovedLargeObjects(run.store, spec.migrationName, database, catalog.largeObjects);
  const work = await copyWorkFor(run, database, props, snapshot, schema, catalog, options.resumeInside ?? false, options.targetReady);
  await copyData(run, database, props, snapshot, catalog, work);
  await forgetLargeObjectsGone(run, database, catalog.largeObjects);
  // From here a resume copies the database again: post-data is not made of restartable items yet.
  await markCopyPostData(run.store, spec.migrationName, database);
  // its schema too when pgferry made it and nothing else is left there (the applied position may be)
  await withSession(spec.target, { database, purpose: 'copy ledger', writable: true }, async (client) => {
    await dropLedger(client);
    await dropControlSchemaIfMade(client);
  });

  // The rest of post-data (foreign keys, triggers, rules, policies, partitioned indexes,
  // materialized view refreshes ...) minus what the index pool already built. ENABLE ROW LEVEL
  // SECURITY waits until pgferry's own work is done (schema/rowSecurity.ts): with it, a target
  // user the policies apply to would read and write fewer rows, or be refused.
  const built = builtObjectOids(catalog.indexes);
  const tools = await run.tools();
  const rest = schema.restored.filter((e) => !built.has(e.objectOid) && e.desc !== 'ROW SECURITY');
  const post = await timed(run, database, 'restore post-data', () =>
    restoreSection({
      tools,
      target: spec.target,
      database,
      file: schema.file,
      section: 'post-data',
      only: rest,
      jobs: spec.indexJobs,
      noOwner: !spec.migrateRoles,
      signal,
    }),
  );
  for (const w of post.warnings) await run.warn(w, database);
  await recordRestoredObjects(run, database, (fn) => snapshot.use(fn));

  await timed(run, database, 'sequences', () =>
    withSession(spec.target, { database, purpose: 'sequences', writable: true }, (target) =>
      writeSequenceValues(target, catalog.sequenceValues),
    ),
  );
  await timed(run, database, 'large objects', () =>
    copyLargeObjects({ spec, database, sessions: snapshot, oids: catalog.largeObjects, signal }),
  );
  await timed(run, database, 'extension configuration', async () => {
    const copied = await snapshot.use((source) =>
      withSession(spec.target, { database, purpose: 'extension configuration', writable: true }, (target) =>
        syncExtensionConfigRows(source, target, 'forward', configRowsLedger(run.store, spec.migrationName, database)),
      ),
    );
    for (const c of copied) for (const said of configRowsMessages('copy', c)) run.onProgress({ ...said, database });
  });
}

/** VACUUM (ANALYZE) of what the copy has not analyzed, and the database-level properties; the last step of a database's copy. */
export async function finishDatabase(run: MigrationRun, database: string, props: DatabaseProperties): Promise<void> {
  const { spec } = run;
  await timed(run, database, 'analyze', async () => {
    // The copy's index pool vacuumed and analyzed the tables it could (copy/copyTables.ts, TableWorkOrder);
    // the rest, and any whose VACUUM ran too early, get their VACUUM (ANALYZE) here, now that no
    // copy transaction is open.
    const tables = await withSession(spec.target, { database, purpose: 'catalog' }, async (c) => {
      // a test ends this session here: a step that is not retried, whose loss ends the migration
      await holdpoint(`analyze:${database}`);
      const [analyzed, again] = [await analyzedTables(c), await notAllVisible(c)];
      return (await listTables(c, run.targetMajor)).filter((t) => !analyzed.has(t.oid) || again.has(t.oid));
    });
    const queue = new WorkQueue<string>();
    queue.push(...tables.map((t) => t.sql));
    queue.close();
    await runWorkers<string, pg.Client>({
      queue,
      concurrency: spec.tableJobs,
      signal: run.signal,
      open: () => openSession(spec.target, { database, purpose: 'analyze', writable: true }),
      close: closeSession,
      // a VACUUM of a large table runs for minutes: a cancel stops it on the server
      work: (table, c) => stopOnAbort(c, run.signal, async () => void (await c.query(vacuumStatement(table, true)))),
    });
  });
  const warnings = await withSession(spec.target, { purpose: 'database properties', writable: true }, async (target) => {
    // a test ends this session here: its loss stops the run, a refused statement is a warning
    await holdpoint(`properties:${database}`);
    return applyDatabaseProperties(target, props);
  });
  for (const w of warnings) await run.warn(w, database);
}
