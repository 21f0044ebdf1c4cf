// The source side of the start of streaming: replica identity where a table has no usable key
// (refused, or FULL with allowReplicaIdentityFull), then the publication's explicit table list,
// then the copy's snapshot, checked so that every table it shows is streamed or reported. A table
// created between the publication and the snapshot would otherwise be copied and never streamed.
import type pg from 'pg';
import { readSourceRelations, type SourceRelation } from '../../catalog/identityVerdict';
import { whoseRowsMove } from '../../filter/plan';
import { withSession } from '../../connect/session';
import { PgferryError } from '../../core/errors';
import type { MigrationRun } from '../../run/migrationRun';
import type { CopySnapshot } from '../../copy/copySnapshot';
import { createPublication, publishesViaRoot, publishTables } from './publication';
import { planPublication, reviewTables, type PlanOptions } from './publicationPlan';
import { clearNotStreamed, recordNotStreamed } from '../../control/sourceTables';
import { displayIdent } from '../../connect/quote';

/** Snapshots taken before giving up on a source whose tables keep appearing. */
const MAX_ATTEMPTS = 3;

/** What preparing the source needs of a migration. */
export type SourcePrepContext = Pick<MigrationRun, 'spec' | 'store' | 'warn' | 'signal'>;

/** What setting REPLICA IDENTITY FULL needs of a migration. */
export type IdentityContext = Pick<MigrationRun, 'spec' | 'store'> & { readonly signal?: AbortSignal };

/**
 * Sets REPLICA IDENTITY FULL on source tables of a database, the identity each had recorded first.
 * That change is the footprint's (footprint/replicaIdentity.ts), a folder above this stage: the
 * flow hands its setIdentityFull to the stages that find tables to set FULL.
 */
export type SetIdentityFull = (
  run: IdentityContext,
  database: string,
  client: pg.Client,
  tables: readonly SourceRelation[],
) => Promise<void>;

interface PreparedSource {
  readonly options: PlanOptions;
  /** Tables pgferry gave REPLICA IDENTITY FULL (to be given it on the target too). */
  readonly fullTables: readonly SourceRelation[];
  /** OIDs of tables recorded as not streamed (unlogged). */
  readonly notStreamed: ReadonlySet<string>;
}

function refusal(database: string, tables: readonly SourceRelation[]): PgferryError {
  const list = tables
    .slice(0, 5)
    .map((t) => `${t.display} (${t.identity.flaw})`)
    .join(', ');
  return new PgferryError(
    'REPLICA_IDENTITY_MISSING',
    `database ${displayIdent(database)}: ${tables.length} table(s) have no usable primary key or replica identity: ${list}; under a publication their UPDATE and DELETE would fail on the source, and they cannot be streamed`,
    {
      category: 'validation',
      field: 'allowReplicaIdentityFull',
      fix: 'give them a primary key (not DEFERRABLE) or a REPLICA IDENTITY USING INDEX, or set allowReplicaIdentityFull to use REPLICA IDENTITY FULL for them',
    },
  );
}

/** Replica identity, publication and not-streamed records for the tables as they are now; idempotent. */
async function prepareWith(
  run: SourcePrepContext,
  setIdentityFull: SetIdentityFull,
  database: string,
  publication: string,
  client: pg.Client,
): Promise<PreparedSource> {
  const options = { viaRoot: await publishesViaRoot(client) };
  const plan = planPublication(await whoseRowsMove(client, await readSourceRelations(client, publication), run.spec), options);
  if (plan.withoutIdentity.length > 0 && !run.spec.allowReplicaIdentityFull) throw refusal(database, plan.withoutIdentity);
  // Before the slot exists, so every streamed update and delete carries the whole old row.
  await setIdentityFull(run, database, client, plan.withoutIdentity);
  if (plan.withoutIdentity.length > 0) {
    await run.warn(
      `REPLICA IDENTITY FULL set on ${plan.withoutIdentity.length} table(s) without a usable key (${plan.withoutIdentity.map((t) => t.display).join(', ')}); set back at cutover, cancel or failure`,
      database,
    );
  }
  await createPublication(client, publication);
  await publishTables(client, publication, plan.publish, { seconds: run.spec.lockTimeoutSeconds, signal: run.signal });
  for (const { relation, reason } of plan.unstreamable) {
    await recordNotStreamed(run.store, run.spec.migrationName, database, relation, reason);
  }
  return { options, fullTables: plan.withoutIdentity, notStreamed: new Set(plan.unstreamable.map((u) => u.relation.oid)) };
}

/**
 * Replica identity and the publication's table list of one source database as a first start makes
 * them, without a copy: the forward stream made again after a fall-back (docs/fallback.md), where
 * the target holds every row already. Idempotent. Returns the tables given REPLICA IDENTITY FULL.
 */
export async function prepareSource(
  run: SourcePrepContext,
  setIdentityFull: SetIdentityFull,
  database: string,
  publication: string,
): Promise<SourceRelation[]> {
  const prepared = await withSession(run.spec.source, { database, purpose: 'publication', writable: true }, (client) =>
    prepareWith(run, setIdentityFull, database, publication, client),
  );
  return [...prepared.fullTables];
}

/** Tables the snapshot shows that are neither streamed nor reported, or streamed without a usable identity. */
async function missedBy(
  client: pg.Client,
  run: SourcePrepContext,
  publication: string,
  prepared: PreparedSource,
): Promise<SourceRelation[]> {
  const review = reviewTables(
    await whoseRowsMove(client, await readSourceRelations(client, publication), run.spec),
    prepared.notStreamed,
    prepared.options,
  );
  return [...review.newTables, ...review.lostIdentity.map((l) => l.relation)];
}

/**
 * Prepares the source and takes the copy's snapshot (`take`, which creates the slot) until the
 * snapshot shows no table the stream would miss; `discard` gives up a snapshot (and its slot).
 */
export async function prepareSourceAndSnapshot<S>(
  run: SourcePrepContext,
  setIdentityFull: SetIdentityFull,
  database: string,
  publication: string,
  take: () => Promise<CopySnapshot<S>>,
  discard: (copy: CopySnapshot<S>) => Promise<void>,
): Promise<{ copy: CopySnapshot<S>; fullTables: SourceRelation[] }> {
  await clearNotStreamed(run.store, run.spec.migrationName, database);
  const fullTables: SourceRelation[] = [];
  let missed: SourceRelation[] = [];
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const prepared = await withSession(run.spec.source, { database, purpose: 'publication', writable: true }, (client) =>
      prepareWith(run, setIdentityFull, database, publication, client),
    );
    fullTables.push(...prepared.fullTables);
    const copy = await take();
    try {
      missed = await copy.sessions.use((client) => missedBy(client, run, publication, prepared));
    } catch (error) {
      await discard(copy);
      throw error;
    }
    if (missed.length === 0) return { copy, fullTables };
    await discard(copy);
  }
  throw new PgferryError(
    'SOURCE_TABLES_CHANGING',
    `database ${displayIdent(database)}: tables kept being created or changed on the source while the migration started (${missed
      .slice(0, 5)
      .map((t) => t.display)
      .join(', ')})`,
    {
      category: 'source',
      field: `database ${displayIdent(database)}`,
      fix: 'start the migration again once the schema is not being changed',
    },
  );
}
