// Streamed tables dropped or renamed on the source while changes stream, followed on the target
// (tableDropsAndRenames: follow; the table watch finds them, cdc/prepare/tableWatch.ts). A rename is
// followed by the apply itself at the relation message that carries the new name (same OID), before
// any row under it (cdc/apply/shapeFollowSession.ts); a table renamed and not written again sends none,
// so here, once the apply has passed the source position read after the watch saw it (every row
// under the old name applied), the target table is renamed if the apply has not done it. A drop is
// followed the same way: once the apply has passed it (no change of the table is still to apply),
// the target table is dropped, with its verification records (its publication membership went
// with it on the source), and on a target without replica role its foreign keys set aside are
// marked dealt with, so the release does not add them back. Never a table the source still has: a
// table gone from the scan whose OID the source still has (renamed out of the filters) is reported
// as with `report`. A statement the target refuses (a lock held past lock_timeout, a view on the
// table the source dropped with it, not dropped yet) is tried again at the next tick, said once.
import type pg from 'pg';
import { appliedUpTo, type OnlineStream } from '../cdc/apply/onlineStream';
import { parseLsn } from '../cdc/decode/lsn';
import type { DroppedOrRenamed } from '../cdc/prepare/tableWatch';
import { ident, qualified } from '../connect/quote';
import { withSession } from '../connect/session';
import { markForeignKeyRestored, pendingForeignKeys } from '../control/foreignKeys';
import { recordEvent } from '../control/store';
import { forgetTableVerifications } from '../control/tableVerification';
import { errorMessage } from '../core/errors';
import type { MigrationRun } from '../run/migrationRun';

/** A drop or rename seen, with the source position read after it was seen (undefined: not read yet, a server away). */
interface Pending {
  readonly change: DroppedOrRenamed;
  seenAt?: bigint;
  told: boolean;
}

/** The follow sessions wait this long for the table's lock, then give it back to the apply. */
const LOCK_TIMEOUT = '2s';

export class TableDropsFollow {
  private pending: Pending[] = [];

  constructor(
    private readonly run: MigrationRun,
    private readonly streams: readonly OnlineStream[],
  ) {}

  /**
   * Takes the changes the watch found, and follows those the apply has passed; what fails (a server
   * away, a lock) stays to be tried at the next tick.
   */
  async follow(found: readonly DroppedOrRenamed[]): Promise<void> {
    for (const change of found) this.pending.push({ change, told: false });
    const left: Pending[] = [];
    for (const p of this.pending) {
      if (this.run.signal.aborted) return;
      const stream = this.streams.find((s) => s.database === p.change.database);
      try {
        const database = p.change.database;
        p.seenAt ??= await withSession(this.run.spec.source, { database, purpose: 'table watch' }, currentPosition);
        if (!stream || appliedUpTo(stream.applier.stats()) < p.seenAt) {
          left.push(p);
          continue;
        }
        await this.followOne(p.change);
      } catch (error) {
        left.push(p);
        if (p.told) continue;
        p.told = true;
        await this.run.warn(
          `${describe(p.change)}: following it on the target failed, tried again: ${errorMessage(error)}`,
          p.change.database,
        );
      }
    }
    this.pending = left;
  }

  private async followOne(change: DroppedOrRenamed): Promise<void> {
    const { run } = this;
    const { database, from, to } = change;
    if (!to) {
      const stillThere = await withSession(run.spec.source, { database, purpose: 'table watch' }, (c) => hasRelation(c, change.oid));
      if (stillThere) {
        await run.warn(
          `streamed table ${from.display} left the migration's filters on the source while streaming (renamed out of them): its rows stay on the target, and the cutover's schema check stops on it until you drop it there too`,
          database,
        );
        return;
      }
    }
    const settings = { lock_timeout: LOCK_TIMEOUT };
    const statements = to ? renameStatements(from, to) : [`DROP TABLE IF EXISTS ${qualified(from.schema, from.name)}`];
    await withSession(run.spec.target, { database, purpose: 'table follow', writable: true, settings }, async (client) => {
      for (const statement of statements) await client.query(statement);
    });
    // the old name's verification counted from a pin under that name: the table is read whole at the cutover
    await forgetTableVerifications(run.store, run.spec.migrationName, database, [from.display]);
    if (!to) {
      const keys = (await pendingForeignKeys(run.store, run.spec.migrationName, database)).filter(
        (k) => k.schema === from.schema && k.table === from.name,
      );
      for (const key of keys)
        await markForeignKeyRestored(run.store, run.spec.migrationName, database, key, { outcome: 'dropped on the source' });
    }
    await recordEvent(
      run.store,
      run.spec.migrationName,
      'info',
      `${describe(change)}, followed on the target (ran: ${statements.join('; ')})`,
      database,
    );
  }
}

function describe(change: DroppedOrRenamed): string {
  return change.to
    ? `streamed table ${change.from.display} renamed to ${change.to.display} on the source`
    : `streamed table ${change.from.display} dropped on the source`;
}

/** IF EXISTS: the apply may have renamed it already, at the relation message of a later change. */
function renameStatements(from: { schema: string; name: string }, to: { schema: string; name: string }): string[] {
  const statements: string[] = [];
  if (from.schema !== to.schema)
    statements.push(`ALTER TABLE IF EXISTS ${qualified(from.schema, from.name)} SET SCHEMA ${ident(to.schema)}`);
  if (from.name !== to.name) statements.push(`ALTER TABLE IF EXISTS ${qualified(to.schema, from.name)} RENAME TO ${ident(to.name)}`);
  return statements;
}

async function hasRelation(client: pg.Client, oid: string): Promise<boolean> {
  const { rows } = await client.query('SELECT 1 FROM pg_catalog.pg_class WHERE oid = $1::oid', [oid]);
  return rows.length > 0;
}

async function currentPosition(client: pg.Client): Promise<bigint> {
  const { rows } = await client.query<{ lsn: string }>('SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn');
  return parseLsn(rows[0]!.lsn);
}
