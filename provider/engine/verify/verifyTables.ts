// Verification: per table, row count and an order-independent content checksum computed on both
// servers in parallel; tables only on the target; large objects by count and content (with their
// OIDs); sequences by next value (verify/sequenceCheck.ts). A mismatch names the table or object.
// A table's rows are compared by column name: the source's columns, read from its catalog when the
// table is verified, hashed in the same order on both servers; a column on one side only is a
// mismatch naming it.
import { sideBySide } from '../util/sideBySide';
import type pg from 'pg';
import { listTables, type SourceTable } from '../catalog/introspect';
import { readUnsupportedObjects } from '../catalog/unsupported';
import { displayIdent, displayName, qualified } from '../connect/quote';
import { closeSessionPair, openSessionPair, serverMajor, withSession, type SessionPair } from '../connect/session';
import { pairedWithTarget, type SnapshotSessions } from '../connect/snapshotSessions';
import { safeEmit, type LeftOutObject, type ProgressListener, type VerificationReport, type VerificationTable } from '../core/model';
import type { MigrationSpec, StaleMaterializedViews } from '../input/migrationSpec';
import { CONTROL_SCHEMA, qualifiedKey, schemaObjectKey } from '../core/names';
import { runWorkers, WorkQueue } from '../util/workQueue';
import { stopOnAbort } from '../connect/interrupt';
import { checksum, keyedChecksumSql, rowsChecksumSql, tableCountSql } from './keyedChecksum';
import type { TargetColumn } from '../cdc/plan/types';
import { compileFilters, leftOutByName } from '../filter/filters';
import { readFilterPlan, UNFILTERED, type FilterPlan } from '../filter/plan';
import {
  configRowKeysSql,
  configRowsDigestSql,
  configTableDisplay,
  onTarget,
  readExtensionConfigTables,
  type ExtensionConfigTable,
} from '../catalog/extensionConfigTables';
import type { ConfigRowKeys } from '../control/extensionConfigRows';
import { readMaterializedViews, verifyMaterializedView, type MaterializedView } from './materializedViews';
import { compareSequences, describeDifference, readSequenceStates, targetBehindItsRows } from './sequenceCheck';
import { trace } from '../util/trace';

/**
 * Count and checksum of one table's own rows: the sum of the first 64 bits of md5(row text), as
 * numeric so it cannot overflow. Row text is stable because both sessions use the same
 * DateStyle, float digits, time zone and bytea output (STABLE_TEXT_SETTINGS). `columns`: the
 * columns hashed, by name and in this order (the source's: tableColumns); the whole row without.
 */
export const tableChecksumSql = (qualifiedTable: string, columns?: readonly string[]): string =>
  rowsChecksumSql(`ONLY ${qualifiedTable} AS t`, columns);

/**
 * A table's columns in their order (dropped ones aside): name, type as format_type prints it and
 * attnum, in the session's snapshot; `relation` (the OID its name resolves to now) null when there
 * is no such table.
 */
const TABLE_COLUMNS_SQL = `
SELECT r.oid::pg_catalog.text AS relation, c.names, c.types, c.attnums
  FROM (SELECT pg_catalog.to_regclass($1)::pg_catalog.oid AS oid) AS r
  LEFT JOIN LATERAL (
    SELECT pg_catalog.array_agg(a.attname::pg_catalog.text ORDER BY a.attnum) AS names,
           pg_catalog.array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) AS types,
           pg_catalog.array_agg(a.attnum::pg_catalog.int4 ORDER BY a.attnum) AS attnums
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped) AS c ON true`;

/** One column of a table as its server's catalog has it. */
export interface TableColumn {
  readonly name: string;
  /** As format_type prints it. */
  readonly type: string;
  readonly attnum: number;
}

/** The columns of a table (its quoted qualified name) and the OID its name resolves to; undefined without the table. */
export async function tableColumnsOf(
  client: pg.Client,
  qualifiedTable: string,
): Promise<{ relation: string; columns: TableColumn[] } | undefined> {
  const { rows } = await client.query<{
    relation: string | null;
    names: string[] | null;
    types: string[] | null;
    attnums: number[] | null;
  }>(TABLE_COLUMNS_SQL, [qualifiedTable]);
  const row = rows[0];
  if (!row?.relation) return undefined;
  const columns = (row.names ?? []).map((name, i) => ({ name, type: row.types![i]!, attnum: row.attnums![i]! }));
  return { relation: row.relation, columns };
}

/** The names of a table's columns in their order; undefined without the table. */
async function tableColumns(client: pg.Client, qualifiedTable: string): Promise<string[] | undefined> {
  return (await tableColumnsOf(client, qualifiedTable))?.columns.map((c) => c.name);
}

/** Pure: the columns only one of the two sides has, as a mismatch's reason (source's order first, then the target's); undefined when both have the same. */
export function columnDifference(source: readonly string[], target: readonly string[]): string | undefined {
  const onSource = new Set(source);
  const onTarget = new Set(target);
  const lines = [
    ...source.filter((c) => !onTarget.has(c)).map((c) => `column ${displayIdent(c)} is missing on the target`),
    ...target.filter((c) => !onSource.has(c)).map((c) => `column ${displayIdent(c)} is only on the target`),
  ];
  return lines.length === 0 ? undefined : lines.join('; ');
}

/**
 * The source's columns of a table, or why the two sides' columns differ (the rows are then not
 * read: a checksum over the source's columns would fail on the target). An error reading the
 * target is left to the checksum, which says it (a table missing there).
 */
async function columnsOf(table: SourceTable, p: SessionPair, kept: KeptOnTarget): Promise<{ columns?: string[]; reason?: string }> {
  const [source, target] = await Promise.all([tableColumns(p.source, table.sql), tableColumns(p.target, table.sql).catch(() => undefined)]);
  if (!source || !target) return {};
  // a column the target alone has (a DBA's) is kept, not compared: the schema check lists it
  const onSource = new Set(source);
  const compared = target.filter((c) => onSource.has(c) || !kept.has(schemaObjectKey('column', table.schema, table.name, c, null)));
  const reason = columnDifference(source, compared);
  return reason ? { reason } : { columns: source };
}

/**
 * The OID is hashed with the content: the copy keeps OIDs, which columns of type oid refer to. $1:
 * the objects made on one server alone and kept there (switchover/largeObjectDelta.ts), not compared.
 */
const LARGE_OBJECTS_CHECKSUM_SQL = `
SELECT count(*)::int8::text AS n,
       coalesce(sum(('x' || substr(md5(oid::text || ':' || md5(lo_get(oid))), 1, 16))::bit(64)::int8::numeric), 0)::text AS h
  FROM pg_largeobject_metadata WHERE oid <> ALL ($1::oid[])`;

/**
 * How the cutover reads a table again after it was verified in the background (verify/background.ts):
 * its row count only (no change reached it since), or its count and the rows of the keys changed since.
 */
export type TableRecheck =
  | { readonly kind: 'count' }
  | {
      readonly kind: 'keys';
      readonly keys: readonly string[];
      readonly keyColumns: readonly TargetColumn[];
      /**
       * Its rows at a pin taken just before the cutover (switchover/pinBeforePause.ts), which counted
       * it on both servers: then only the keys are read, no count, and these rows are reported.
       */
      readonly pinnedRows?: number;
    };

/** Whether an object only the target has was made there alone (not known to the migration): kept, never compared. */
interface KeptOnTarget {
  has(key: string): boolean;
}

/**
 * The objects made on the target alone, by their key (core/names.ts schemaObjectKey), from the
 * migration's known objects: an object only the target has and the record does not know. Without a
 * record (or an empty one) nothing is taken as kept.
 */
function keptOnTarget(known: ReadonlyMap<string, number | null> | undefined): KeptOnTarget {
  if (!known || known.size === 0) return { has: () => false };
  return { has: (key) => !known.has(key) };
}

export interface VerifyOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressListener;
  /** Per database: read the source with these sessions of the copy's snapshot (what the copy saw). */
  readonly sourceSessions?: ReadonlyMap<string, SnapshotSessions>;
  /** Databases to verify; all of the spec's by default. */
  readonly databases?: readonly string[];
  /** Online: tables whose changes were not streamed, so that a difference in them says why. */
  readonly notStreamed?: readonly { readonly database: string; readonly table: string; readonly reason: string }[];
  /** Online cutover: how a table verified in the background is read again; undefined reads it whole. */
  readonly recheck?: (database: string, table: SourceTable) => TableRecheck | undefined;
  /** Large objects made on one server alone and kept there by the cutover or fall-back (their OIDs): not compared. */
  readonly keptLargeObjects?: (database: string) => readonly string[];
  /**
   * The verification that ends a migration: materialized views compared too, refreshed on the
   * target where they differ, and a source view whose rows are not its query's handled as this
   * says (verify/materializedViews.ts). Left out, they are not compared.
   */
  readonly materializedViews?: StaleMaterializedViews;
  /**
   * Online, per database: the migration's known objects (control/knownObjects.ts). A table or a
   * column only the target has that they do not know was made there alone (a DBA's): kept, not a
   * mismatch (the schema check lists it). Undefined: every such table or column is a mismatch.
   */
  readonly known?: ReadonlyMap<string, ReadonlyMap<string, number | null>>;
  /** Per database: the source's filter plan, read already (a fall-back reads it once for all its steps); else read here. */
  readonly filters?: ReadonlyMap<string, FilterPlan>;
  /**
   * A fall-back's verification, whose source is the old source: it takes the sequences back never
   * lower than it handed out itself (switchover/sequenceSync.ts), and a crash restart brings its
   * sequences back ahead of their last use (nextval logs ahead). A sequence there past the new
   * server's hands out no value twice: no difference. One behind it is.
   */
  readonly fallBack?: boolean;
  /**
   * Per database: the keys of the extensions' configuration rows pgferry copied and the target's own
   * (control/extensionConfigRows.ts). Given, a server's own rows are kept and left out: the target's
   * that the source lacks and pgferry did not copy, and at a fall-back the old source's likewise and
   * the new server's kept at the cutover. Not given, every row the condition selects is compared, and
   * a fall-back compares none.
   */
  readonly configRows?: ReadonlyMap<string, ReadonlyMap<string, ConfigRowKeys>>;
}

const TARGET_SUPERUSER_SQL = `SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user`;

/** What a verification reads of the target database before it compares: whether its user is a superuser, and its tables. */
interface TargetFacts {
  readonly superuser: boolean;
  readonly tables: readonly SourceTable[];
}

/**
 * The target's facts in one session, read beside the source's list rather than after it (a table's
 * size takes its lock: one held by someone else on the target must not hold a canceled verification).
 */
function readTargetFacts(spec: MigrationSpec, database: string, signal: AbortSignal | undefined): Promise<TargetFacts> {
  return withSession(spec.target, { database, purpose: 'verify' }, (c) =>
    stopOnAbort(c, signal, async () => {
      const { rows } = await c.query<{ superuser: boolean }>(TARGET_SUPERUSER_SQL);
      return { superuser: rows[0]?.superuser === true, tables: await listTables(c, await serverMajor(c)) };
    }),
  );
}

/**
 * Source objects a non-superuser target user cannot create (skipUnsupportedObjects left them
 * behind, or the migration would have failed): named in the report, never compared. Tables are
 * compared whatever they depend on.
 */
async function leftOutObjects(
  spec: MigrationSpec,
  database: string,
  superuser: boolean,
  snapshot: SnapshotSessions | undefined,
  signal: AbortSignal | undefined,
): Promise<LeftOutObject[]> {
  const options = { database, purpose: 'verify' };
  if (superuser) return [];
  const objects = snapshot
    ? await snapshot.use(readUnsupportedObjects)
    : await withSession(spec.source, options, (c) => stopOnAbort(c, signal, () => readUnsupportedObjects(c)));
  return objects.filter((o) => !o.holdsData).map((o) => ({ database, object: o.description }));
}

interface DatabaseVerification {
  readonly tables: VerificationTable[];
  readonly leftOut: LeftOutObject[];
}

/** PGFERRY_TRACE marks each item verified (util/trace.ts). */
const traceItem = (item: Item): void => trace(() => `verify: item done ${item.kind} ${'table' in item ? item.table.name : ''}`);

type Item =
  | { kind: 'table'; table: SourceTable }
  | { kind: 'target-only'; table: SourceTable }
  | { kind: 'large-objects' }
  | { kind: 'sequences' }
  | { kind: 'materialized-view'; view: MaterializedView }
  | { kind: 'extension-config'; table: ExtensionConfigTable };

/**
 * Whether a table is not left out by its own name: a table made on the source since the filter plan
 * was read is left out all the same, and one on the target under such a name is someone else's,
 * whatever a look recorded of it. A partition is judged by its root, as the plan judges it.
 */
function withinNames(spec: MigrationSpec): (t: SourceTable) => boolean {
  const compiled = compileFilters(spec);
  return (t) => t.isPartition || !leftOutByName(compiled, t.schema, t.name);
}

/** Tables the target has and the source has not (pgferry's own progress table aside, and what the filters leave out by name). */
function tablesOnlyOnTarget(
  spec: MigrationSpec,
  sourceTables: readonly SourceTable[],
  onTarget: readonly SourceTable[],
  kept: KeptOnTarget,
): SourceTable[] {
  const key = (t: SourceTable) => `${t.schema}\0${t.name}`;
  const onSource = new Set(sourceTables.map(key));
  const named = withinNames(spec);
  return onTarget.filter(
    (t) =>
      t.schema !== CONTROL_SCHEMA && !onSource.has(key(t)) && !kept.has(schemaObjectKey('table', t.schema, null, t.name, null)) && named(t),
  );
}

/** The report's row for a database's sequences (one row for all of them). */
export const SEQUENCES_ROW = '(sequences)';

/**
 * How a source sequence past the target's is judged: a difference (`exact`); a source that moved on
 * since the copy's snapshot, the target's then judged against the rows it holds (`snapshot`); the
 * old source of a fall-back (`fall-back`, VerifyOptions.fallBack), no difference.
 */
type SourceAhead = 'exact' | 'snapshot' | 'fall-back';

/**
 * One row for every sequence of the database: the first difference names the sequence. A sequence
 * the target alone has and the migration did not make (a DBA's, an identity column of their own) is
 * kept, not a difference.
 */
async function verifySequences(
  database: string,
  p: SessionPair,
  ahead: SourceAhead,
  filter: FilterPlan = UNFILTERED,
  kept: KeptOnTarget = keptOnTarget(undefined),
): Promise<VerificationTable> {
  const [all, target] = await Promise.all([readSequenceStates(p.source), readSequenceStates(p.target)]);
  // A sequence the filters leave out is not on the target: it is not compared (nor missed).
  const source = all.filter((s) => !filter.leftOutNames.has(qualifiedKey(s.schema, s.name)));
  const lines: string[] = [];
  for (const d of compareSequences(source, target, ahead !== 'exact')) {
    if (d.kind === 'extra' && kept.has(schemaObjectKey('sequence', d.schema, null, d.name, null))) continue;
    if (d.kind === 'moved-on' && ahead === 'fall-back') continue;
    const line = d.kind === 'moved-on' ? await targetBehindItsRows(p.target, d.target) : describeDifference(d);
    if (line) lines.push(line);
  }
  const reason = lines.length === 0 ? undefined : `${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''}`;
  return { database, table: SEQUENCES_ROW, sourceRows: source.length, targetRows: target.length, matches: reason === undefined, reason };
}

/** A materialized view compared, refreshed on the target where it differed: said, with what it cost. */
async function materializedView(
  database: string,
  view: MaterializedView,
  p: SessionPair,
  options: VerifyOptions,
): Promise<VerificationTable> {
  const done = await verifyMaterializedView(database, view, p, options.materializedViews ?? 'stop');
  const name = displayName(view.schema, view.name);
  if (done.refreshed !== undefined)
    safeEmit(options.onProgress, {
      kind: 'info',
      database,
      message: `materialized view ${name} refreshed on the target in ${done.refreshed.toFixed(2)} s: its rows differed from the source's`,
    });
  if (done.kept) safeEmit(options.onProgress, { kind: 'warning', database, message: `materialized view ${done.kept}` });
  return done.row;
}

/** What a database's verification reads of the source first: its tables, the filter plan, the views and the extensions' configuration tables. */
async function readSourceForVerify(c: pg.Client, spec: MigrationSpec, database: string, options: VerifyOptions) {
  const filter = options.filters?.get(database) ?? (await readFilterPlan(c, spec));
  const views = options.materializedViews ? await readMaterializedViews(c, filter) : [];
  // a fall-back compares the configuration rows only when it carried them back, by the record of what pgferry copied
  const configTables = options.fallBack && !options.configRows ? [] : await readExtensionConfigTables(c);
  return { tables: await listTables(c, await serverMajor(c), filter.leftOut), filter, views, configTables };
}

/** The source's list and the target's facts, read side by side, each in a session of its own. */
function readBothSides(spec: MigrationSpec, database: string, options: VerifyOptions) {
  const snapshot = options.sourceSessions?.get(database);
  const readSource = (c: pg.Client) => readSourceForVerify(c, spec, database, options);
  return sideBySide([
    snapshot
      ? snapshot.use(readSource)
      : withSession(spec.source, { database, purpose: 'verify' }, (c) => stopOnAbort(c, options.signal, () => readSource(c))),
    readTargetFacts(spec, database, options.signal),
  ]);
}

async function verifyDatabase(spec: MigrationSpec, database: string, options: VerifyOptions): Promise<DatabaseVerification> {
  const snapshot = options.sourceSessions?.get(database);
  const targetOptions = { database, purpose: 'verify' };
  const pairs = snapshot
    ? pairedWithTarget(snapshot, spec.target, targetOptions)
    : { open: () => openSessionPair(spec.source, targetOptions, spec.target, targetOptions), close: closeSessionPair };
  const [read, targetFacts] = await readBothSides(spec, database, options);
  const { tables: sourceTables, filter, views, configTables } = read;
  // What the filters leave behind, or move without rows, is not compared (pgferry's own tables on
  // the source side, the reverse stream's position on an old source among them, neither); a schema-only table is
  // on the target all the same, so target-only tables are judged against every source table.
  const tables = sourceTables.filter(withinNames(spec)).filter((t) => filter.rowsMove(t.oid));
  const leftOut = await leftOutObjects(spec, database, targetFacts.superuser, snapshot, options.signal);
  const kept = keptOnTarget(options.known?.get(database));
  const ahead: SourceAhead = options.fallBack ? 'fall-back' : snapshot ? 'snapshot' : 'exact';
  const targetOnly = tablesOnlyOnTarget(spec, sourceTables, targetFacts.tables, kept);

  const queue = new WorkQueue<Item>();
  queue.push(
    ...tables.map((table) => ({ kind: 'table' as const, table })),
    ...targetOnly.map((table) => ({ kind: 'target-only' as const, table })),
    // large objects a filtered migration leaves behind (FilterPlan.largeObjectsMove) are not compared
    ...(filter.largeObjectsMove ? [{ kind: 'large-objects' as const }] : []),
    { kind: 'sequences' },
    ...views.map((view) => ({ kind: 'materialized-view' as const, view })),
    ...configTables.map((table) => ({ kind: 'extension-config' as const, table })),
  );
  queue.close();
  const results: VerificationTable[] = [];
  const record = (result: VerificationTable): void => {
    results.push(result);
    const outcome = result.reason ?? `${result.sourceRows} rows match`;
    safeEmit(options.onProgress, { kind: 'info', database, message: `verified ${result.table}: ${outcome}` });
  };
  await runWorkers<Item, SessionPair>({
    queue,
    concurrency: Math.min(spec.tableJobs, snapshot?.size ?? spec.tableJobs, tables.length + 2),
    signal: options.signal,
    ...pairs,
    // a checksum of a large table reads it whole: a cancel stops it on both servers
    work: (item, p) => stopOnAbort([p.source, p.target], options.signal, () => verifyItem(item, p)).then(() => traceItem(item)),
  });
  return { tables: results.sort((a, b) => a.table.localeCompare(b.table)), leftOut };

  async function verifyItem(item: Item, p: SessionPair): Promise<void> {
    if (item.kind === 'sequences') return record(await verifySequences(database, p, ahead, filter, kept));
    if (item.kind === 'materialized-view') return record(await materializedView(database, item.view, p, options));
    if (item.kind === 'extension-config') {
      // an extension the filters leave behind is not on the target: its rows stay with it
      if (await onTarget(p.target, item.table)) record(await configRows(database, item.table, p, options));
      return;
    }
    if (item.kind === 'target-only') {
      const { rows } = await checksum(p.target, tableChecksumSql(item.table.sql));
      const reason = 'the table is only on the target';
      return record({ database, table: item.table.display, sourceRows: 0, targetRows: rows, matches: false, reason });
    }
    const recheck = item.kind === 'table' ? options.recheck?.(database, item.table) : undefined;
    const shape = item.kind === 'table' ? await columnsOf(item.table, p, kept) : {};
    if (item.kind === 'table' && recheck && !shape.reason)
      return record(await recheckTable(database, item.table, recheck, p, shape.columns));
    const name = item.kind === 'table' ? item.table.display : '(large objects)';
    // columns that differ: the rows are only counted, the columns named
    const sql =
      item.kind !== 'table'
        ? LARGE_OBJECTS_CHECKSUM_SQL
        : shape.reason
          ? tableCountSql(item.table.sql)
          : tableChecksumSql(item.table.sql, shape.columns);
    const params = item.kind === 'large-objects' ? [options.keptLargeObjects?.(database) ?? []] : undefined;
    const [src, dst] = await Promise.all([
      checksum(p.source, sql, params),
      checksum(p.target, sql, params).catch((error: Error) => ({ rows: -1, hash: '', error: error.message })),
    ]);
    let reason: string | undefined;
    if ('error' in dst) reason = `cannot read the table on the target: ${dst.error}`;
    else if (shape.reason) reason = shape.reason;
    else if (src.rows !== dst.rows) reason = `row count differs: source ${src.rows}, target ${dst.rows}`;
    else if (src.hash !== dst.hash) reason = 'content checksum differs (same row count, different values)';
    if (item.kind === 'large-objects' && src.rows === 0 && dst.rows <= 0 && reason?.startsWith('cannot')) reason = undefined;
    const unstreamed = options.notStreamed?.find((t) => t.database === database && t.table === name);
    if (reason && unstreamed) reason = `its changes are not streamed: ${unstreamed.reason} (${reason})`;
    const ofTable =
      item.kind === 'table'
        ? { relation: { schema: item.table.schema, name: item.table.name }, ...(options.recheck ? { method: 'full' as const } : {}) }
        : {};
    record({ database, table: name, sourceRows: src.rows, targetRows: dst.rows, matches: reason === undefined, reason, ...ofTable });
  }
}

/**
 * The rows of each server's own, left out of the comparison (VerifyOptions.configRows): on the
 * target, a row the source lacks and pgferry did not copy; at a fall-back, the old source's likewise
 * and the new server's kept at the cutover; on both, a key both servers have that is recorded kept
 * (a row pgferry copied and someone edited where it was written since, reported when it was kept);
 * on the source, a key recorded kept that the target lacks (a row pgferry copied that someone
 * deleted there since, kept deleted). None without a record.
 */
async function ownConfigRows(table: ExtensionConfigTable, p: SessionPair, options: VerifyOptions, database: string) {
  const recorded = options.configRows?.get(database);
  if (!recorded) return { source: [], target: [], edited: [], deleted: [] };
  const keys = recorded.get(qualified(table.schema, table.name)) ?? {
    copied: new Map<string, string | null>(),
    kept: new Map<string, string | null>(),
  };
  const read = async (c: pg.Client) => new Set((await c.query<{ key: string }>(configRowKeysSql(table))).rows.map((r) => r.key));
  const [onSource, onTarget] = await Promise.all([read(p.source), read(p.target)]);
  const own = (mine: ReadonlySet<string>, other: ReadonlySet<string>) => [...mine].filter((k) => !other.has(k) && !keys.copied.has(k));
  const edited = [...onTarget].filter((k) => keys.kept.has(k) && onSource.has(k));
  // a row pgferry copied that a DBA deleted on the target since, kept deleted: the source's is left out
  const deleted = [...onSource].filter((k) => keys.kept.has(k) && !onTarget.has(k));
  if (!options.fallBack) return { source: [], target: own(onTarget, onSource), edited, deleted };
  return {
    source: own(onSource, onTarget),
    target: [...onTarget].filter((k) => keys.kept.has(k) && !onSource.has(k)),
    edited,
    deleted: [],
  };
}

/** The rows an extension's condition selects in its configuration table, compared by count and digest, each server's own left out. */
async function configRows(
  database: string,
  table: ExtensionConfigTable,
  p: SessionPair,
  options: VerifyOptions,
): Promise<VerificationTable> {
  const sql = configRowsDigestSql(table);
  const own = await ownConfigRows(table, p, options, database);
  const read = (c: pg.Client, leftOut: readonly string[]) => c.query<{ n: string; digest: string }>(sql, [leftOut]).then((r) => r.rows[0]!);
  const [src, dst] = await Promise.all([
    read(p.source, [...own.source, ...own.edited, ...own.deleted]),
    read(p.target, [...own.target, ...own.edited]).catch((error: Error) => ({ n: '-1', digest: '', error: error.message })),
  ]);
  const [sourceRows, targetRows] = [Number(src.n), Number(dst.n)];
  const display = configTableDisplay(table);
  let reason: string | undefined;
  if ('error' in dst) reason = `cannot read the table on the target: ${dst.error}`;
  else if (sourceRows !== targetRows)
    reason = `rows its extension's condition selects differ in count: source ${sourceRows}, target ${targetRows}`;
  else if (src.digest !== dst.digest) reason = "content checksum of the rows its extension's condition selects differs";
  for (const [side, keys] of [
    ['source', own.source],
    ['target', own.target],
  ] as const) {
    if (keys.length === 0) continue;
    const message = `${display}: ${keys.length} row(s) the ${side} alone has of its own (pgferry did not copy them), kept and left out of the comparison`;
    safeEmit(options.onProgress, { kind: 'info', database, message });
  }
  if (own.edited.length > 0) {
    const message = `${display}: ${own.edited.length} row(s) pgferry copied and someone edited since where they were written (kept there as edited), left out of the comparison`;
    safeEmit(options.onProgress, { kind: 'info', database, message });
  }
  if (own.deleted.length > 0) {
    const message = `${display}: ${own.deleted.length} row(s) pgferry copied and someone deleted since on the target (kept deleted there), left out of the comparison`;
    safeEmit(options.onProgress, { kind: 'info', database, message });
  }
  return { database, table: display, sourceRows, targetRows, matches: reason === undefined, reason };
}

/** A table read again at cutover: its count on both sides, and the rows of the keys changed since its pinned verification. */
async function recheckTable(
  database: string,
  table: SourceTable,
  recheck: TableRecheck,
  p: SessionPair,
  columns: readonly string[] | undefined,
): Promise<VerificationTable> {
  const pinned = recheck.kind === 'keys' ? recheck.pinnedRows : undefined;
  const count = tableCountSql(table.sql);
  const [src, dst] =
    pinned === undefined ? await Promise.all([checksum(p.source, count), checksum(p.target, count)]) : [{ rows: pinned }, { rows: pinned }];
  let reason = src.rows !== dst.rows ? `row count differs: source ${src.rows}, target ${dst.rows}` : undefined;
  if (recheck.kind === 'keys' && recheck.keys.length > 0 && reason === undefined) {
    const sql = keyedChecksumSql(table.sql, recheck.keyColumns, columns);
    const keys = `[${recheck.keys.join(',')}]`;
    const [a, b] = await Promise.all([checksum(p.source, sql, [keys]), checksum(p.target, sql, [keys])]);
    if (a.rows !== b.rows)
      reason = `rows changed while streaming differ: source has ${a.rows} of the ${recheck.keys.length} key(s) changed since its verification, target ${b.rows}`;
    else if (a.hash !== b.hash) reason = `content checksum of the ${recheck.keys.length} key(s) changed since its verification differs`;
  }
  return {
    database,
    table: table.display,
    relation: { schema: table.schema, name: table.name },
    sourceRows: src.rows,
    targetRows: dst.rows,
    matches: reason === undefined,
    reason,
    method: recheck.kind,
    ...(recheck.kind === 'keys' ? { keysChecked: recheck.keys.length } : {}),
  };
}

/**
 * The sequences of one database compared exactly on fresh sessions (the cutover's second look);
 * `known`: the migration's known objects there, as VerifyOptions.known.
 */
export async function verifySequencesOf(
  spec: MigrationSpec,
  database: string,
  known?: ReadonlyMap<string, number | null>,
): Promise<VerificationTable> {
  const options = { database, purpose: 'verify' };
  const pair = await openSessionPair(spec.source, options, spec.target, options);
  try {
    return await verifySequences(database, pair, 'exact', await readFilterPlan(pair.source, spec), keptOnTarget(known));
  } finally {
    await closeSessionPair(pair);
  }
}

/** Verifies every database of the spec; `ok` only when every table matches. */
export async function verifyDatabases(spec: MigrationSpec, options: VerifyOptions = {}): Promise<VerificationReport> {
  const tables: VerificationTable[] = [];
  const leftOut: LeftOutObject[] = [];
  for (const database of options.databases ?? spec.databases) {
    const verified = await verifyDatabase(spec, database, options);
    tables.push(...verified.tables);
    leftOut.push(...verified.leftOut);
  }
  return verificationReport(tables, leftOut);
}

/** A report from its rows: `ok` only when every row matches; the first mismatch as one line. */
export function verificationReport(tables: readonly VerificationTable[], leftOut: readonly LeftOutObject[]): VerificationReport {
  const mismatch = tables.find((t) => !t.matches);
  return {
    ok: mismatch === undefined,
    tables,
    firstMismatch: mismatch ? `database ${displayIdent(mismatch.database)} table ${mismatch.table}: ${mismatch.reason}` : undefined,
    ...(leftOut.length ? { leftOut } : {}),
  };
}
