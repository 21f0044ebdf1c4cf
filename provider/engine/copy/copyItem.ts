// One copy item: COPY ... TO STDOUT on the source streamed into COPY ... FROM STDIN on the target,
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
import type { CopyItem } from './plan';
import { inTransaction } from '../connect/transaction';

export interface CopyItemResult {
  readonly rows: number;
  readonly bytes: number;
}

/** An item's outcome; `frozen`: its rows were loaded with COPY FREEZE (all-visible and all-frozen already). */
export interface CopyItemOutcome extends CopyItemResult {
  readonly frozen: boolean;
}

export type CopyFormat = 'text' | 'binary';

/**
 * Binary when every column has a built-in type: no text formatting and parsing on either server
 * (bytea travels as raw bytes instead of doubled hex). Extension, enum, domain and composite types
 * go as text, and so do OID-alias types (regclass ...), whose binary form is an OID that names
 * something else on the target, and the few built-in types with no binary form at all (aclitem).
 */
export function copyFormat(item: CopyItem): CopyFormat {
  return item.table.binarySafe ? 'binary' : 'text';
}

/** Source-side COPY: the whole table, or one range of it. Only that table's own rows (no children). */
export function copyOutSql(item: CopyItem, format: CopyFormat = 'text'): string {
  const columns = identList(item.table.columns);
  const options = format === 'binary' ? ' WITH (FORMAT binary)' : '';
  if (!item.part) return `COPY ${item.table.sql} (${columns}) TO STDOUT${options}`;
  return `COPY (SELECT ${columns} FROM ONLY ${item.table.sql} WHERE ${item.part.where}) TO STDOUT${options}`;
}

export function copyInSql(item: CopyItem, freeze: boolean, format: CopyFormat = 'text'): string {
  const options = [format === 'binary' ? 'FORMAT binary' : null, freeze ? 'FREEZE' : null].filter(Boolean);
  return `COPY ${item.table.sql} (${identList(item.table.columns)}) FROM STDIN${options.length > 0 ? ` WITH (${options.join(', ')})` : ''}`;
}

export interface CopyJobArgs {
  readonly item: CopyItem;
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
   * Runs in the item's target transaction once its rows are in, before COMMIT (the done-record and
   * its fence check: doneRecords.ts); a throw rolls the rows back.
   */
  readonly beforeCommit?: (target: pg.Client, result: CopyItemResult) => Promise<void>;
}

/**
 * The client encoding of both ends of one COPY. The database's own, so text and binary values pass
 * as bytes with no conversion, unless the statement names something non-ASCII in a database that
 * is not UTF-8: pg sends statement text as UTF-8, which that client encoding would misread. Then
 * both ends speak UTF-8 and the servers convert (losslessly: every server encoding maps to it).
 */
function copyClientEncoding(item: CopyItem, databaseEncoding: string): string {
  const asciiNames = /^[\x20-\x7e]*$/.test(copyOutSql(item) + copyInSql(item, false));
  return asciiNames || databaseEncoding === 'SQL_ASCII' ? databaseEncoding : 'UTF8';
}

/**
 * Copies one item. The target side runs in its own transaction: an unsplit table is truncated first
 * so COPY can FREEZE (no later vacuum pass over freshly loaded pages); parts of a split table append.
 * The source session goes back to UTF-8 afterwards: it reads names next (it is shared, copySnapshot.ts).
 */
export async function runCopyItem(args: CopyJobArgs): Promise<CopyItemOutcome> {
  if (args.item.table.columns.length === 0) return copyEmptyColumnTable(args);
  const encoding = copyClientEncoding(args.item, args.encoding);
  const setEncoding = `SET client_encoding = ${literal(encoding)}`;
  await Promise.all([args.source.query(setEncoding), args.target.query(setEncoding)]);
  try {
    // a cancel stops the COPY on the target server, or gives up on a target that stopped answering
    return await stopOnAbort(args.target, args.signal, () => copyStream(args, copyFormat(args.item)));
  } finally {
    if (encoding !== 'UTF8') await args.source.query(`SET client_encoding = 'UTF8'`).catch(() => undefined);
  }
}

async function copyStream(args: CopyJobArgs, format: CopyFormat): Promise<CopyItemOutcome> {
  const { item, source, target } = args;
  try {
    return await inTransaction(target, async () => {
      let freeze = false;
      let restoreStorage: string | undefined;
      if (!item.part) {
        // TRUNCATE makes FREEZE legal; a role that may not truncate still copies, without FREEZE.
        await target.query('SAVEPOINT before_truncate');
        try {
          await target.query(`TRUNCATE ONLY ${item.table.sql}`);
          freeze = true;
        } catch {
          await target.query('ROLLBACK TO SAVEPOINT before_truncate');
        }
        if (freeze && args.majors && worthSampling(item.table, args.majors)) {
          restoreStorage = await skipCompression(target, item.table, await sampleIncompressible(source, item.table));
        }
      }
      const out = new CopyFramesOut(copyOutSql(item, format));
      const into = new CopyFramesIn(copyInSql(item, freeze, format));
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
      return { ...result, frozen: freeze };
    });
  } catch (error) {
    throw rowSecurityError(error, item);
  }
}

/** A copy refused by row-level security (rather than filtered: row_security = off) names its table and the grant. */
function rowSecurityError(error: unknown, item: CopyItem): unknown {
  if (!isRowSecurityRefusal(error)) return error;
  return new PgferryError('ROW_SECURITY_FILTERED', `copying ${item.table.display}: ${errorMessage(error)}`, {
    category: 'source',
    field: `table ${item.table.display}`,
    fix: 'give the source user BYPASSRLS (ALTER ROLE … BYPASSRLS on the source); validation (option ValidateAndMigrate) names every such table and the grant',
    cause: error,
  });
}

/** A table whose every column is generated (or that has none) still has rows: count them and insert as many. */
async function copyEmptyColumnTable(args: CopyJobArgs): Promise<CopyItemOutcome> {
  const where = args.item.part ? ` WHERE ${args.item.part.where}` : '';
  const { rows } = await args.source.query<{ n: string }>(`SELECT count(*)::int8 AS n FROM ONLY ${args.item.table.sql}${where}`);
  const n = Number(rows[0]!.n);
  const result = { rows: n, bytes: 0 };
  await inTransaction(args.target, async () => {
    if (n > 0) await args.target.query(`INSERT INTO ${args.item.table.sql} SELECT FROM generate_series(1, $1::int8)`, [n]);
    await args.beforeCommit?.(args.target, result);
  });
  return { ...result, frozen: false };
}
