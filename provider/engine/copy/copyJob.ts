// One copy job: COPY ... TO STDOUT on the source streamed into COPY ... FROM STDIN on the target,
// with no intermediate file and back-pressure end to end, the protocol's frames relayed as they
// arrive (copyRelay.ts).
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { identList, literal } from '../connect/quote';
import { stopOnAbort } from '../connect/interrupt';
import { isRowSecurityRefusal } from '../connect/sqlstate';
import { errorMessage, PgferryError } from '../core/errors';
import { CopyFramesIn, CopyFramesOut } from './copyRelay';
import { type IncompressibleScope, sampleIncompressible, skipCompression, worthSampling } from './incompressible';
import type { CopyJob } from './plan';

export interface CopyJobResult {
  readonly rows: number;
  readonly bytes: number;
}

/** A job's outcome; `frozen`: its rows were loaded with COPY FREEZE (all-visible and all-frozen already). */
export interface CopyJobOutcome extends CopyJobResult {
  readonly frozen: boolean;
}

export type CopyFormat = 'text' | 'binary';

/**
 * Binary when every column has a built-in type: no text formatting and parsing on either server
 * (bytea travels as raw bytes instead of doubled hex). Built-in types have binary send/receive in
 * every supported version; extension, enum, domain and composite types go as text, and so do
 * OID-alias types (regclass ...), whose binary form is an OID that names something else on the target.
 */
export function copyFormat(job: CopyJob): CopyFormat {
  return job.table.binarySafe ? 'binary' : 'text';
}

/** Source-side COPY: the whole table, or one range of it. Only that table's own rows (no children). */
export function copyOutSql(job: CopyJob, format: CopyFormat = 'text'): string {
  const columns = identList(job.table.columns);
  const options = format === 'binary' ? ' WITH (FORMAT binary)' : '';
  if (!job.part) return `COPY ${job.table.sql} (${columns}) TO STDOUT${options}`;
  return `COPY (SELECT ${columns} FROM ONLY ${job.table.sql} WHERE ${job.part.where}) TO STDOUT${options}`;
}

export function copyInSql(job: CopyJob, freeze: boolean, format: CopyFormat = 'text'): string {
  const options = [format === 'binary' ? 'FORMAT binary' : null, freeze ? 'FREEZE' : null].filter(Boolean);
  return `COPY ${job.table.sql} (${identList(job.table.columns)}) FROM STDIN${options.length > 0 ? ` WITH (${options.join(', ')})` : ''}`;
}

export interface CopyJobArgs {
  readonly job: CopyJob;
  /** Inside the snapshot transaction, holding the table (copySnapshot.ts). */
  readonly source: pg.Client;
  readonly target: pg.Client;
  /** The source database's encoding. */
  readonly encoding: string;
  readonly signal?: AbortSignal;
  /** Both servers' major versions: a whole large table's incompressible columns skip compression (incompressible.ts). */
  readonly majors?: IncompressibleScope;
  readonly onBytes?: (bytes: number) => void;
  /**
   * Runs in the job's target transaction once its rows are in, before COMMIT (the done-record and
   * its fence check: doneRecords.ts); a throw rolls the rows back.
   */
  readonly beforeCommit?: (target: pg.Client, result: CopyJobResult) => Promise<void>;
}

/**
 * The client encoding of both ends of one COPY. The database's own, so text and binary values pass
 * as bytes with no conversion, unless the statement names something non-ASCII in a database that
 * is not UTF-8: pg sends statement text as UTF-8, which that client encoding would misread. Then
 * both ends speak UTF-8 and the servers convert (losslessly: every server encoding maps to it).
 */
function copyClientEncoding(job: CopyJob, databaseEncoding: string): string {
  const asciiNames = /^[\x20-\x7e]*$/.test(copyOutSql(job) + copyInSql(job, false));
  return asciiNames || databaseEncoding === 'SQL_ASCII' ? databaseEncoding : 'UTF8';
}

/**
 * Copies one job. The target side runs in its own transaction: an unsplit table is truncated first
 * so COPY can FREEZE (no later vacuum pass over freshly loaded pages); parts of a split table append.
 * The source session goes back to UTF-8 afterwards: it reads names next (it is shared, copySnapshot.ts).
 */
export async function runCopyJob(args: CopyJobArgs): Promise<CopyJobOutcome> {
  if (args.job.table.columns.length === 0) return copyEmptyColumnTable(args);
  const encoding = copyClientEncoding(args.job, args.encoding);
  const setEncoding = `SET client_encoding = ${literal(encoding)}`;
  await Promise.all([args.source.query(setEncoding), args.target.query(setEncoding)]);
  try {
    // a cancel stops the COPY on the target server, or gives up on a target that stopped answering
    return await stopOnAbort(args.target, args.signal, () => copyStream(args, copyFormat(args.job)));
  } finally {
    if (encoding !== 'UTF8') await args.source.query(`SET client_encoding = 'UTF8'`).catch(() => undefined);
  }
}

async function copyStream(args: CopyJobArgs, format: CopyFormat): Promise<CopyJobOutcome> {
  const { job, source, target } = args;
  await target.query('BEGIN');
  try {
    let freeze = false;
    let restoreStorage: string | undefined;
    if (!job.part) {
      // TRUNCATE makes FREEZE legal; a role that may not truncate still copies, without FREEZE.
      await target.query('SAVEPOINT before_truncate');
      try {
        await target.query(`TRUNCATE ONLY ${job.table.sql}`);
        freeze = true;
      } catch {
        await target.query('ROLLBACK TO SAVEPOINT before_truncate');
      }
      if (freeze && args.majors && worthSampling(job.table, args.majors)) {
        restoreStorage = await skipCompression(target, job.table, await sampleIncompressible(source, job.table));
      }
    }
    const out = new CopyFramesOut(copyOutSql(job, format));
    const into = new CopyFramesIn(copyInSql(job, freeze, format));
    source.query(out);
    target.query(into);
    let reported = 0;
    out.on('data', () => {
      args.onBytes?.(out.payloadBytes - reported);
      reported = out.payloadBytes;
    });
    await pipeline(out, into, { signal: args.signal });
    if (restoreStorage) await target.query(restoreStorage);
    const result = { rows: into.rowCount, bytes: out.payloadBytes };
    await args.beforeCommit?.(target, result);
    await target.query('COMMIT');
    return { ...result, frozen: freeze };
  } catch (error) {
    await target.query('ROLLBACK').catch(() => undefined);
    throw rowSecurityError(error, job);
  }
}

/** A copy refused by row-level security (rather than filtered: row_security = off) names its table and the grant. */
function rowSecurityError(error: unknown, job: CopyJob): unknown {
  if (!isRowSecurityRefusal(error)) return error;
  return new PgferryError('ROW_SECURITY_FILTERED', `copying ${job.table.display}: ${errorMessage(error)}`, {
    category: 'source',
    field: `table ${job.table.display}`,
    fix: 'give the source user BYPASSRLS (ALTER ROLE … BYPASSRLS on the source); validation (option ValidateAndMigrate) names every such table and the grant',
    cause: error,
  });
}

/** A table whose every column is generated (or that has none) still has rows: count them and insert as many. */
async function copyEmptyColumnTable(args: CopyJobArgs): Promise<CopyJobOutcome> {
  const where = args.job.part ? ` WHERE ${args.job.part.where}` : '';
  const { rows } = await args.source.query<{ n: string }>(`SELECT count(*)::int8 AS n FROM ONLY ${args.job.table.sql}${where}`);
  const n = Number(rows[0]!.n);
  const result = { rows: n, bytes: 0 };
  await args.target.query('BEGIN');
  try {
    if (n > 0) await args.target.query(`INSERT INTO ${args.job.table.sql} SELECT FROM generate_series(1, $1::int8)`, [n]);
    await args.beforeCommit?.(args.target, result);
    await args.target.query('COMMIT');
  } catch (error) {
    await args.target.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return { ...result, frozen: false };
}
