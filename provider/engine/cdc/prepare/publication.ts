// pgferry's publication on the source: created empty, then given an explicit list of tables
// (ALTER PUBLICATION ... ADD TABLE ONLY ...), each change under the short lock waits of
// sourceDdl.ts. The same path adds tables at the start and later, and takes them out again.
import type pg from 'pg';
import { readSourceRelations, type SourceRelation } from '../../catalog/identityVerdict';
import { serverMajor } from '../../connect/session';
import { ident, qualified } from '../../connect/quote';
import { sqlState, UNDEFINED_TABLE } from '../../connect/sqlstate';
import { planPublication } from './publicationPlan';
import { runSourceDdl, type DdlPatience } from './sourceDdl';

/** Tables per ALTER PUBLICATION: one busy table makes only its batch wait and retry. */
const BATCH = 200;

/** The default patience of publication changes made outside a migration (test fixtures). */
const DEFAULT_PATIENCE: DdlPatience = { seconds: 30 };

/** A partitioned table can be listed in a publication from PostgreSQL 13. */
export async function publishesViaRoot(client: pg.Client): Promise<boolean> {
  return (await serverMajor(client)) >= 13;
}

/**
 * Creates the publication without tables if it does not exist (no table is locked). It never
 * publishes via the root (publish_via_partition_root): a partition's changes go out under its own
 * name, so a TRUNCATE of one partition is decoded (publicationPlan.ts). A publication an earlier
 * pgferry created with it is set back: changes decoded before that ALTER's commit arrive under the
 * root's name, those after it under the partition's, and the applier writes either exactly.
 */
export async function createPublication(client: pg.Client, publication: string): Promise<void> {
  const { rows } = await client.query<{ viaroot: boolean }>(
    `SELECT ${(await publishesViaRoot(client)) ? 'pubviaroot' : 'false'} AS viaroot FROM pg_publication WHERE pubname = $1`,
    [publication],
  );
  if (rows.length === 0) await client.query(`CREATE PUBLICATION ${ident(publication)}`);
  else if (rows[0]!.viaroot) await client.query(`ALTER PUBLICATION ${ident(publication)} SET (publish_via_partition_root = false)`);
}

/** One change of the publication's list: which tables go in (ADD) or out (DROP), and how long a lock is waited for. */
interface Membership {
  readonly client: pg.Client;
  readonly publication: string;
  readonly change: 'ADD' | 'DROP';
  readonly patience: DdlPatience;
}

/**
 * ALTER PUBLICATION ... ADD (or DROP) TABLE ONLY ..., in batches, of the tables whose membership
 * it changes (those not published yet, or those published); a table dropped meanwhile is skipped.
 */
async function changeMembership(m: Membership, tables: readonly SourceRelation[]): Promise<void> {
  const changed = tables.filter((t) => t.published === (m.change === 'DROP'));
  for (let i = 0; i < changed.length; i += BATCH) {
    const batch = changed.slice(i, i + BATCH);
    try {
      await alterMembership(m, batch);
    } catch (error) {
      if (sqlState(error) !== UNDEFINED_TABLE) throw error;
      if (batch.length === 1) continue; // dropped (or renamed) since it was read: nothing to publish
      for (const table of batch) await changeMembership(m, [table]);
    }
  }
}

async function alterMembership({ client, publication, change, patience }: Membership, tables: readonly SourceRelation[]): Promise<void> {
  const list = tables.map((t) => `ONLY ${qualified(t.schema, t.name)}`).join(', ');
  const names = tables.length === 1 ? tables[0]!.display : `${tables.length} tables (${tables[0]!.display}, ...)`;
  await runSourceDdl(
    client,
    {
      what: `${change === 'ADD' ? 'add' : 'remove'} ${names} ${change === 'ADD' ? 'to' : 'from'} publication ${publication}`,
      tables: tables.map((t) => t.oid),
      lock: 'ShareUpdateExclusiveLock',
      statements: [`ALTER PUBLICATION ${ident(publication)} ${change} TABLE ${list}`],
    },
    patience,
  );
}

/** Adds tables the publication does not list yet. */
export async function publishTables(
  client: pg.Client,
  publication: string,
  tables: readonly SourceRelation[],
  patience: DdlPatience,
): Promise<void> {
  await changeMembership({ client, publication, change: 'ADD', patience }, tables);
}

/** Takes listed tables out of the publication: their changes are no longer streamed. */
export async function unpublishTables(
  client: pg.Client,
  publication: string,
  tables: readonly SourceRelation[],
  patience: DdlPatience,
): Promise<void> {
  await changeMembership({ client, publication, change: 'DROP', patience }, tables);
}

/**
 * Creates the publication if missing and lists every table it should (publicationPlan.ts). The
 * online flow does more (replica identity first, records): see sourcePrep.ts; this is the plain
 * form for fixtures whose tables all have usable keys or their own REPLICA IDENTITY FULL.
 */
export async function ensurePublication(client: pg.Client, publication: string, patience: DdlPatience = DEFAULT_PATIENCE): Promise<void> {
  await createPublication(client, publication);
  const plan = planPublication(await readSourceRelations(client, publication), { viaRoot: await publishesViaRoot(client) });
  await publishTables(client, publication, plan.publish, patience);
}
