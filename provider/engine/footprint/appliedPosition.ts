// The applied position on the target: a replication origin, or a row of the progress table where
// origins are not permitted (cdc/apply/positionCommit.ts), committed with the changes it covers.
// Named from the migration's instance like the slot; dropped at release, and before a copy starts
// again (a stream over a fresh copy must not start from an old origin's position).
import type pg from 'pg';
import { literal } from '../connect/quote';
import { withSession } from '../connect/session';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../connect/sqlstate';
import { streamNamesOf } from '../core/names';
import type { ServerSpec } from '../input/migrationSpec';
import { COUNT_TABLE_SQL, LANE_TABLE_SQL, PROGRESS_TABLE_SQL, type PositionKey } from '../cdc/apply/positionCommit';
import type { ReversibleChange, StreamContext } from './change';
import { unlessDatabaseGone } from './change';
import { dropControlSchemaIfMade } from './controlSchema';

/**
 * The origin and the progress row of one stream's applied position on `server` that are still
 * there, as statements that drop them.
 */
async function pendingPosition(server: ServerSpec, origin: string, migration: string, database: string): Promise<string[]> {
  const found = await withSession(server, { purpose: 'show', readOnly: true }, async (client) => {
    try {
      const { rows } = await client.query<{ oid: number | null }>('SELECT pg_replication_origin_oid($1) AS oid', [origin]);
      return rows[0]?.oid !== null && rows[0]?.oid !== undefined;
    } catch (error) {
      if (sqlState(error) !== INSUFFICIENT_PRIVILEGE) throw error;
      return false;
    }
  });
  const row = await unlessDatabaseGone(() =>
    withSession(server, { database, purpose: 'show', readOnly: true }, async (client) => {
      const { rows } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [PROGRESS_TABLE_SQL]);
      if (!rows[0]?.ok) return false;
      const present = await client.query(`SELECT 1 FROM ${PROGRESS_TABLE_SQL} WHERE migration = $1 AND database = $2`, [
        migration,
        database,
      ]);
      return present.rows.length > 0;
    }),
  );
  return [
    ...(found ? [`SELECT pg_replication_origin_drop(${literal(origin)})`] : []),
    ...(row ? [`DELETE FROM ${PROGRESS_TABLE_SQL} WHERE migration = ${literal(migration)} AND database = ${literal(database)}`] : []),
  ];
}

/**
 * Drops a replication origin if present. Origins belong to the cluster, not to a database: any
 * session of the target may drop one (where the user may use origins at all).
 */
async function dropOrigin(client: pg.Client, origin: string): Promise<void> {
  try {
    const { rows } = await client.query<{ oid: number | null }>('SELECT pg_replication_origin_oid($1) AS oid', [origin]);
    if (rows[0]?.oid !== null && rows[0]?.oid !== undefined) await client.query('SELECT pg_replication_origin_drop($1)', [origin]);
  } catch (error) {
    if (sqlState(error) !== INSUFFICIENT_PRIVILEGE) throw error;
  }
}

/**
 * Removes parallel apply's records of one stream (cdc/apply/applyLanes.ts), and the table once
 * empty: a copy started again must not find an earlier stream's batches.
 */
async function dropLaneRecords(client: pg.Client, origin: string): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [LANE_TABLE_SQL]);
  if (!rows[0]?.ok) return;
  await client.query(`DELETE FROM ${LANE_TABLE_SQL} WHERE origin = $1`, [origin]);
  const { rows: left } = await client.query(`SELECT 1 FROM ${LANE_TABLE_SQL} LIMIT 1`);
  if (left.length === 0) await client.query(`DROP TABLE ${LANE_TABLE_SQL}`);
}

/**
 * Removes the counts of one stream (cdc/apply/positionCommit.ts), and the table once empty, with the
 * schema it was made in when nothing else is left there: a copy started again counts from none.
 */
async function dropCounts(client: pg.Client, origin: string): Promise<void> {
  const { rows } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [COUNT_TABLE_SQL]);
  if (!rows[0]?.ok) return;
  await client.query(`DELETE FROM ${COUNT_TABLE_SQL} WHERE origin = $1`, [origin]);
  const { rows: left } = await client.query(`SELECT 1 FROM ${COUNT_TABLE_SQL} LIMIT 1`);
  if (left.length > 0) return;
  await client.query(`DROP TABLE ${COUNT_TABLE_SQL}`);
  // kept while it holds anything else (the progress table, the control catalog), or made by someone else
  await dropControlSchemaIfMade(client);
}

/** Removes the progress of one database: its origin, or its row (and the table once empty), its lanes' records and its counts. */
async function dropAppliedPosition(client: pg.Client, key: PositionKey): Promise<void> {
  await dropOrigin(client, key.origin);
  await dropLaneRecords(client, key.origin);
  await dropCounts(client, key.origin);
  const { rows } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [PROGRESS_TABLE_SQL]);
  if (!rows[0]?.ok) return;
  await client.query(`DELETE FROM ${PROGRESS_TABLE_SQL} WHERE migration = $1 AND database = $2`, [key.migration, key.database]);
  const { rows: left } = await client.query(`SELECT 1 FROM ${PROGRESS_TABLE_SQL} LIMIT 1`);
  if (left.length === 0) {
    await client.query(`DROP TABLE ${PROGRESS_TABLE_SQL}`);
    // the schema also holds the control catalog when this is the maintenance database: kept then, as
    // is one pgferry did not make (a DBA's of that name on the old source)
    await dropControlSchemaIfMade(client);
  }
}

/** Drops one stream's applied position on `server`: the origin from the maintenance database (it outlives a dropped database), then the progress row. */
async function dropPosition(server: ServerSpec, origin: string, migration: string, database: string): Promise<void> {
  await withSession(server, { purpose: 'cleanup', writable: true }, (client) => dropOrigin(client, origin));
  await unlessDatabaseGone(() =>
    withSession(server, { database, purpose: 'cleanup', writable: true }, (client) =>
      dropAppliedPosition(client, { origin, migration, database }),
    ),
  );
}

/**
 * What is left of one stream's applied position and its undo, for the change that records it: the
 * position lives on the spec's `server`, named by `namesOf`. Both directions are these: the forward
 * stream's on the target, a fallback window's reverse stream's on the old source (reversePosition.ts).
 */
export function positionUndo(server: 'source' | 'target', namesOf: typeof streamNamesOf) {
  const originOf = (ctx: StreamContext, database: string) => namesOf(ctx.spec.migrationName, database, ctx.instance).origin;
  return {
    pending: (ctx: StreamContext, database: string) =>
      pendingPosition(ctx.spec[server], originOf(ctx, database), ctx.spec.migrationName, database),
    undo: (ctx: StreamContext, database: string) =>
      dropPosition(ctx.spec[server], originOf(ctx, database), ctx.spec.migrationName, database),
  };
}

export const appliedPosition = {
  name: 'appliedPosition',
  server: 'target',
  describe: 'replication origin (or progress row) on the target recording the applied source position, dropped',
  ledger: 'its name, derived from migration.instance like the slot; the progress row is keyed by migration and database',
  rights: {
    server: 'target',
    needs: 'replication origins (superuser); else none: a table in the pgferry schema of the target database',
    // nothing to refuse: where origins are not permitted the progress table is used, in a target
    // database the target user created (and so owns)
    refusal: async () => undefined,
  },
  madeFor: (spec) => spec.mode === 'Online',
  ...positionUndo('target', streamNamesOf),
  failure: (ctx, database) => ({
    what: `could not drop origin ${streamNamesOf(ctx.spec.migrationName, database, ctx.instance).origin} (target)`,
    left: 'drop it by hand',
  }),
} satisfies ReversibleChange;
