// Streamed tables dropped or renamed on the source while changes stream, followed on the target
// (tableDropsAndRenames: follow; the table watch finds them, cdc/prepare/tableWatch.ts). A rename is
// followed by the apply itself at the relation message that carries the new name (same OID), before
// any row under it (cdc/apply/renameFollower.ts); a table renamed and not written again sends none,
// so here, once the apply has passed the source position read after the watch saw it (every row
// under the old name applied), the target table is renamed if the apply has not done it. A drop is
// followed the same way: once the apply has passed it (no change of the table is still to apply),
// the target table is dropped, with its verification records (its publication membership went
// with it on the source), and on a target without replica role its foreign keys set aside are
// marked dealt with, so the release does not add them back. Never a table the source still has: a
// table gone from the scan whose OID the source still has (renamed out of the filters) is reported
// as with `report`. Nor a child of the dropped table the migration did not make or the source keeps
// (a DBA's partition, one the source detached first): detached and kept (flow/tableChildren.ts). A statement the target refuses (a lock held past lock_timeout, a view on the
// table the source dropped with it, not dropped yet) is tried again at the next tick, said once.
import type pg from 'pg';
import { appliedUpTo, type OnlineStream } from '../cdc/apply/onlineStream';
import { parseLsn } from '../core/lsn';
import type { DroppedOrRenamed } from '../cdc/prepare/tableWatch';
import { ident, qualified } from '../connect/quote';
import { withSession } from '../connect/session';
import { markForeignKeyRestored, pendingForeignKeys } from '../footprint/targetForeignKeys';
import { recordEvent } from '../control/store';
import { forgetTableVerifications } from '../control/tableVerification';
import { errorMessage } from '../core/errors';
import type { MigrationRun } from '../run/migrationRun';
import type { StopCause } from '../core/model';
import { requestApplyRetry } from '../control/migrationRequests';
import { knownWithIdentities, type KnownOfDatabase } from '../control/knownObjects';
import { tableResyncs } from '../control/tableResyncs';
import {
  dependentIsOurs,
  describeDependent,
  dropWithTable,
  partitionDependents,
  tableParts,
  targetDependents,
  type Dependent,
} from './targetDependents';
import { fenceNamesOf } from '../core/names';
import { inTransaction } from '../connect/transaction';
import { childrenFate, describeKept, relationsNamed, tableChildren, tableKey, type KeptChild } from './tableChildren';

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
    /** What a database's stream is stopped on (flow/streamStops.ts). */
    private readonly stopOf: (database: string) => StopCause | undefined = () => undefined,
  ) {}

  /**
   * A table renamed on the source and written under its new name before the apply saw it under
   * the old one (a stream started after the copy knows it by neither): the apply stops at that first
   * change, the table missing under the new name, and can never pass the position the rename waits
   * for. Every change under the old name came before it (the rename held the table's lock until
   * it committed), and the apply has applied all of them: the rename is followed now, and the
   * stream tried again at once.
   */
  private stoppedOnRename(p: Pending): boolean {
    const to = p.change.to;
    const stop = this.stopOf(p.change.database);
    if (!to || stop?.code !== 'CDC_TABLE_MISSING') return false;
    return stop.table === qualified(to.schema, to.name);
  }

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
        const unblocks = this.stoppedOnRename(p);
        if (!unblocks && (!stream || appliedUpTo(stream.applier.stats()) < p.seenAt)) {
          left.push(p);
          continue;
        }
        await this.followOne(p.change);
        if (unblocks) await requestApplyRetry(this.run.store, this.run.spec.migrationName);
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

  /**
   * Whether a table of this name created on the source while streaming waits for another table to
   * leave its name on the target: dropped (`DROP TABLE t; CREATE TABLE t`) or renamed away (the swap
   * of an online schema change tool, `ALTER TABLE t RENAME TO t_old; ALTER TABLE t_new RENAME TO t`).
   * Its follow (flow/tableResync.ts) makes it on the target only once the old one is dropped or
   * renamed there, so the copy never lands in the old table, nor the old table's rename carries the
   * new one's rows away.
   */
  waitsForName(database: string, table: { readonly schema: string; readonly name: string }): boolean {
    return this.pending.some(
      (p) => p.change.database === database && p.change.from.schema === table.schema && p.change.from.name === table.name,
    );
  }

  /**
   * Followed by identity, not by name: the source's table of this OID is gone, and the target's
   * table under its name may be another one the source made since under the same name and whose
   * follow made it on the target already (a drop seen again by a resumed runner, from the copy's
   * record): that one is kept. Its follow made it only after the old one was dropped (waitsForName).
   */
  private async replacedAlready(change: DroppedOrRenamed): Promise<boolean> {
    const { run } = this;
    const { database, from } = change;
    const now = await withSession(run.spec.source, { database, purpose: 'table watch' }, async (c) => {
      const { rows } = await c.query<{ oid: string | null }>('SELECT pg_catalog.to_regclass($1)::pg_catalog.oid::text AS oid', [
        qualified(from.schema, from.name),
      ]);
      return rows[0]?.oid ?? undefined;
    });
    if (now === undefined || now === change.oid) return false;
    const requests = await tableResyncs(run.store, run.spec.migrationName);
    return requests.some(
      (r) => r.database === database && r.schema === from.schema && r.name === from.name && r.reason === 'created' && r.createdOnTarget,
    );
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
    if (!to && (await this.replacedAlready(change))) {
      await recordEvent(
        run.store,
        run.spec.migrationName,
        'info',
        `${describe(change)}: the target's table of that name is the one the source made again under it since, followed as such: kept`,
        database,
      );
      return;
    }
    const settings = { lock_timeout: LOCK_TIMEOUT };
    const onSource = (tables: readonly { schema: string; name: string }[]) =>
      withSession(run.spec.source, { database, purpose: 'table watch' }, (c) => relationsNamed(c, tables));
    const { statements, kept } = await withSession(
      run.spec.target,
      { database, purpose: 'table follow', writable: true, settings },
      async (client) => {
        if (to) {
          // renamed there already by the apply (when it left its name to another table, the old
          // name may now be that table's, which this rename would carry away)
          const { rows } = await client.query('SELECT 1 FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass($1)', [
            qualified(to.schema, to.name),
          ]);
          if (rows.length > 0) return { statements: ['nothing, renamed there already'], kept: [] };
          const renames = renameStatements(from, to);
          for (const statement of renames) await client.query(statement);
          return { statements: renames, kept: [] };
        }
        return dropInOrder(run, database, client, from, onSource);
      },
    );
    if (kept.length > 0)
      await run.warn(
        `${describe(change)}: ${kept.map(describeKept).join(', ')} hung under it on the target: detached from it first, kept with ${kept.length === 1 ? 'its' : 'their'} rows`,
        database,
      );
    // the old name's verification counted from a pin under that name: the table is read whole at the cutover
    await forgetTableVerifications(run.store, run.spec.migrationName, database, [from]);
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

/**
 * Drops a table the source dropped, in the order PostgreSQL's dependencies need, in one
 * transaction: what depends on it and is the migration's (a function returning its rows, a view
 * over it, another table's foreign key to it: the source dropped them too, or could not have dropped
 * the table) first, then the table. Something made on the target alone that depends on it is
 * never dropped: the table is kept, and the warning names what holds it. Its children (partitions,
 * inheritance children) that are not the migration's to drop are detached first and kept
 * (flow/tableChildren.ts): `onSource` tells which tables the source still has.
 */
async function dropInOrder(
  run: MigrationRun,
  database: string,
  client: pg.Client,
  from: { schema: string; name: string },
  onSource: (tables: readonly { schema: string; name: string }[]) => Promise<Set<string>>,
): Promise<{ statements: string[]; kept: readonly KeptChild[] }> {
  const table = qualified(from.schema, from.name);
  const { rows } = await client.query<{ oid: string; type: string }>(
    `SELECT c.oid::text AS oid, c.reltype::text AS type FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1)`,
    [table],
  );
  const found = rows[0];
  if (!found) return { statements: [`DROP TABLE IF EXISTS ${table}`], kept: [] };
  const dependents = await targetDependents(client, [
    { catalog: 'pg_catalog.pg_class', oid: found.oid },
    { catalog: 'pg_catalog.pg_type', oid: found.type },
  ]);
  // a trigger or policy of the table's own leaves with it: only one pgferry did not make holds it
  const parts = await tableParts(client, found.oid, fenceNamesOf(run.spec.migrationName, database));
  let knownOfDatabase: KnownOfDatabase | undefined;
  const knownNow = async () => (knownOfDatabase ??= await knownWithIdentities(run.store, run.spec.migrationName, database));
  const { known, knownIdentities } =
    dependents.length + parts.length > 0
      ? await knownNow()
      : { known: new Map<string, number | null>(), knownIdentities: new Map<string, string>() };
  const drops = dependents.map(dropWithTable);
  const others = [
    ...dependents.filter((d, i) => !dependentIsOurs(d, known, knownIdentities) || drops[i] === undefined),
    ...parts.filter((d) => !dependentIsOurs(d, known, knownIdentities)),
  ];
  if (others.length > 0) throw heldBy(others);
  return inTransaction(client, async () => {
    // without ONLY, the lock takes every table below it too: no child is made or attached under it
    // between this look at its children and the drop
    await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    const children = await tableChildren(client, found.oid);
    let kept: readonly KeptChild[] = [];
    if (children.length > 0) {
      const mine = await knownNow();
      const fate = childrenFate(
        from,
        children,
        mine.known,
        await onSource(children.filter((c) => c.partition && mine.known.has(tableKey(c)))),
      );
      kept = fate.kept;
      // a partition that goes takes its own triggers and policies with it, as the table does its
      // own, and what depends on it is judged as what depends on the table: the migration's is
      // dropped first, and one pgferry did not make holds the drop back the same way
      const held: Dependent[] = [];
      for (const child of fate.going) {
        const childParts = await tableParts(client, child.oid, fenceNamesOf(run.spec.migrationName, database));
        held.push(...childParts.filter((d) => !dependentIsOurs(d, mine.known, mine.knownIdentities)));
      }
      const childDependents = await partitionDependents(
        client,
        fate.going.map((c) => c.oid),
      );
      for (const d of childDependents) {
        const drop = dropWithTable(d);
        if (drop === undefined || !dependentIsOurs(d, mine.known, mine.knownIdentities)) held.push(d);
        else drops.push(drop);
      }
      if (held.length > 0) throw heldBy(held);
    }
    // a view over the table and one of its partitions is listed under both: dropped once
    const statements = [
      ...kept.map((k) => k.statement),
      ...new Set(drops.filter((x): x is string => x !== undefined)),
      `DROP TABLE IF EXISTS ${table}`,
    ];
    for (const statement of statements) await client.query(statement);
    return { statements, kept };
  });
}

/** The refusal of a drop that would take what pgferry did not make with the table: nothing is dropped. */
function heldBy(others: readonly Dependent[]): Error {
  return new Error(
    `${others.map(describeDependent).join(', ')} depend${others.length === 1 ? 's' : ''} on it on the target, which pgferry did not make: kept, with the table; drop or change ${others.length === 1 ? 'it' : 'them'} on the target yourself, and pgferry drops the table`,
  );
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
