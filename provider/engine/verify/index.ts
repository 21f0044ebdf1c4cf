// Verification: per table, row count and an order-independent content checksum computed on both
// servers in parallel; large objects by count and content. A mismatch names the table.
import type pg from 'pg';
import { listTables, type SourceTable } from '../catalog';
import { readUnsupportedObjects } from '../catalog/unsupported';
import { closeSessionPair, openSessionPair, serverMajor, withSession, type SessionPair } from '../connect/session';
import { pairedWithTarget, type SnapshotSessions } from '../copy/copySnapshot';
import { safeEmit, type LeftOutObject, type ProgressListener, type VerificationReport, type VerificationTable } from '../model';
import type { MigrationSpec } from '../input/migrationSpec';
import { drain, WorkQueue } from '../workQueue';

/**
 * Count and checksum of one table's own rows: the sum of the first 64 bits of md5(row text), as
 * numeric so it cannot overflow. Row text is stable because both sessions use the same
 * DateStyle, float digits, time zone and bytea output (STABLE_TEXT_SETTINGS).
 */
export const tableChecksumSql = (qualifiedTable: string): string =>
  `SELECT count(*)::int8::text AS n,
          coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::int8::numeric), 0)::text AS h
     FROM ONLY ${qualifiedTable} AS t`;

export const LARGE_OBJECTS_CHECKSUM_SQL = `
SELECT count(*)::int8::text AS n,
       coalesce(sum(('x' || substr(md5(lo_get(oid)), 1, 16))::bit(64)::int8::numeric), 0)::text AS h
  FROM pg_largeobject_metadata`;

interface Checksum {
  readonly rows: number;
  readonly hash: string;
}

async function checksum(client: pg.Client, sql: string): Promise<Checksum> {
  const { rows } = await client.query<{ n: string; h: string }>(sql);
  return { rows: Number(rows[0]!.n), hash: rows[0]!.h };
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
}

const TARGET_SUPERUSER_SQL = `SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user`;

/**
 * Source objects a non-superuser target user cannot create (skipUnsupportedObjects left them
 * behind, or the migration would have failed): named in the report, never compared. Tables are
 * compared whatever they depend on.
 */
async function leftOutObjects(spec: MigrationSpec, database: string, snapshot: SnapshotSessions | undefined): Promise<LeftOutObject[]> {
  const options = { database, purpose: 'verify' };
  const superuser = await withSession(spec.target, options, async (c) => {
    const { rows } = await c.query<{ superuser: boolean }>(TARGET_SUPERUSER_SQL);
    return rows[0]?.superuser === true;
  });
  if (superuser) return [];
  const objects = snapshot ? await snapshot.use(readUnsupportedObjects) : await withSession(spec.source, options, readUnsupportedObjects);
  return objects.filter((o) => !o.holdsData).map((o) => ({ database, object: o.description }));
}

interface DatabaseVerification {
  readonly tables: VerificationTable[];
  readonly leftOut: LeftOutObject[];
}

async function verifyDatabase(spec: MigrationSpec, database: string, options: VerifyOptions): Promise<DatabaseVerification> {
  const snapshot = options.sourceSessions?.get(database);
  const targetOptions = { database, purpose: 'verify' };
  const pairs = snapshot
    ? pairedWithTarget(snapshot, spec.target, targetOptions)
    : { open: () => openSessionPair(spec.source, targetOptions, spec.target, targetOptions), close: closeSessionPair };
  const tables = snapshot
    ? await snapshot.use(async (c) => listTables(c, await serverMajor(c)))
    : await withSession(spec.source, targetOptions, async (c) => listTables(c, await serverMajor(c)));
  const leftOut = await leftOutObjects(spec, database, snapshot);

  type Item = { kind: 'table'; table: SourceTable } | { kind: 'large-objects' };
  const queue = new WorkQueue<Item>();
  queue.push(...tables.map((table) => ({ kind: 'table' as const, table })), { kind: 'large-objects' });
  queue.close();
  const results: VerificationTable[] = [];
  await drain<Item, SessionPair>({
    queue,
    concurrency: Math.min(spec.tableJobs, snapshot?.size ?? spec.tableJobs, tables.length + 1),
    signal: options.signal,
    ...pairs,
    work: async (item, p) => {
      const name = item.kind === 'table' ? item.table.display : '(large objects)';
      const sql = item.kind === 'table' ? tableChecksumSql(item.table.sql) : LARGE_OBJECTS_CHECKSUM_SQL;
      const [src, dst] = await Promise.all([
        checksum(p.source, sql),
        checksum(p.target, sql).catch((error: Error) => ({ rows: -1, hash: '', error: error.message })),
      ]);
      let reason: string | undefined;
      if ('error' in dst) reason = `cannot read the table on the target: ${dst.error}`;
      else if (src.rows !== dst.rows) reason = `row count differs: source ${src.rows}, target ${dst.rows}`;
      else if (src.hash !== dst.hash) reason = 'content checksum differs (same row count, different values)';
      if (item.kind === 'large-objects' && src.rows === 0 && dst.rows <= 0 && reason?.startsWith('cannot')) reason = undefined;
      const unstreamed = options.notStreamed?.find((t) => t.database === database && t.table === name);
      if (reason && unstreamed) reason = `its changes are not streamed: ${unstreamed.reason} (${reason})`;
      results.push({ database, table: name, sourceRows: src.rows, targetRows: dst.rows, matches: reason === undefined, reason });
      safeEmit(options.onProgress, { kind: 'info', database, message: `verified ${name}: ${reason ?? `${src.rows} rows match`}` });
    },
  });
  return { tables: results.sort((a, b) => a.table.localeCompare(b.table)), leftOut };
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
  const mismatch = tables.find((t) => !t.matches);
  return {
    ok: mismatch === undefined,
    tables,
    firstMismatch: mismatch ? `database "${mismatch.database}" table ${mismatch.table}: ${mismatch.reason}` : undefined,
    ...(leftOut.length ? { leftOut } : {}),
  };
}
