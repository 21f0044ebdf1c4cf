// The cutover's checks before its point of no return, inside the hold when there is one, each
// reading the servers independently of what copied: the schema check (verify/schema/, a difference
// stops the cutover) beside the verification of the rows (verify/), then, with a hold, the writes
// past the cutover point on the source (switchover/lateWrites.ts, through hold.ts) beside the
// target's guard (targetGuardAtCutover.ts). What each finds is recorded and acted on here; a stop
// goes through cutoverRollBack.ts.
import type { OnlineStream } from '../cdc/apply/onlineStream';
import type { MigrationRun } from '../run/migrationRun';
import { verifyDatabases, type VerifyOptions } from '../verify/verifyTables';
import type { VerificationReport } from '../core/model';
import { sideBySide } from '../util/sideBySide';
import { checkSchemaFollowing } from './schemaFollow';
import { knownObjects } from '../control/knownObjects';
import { extensionConfigRows } from '../control/extensionConfigRows';
import { schemaCheckSummary, schemaDifferenceMessage, withSchemaCheck, type SchemaCheck } from '../verify/schema/checkSchema';
import { recheckMovedSequences } from '../switchover/sequenceRecheck';
import type { StepClock } from '../util/stepClock';
import { notStreamedTables, type NotStreamedTable } from '../control/sourceTables';
import { forgetTableVerifications, recordTableVerifications } from '../control/tableVerification';
import { recheckPlan } from '../switchover/recheckPlan';
import { errorMessage } from '../core/errors';
import type { PinnedBeforePause } from '../switchover/pinBeforePause';
import { writtenOnTarget } from './targetGuardAtCutover';
import { givenBack, writesPastThePoint, type Gate } from './hold';
import { get, setVerification } from '../control/store';
import { trace } from '../util/trace';
import { displayIdent } from '../connect/quote';
import { again } from './cutoverStep';
import { sequencesMadeByMigration } from './cutoverSync';
import { resumeAfterMismatch, rollBackLateWrites, type RolledBack } from './cutoverRollBack';

/**
 * The schema check, the verification and, with a hold, the writes past the point and the target's
 * guard; undefined when all passed, else the streams as they go on after the one that stopped the cutover.
 */
export async function verifiedAndUnwritten(
  run: MigrationRun,
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  at: AtVerification,
  gate: Gate,
  clock: StepClock,
): Promise<RolledBack | undefined> {
  const checked = await checkedAndVerified(run, databases, streams, at);
  if (checked) return checked;
  clock.done(run.spec.verify ? 'schema check and verification' : 'schema check');
  if (!(gate.fence || gate.pooler)) return undefined;
  const written = await nothingWrittenPastThePoint(run, databases, streams, gate);
  if (written) return written;
  clock.done('late writes and guard read');
  return undefined;
}

/** What the verification leaves out or reads only in part: the large objects kept, the tables pinned before a pooler's pause. */
interface AtVerification {
  readonly keptLargeObjects: ReadonlyMap<string, readonly string[]>;
  readonly pinned: PinnedBeforePause;
}

/**
 * The schema check and the verification side by side, after the sequences and the large objects:
 * the check reads the catalogs, the verification the rows, and what each finds is acted on in the
 * order they ran before, the schema check first (a difference there stops the cutover whatever the
 * rows say, and forgets the verification of the tables it names). A change the check followed on
 * the target (a column added, a sequence made) is read by a verification made again after it.
 * Undefined when both passed, else the streams as they go on (RolledBack).
 */
async function checkedAndVerified(
  run: MigrationRun,
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  at: AtVerification,
): Promise<RolledBack | undefined> {
  // the verification stops with the run, and once the schema check stops the cutover: what it
  // would read then is not looked at, and a lock on the target (which the check waits for no longer
  // than its lock_timeout) must not hold the applications longer than that
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(run.signal.reason);
  run.signal.addEventListener('abort', onAbort, { once: true });
  // a verification that fails to read is told after the schema check, whose difference may be why
  const reading = run.spec.verify
    ? readVerification(run, streams, at, stop.signal).then(
        (read) => ({ read }),
        (error: unknown) => ({ error }),
      )
    : undefined;
  const checking = sideBySide(streams.map((s) => schemaCheckOf(run, s.database))).then(
    (checks) => {
      trace('schema check: read');
      if (checks.some((c) => 'unreadable' in c || c.check.differences.length > 0))
        stop.abort(new Error('the schema check stopped the cutover'));
      return checks;
    },
    (error: unknown) => {
      stop.abort(error);
      throw error;
    },
  );
  let checks: Awaited<typeof checking>;
  let verification: Awaited<typeof reading>;
  try {
    [checks, verification] = await sideBySide([checking, reading]);
  } finally {
    run.signal.removeEventListener('abort', onAbort);
  }
  const differed = await actOnSchemaChecks(run, databases, streams, checks);
  if (differed) return differed;
  trace('schema check: recorded');
  if (verification === undefined) return undefined;
  const followed = checks.some((c) => 'followed' in c && c.followed > 0);
  if (!followed && 'error' in verification) throw verification.error;
  const read = followed || 'error' in verification ? await readVerification(run, streams, at) : verification.read;
  return actOnVerification(run, databases, streams, read);
}

/**
 * The last checks before anything irreversible, side by side, each reading its own server: the
 * fence's second line (switchover/lateWrites.ts: a transaction the source committed after the
 * cutover point rolls the cutover back, naming who wrote) and the target's guard
 * (targetGuardAtCutover.ts: a write on the target by a session that is not pgferry's since the pin
 * before the hold stops the cutover, naming the table and who wrote, the pooler resumed on the old
 * source). Both run after the schema check and the verification, as late as the switch allows.
 * Undefined when neither found a write, else the streams as they go on (RolledBack).
 */
async function nothingWrittenPastThePoint(
  run: MigrationRun,
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  gate: Gate,
): Promise<RolledBack | undefined> {
  const [late, written] = await sideBySide([writesPastThePoint(run, streams), writtenOnTarget(run, streams)]);
  if (late !== undefined) return rollBackLateWrites(run, streams, databases, late, givenBack(gate.fence, gate.pooler));
  if (written === undefined) return undefined;
  return resumeAfterMismatch(run, streams, databases, written, "the target's guard");
}

/** One database's schema check (checkSchemaFollowing), or why its catalog could not be read. */
async function schemaCheckOf(
  run: MigrationRun,
  database: string,
): Promise<{ readonly check: SchemaCheck; readonly followed: number } | { readonly unreadable: string }> {
  try {
    // what the schema watch could follow and had not yet is followed now, every row being applied
    return await again(run, `the schema check of ${displayIdent(database)}`, () => checkSchemaFollowing(run, database));
  } catch (error) {
    if (run.signal.aborted) throw error;
    return { unreadable: `could not read the catalog of ${displayIdent(database)}: ${errorMessage(error)}` };
  }
}

/**
 * The schema of every database it cuts over, compared after the drain (inside the fence when there
 * is one) and before anything irreversible, acted on database by database: a difference stops the
 * cutover, streaming resumes, and the message names each object and its fix. What streaming sets
 * aside on the target is compared once given back (finishCutover).
 */
async function actOnSchemaChecks(
  run: MigrationRun,
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  checks: readonly Awaited<ReturnType<typeof schemaCheckOf>>[],
): Promise<RolledBack | undefined> {
  for (const [i, s] of streams.entries()) {
    const result = checks[i]!;
    if ('unreadable' in result) return resumeAfterMismatch(run, streams, databases, result.unreadable, 'the schema check');
    const { check } = result;
    await recordSchemaCheck(run, check);
    if (check.differences.length === 0) continue;
    // whatever fixes it, the tables that differed are read whole at the next cutover
    const tables = check.differences.flatMap((d) => (d.relation ? [d.relation] : []));
    await forgetTableVerifications(run.store, run.spec.migrationName, s.database, tables);
    return resumeAfterMismatch(run, streams, databases, schemaDifferenceMessage(check), 'the schema check');
  }
  return undefined;
}

/** A schema check's figures as progress, and its report beside the verification's rows. */
export async function recordSchemaCheck(run: MigrationRun, check: SchemaCheck): Promise<void> {
  const { spec, store } = run;
  run.onProgress({ kind: 'info', database: check.database, message: `cutover: ${schemaCheckSummary(check)}` });
  if (!spec.verify) return; // verify: false records no report (the check still stops on a difference)
  await setVerification(store, spec.migrationName, withSchemaCheck((await get(store, spec.migrationName))?.verification, check));
}

/** What the cutover's verification read, before anything is recorded of it. */
interface VerificationRead {
  readonly verified: VerificationReport;
  /** The migration's known objects by database (followSchemaChanges), as the verification judged with them. */
  readonly known: VerifyOptions['known'];
  /** The tables recorded as not streamed when it read them. */
  readonly notStreamed: readonly NotStreamedTable[];
}

/** The cutover's verification of the databases it cuts over, read only: what it found is acted on by actOnVerification. */
async function readVerification(
  run: MigrationRun,
  streams: readonly OnlineStream[],
  { keptLargeObjects, pinned }: AtVerification,
  signal: AbortSignal = run.signal,
): Promise<VerificationRead> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const cutOver = streams.map((s) => s.database);
  trace('verification: begun');
  const notStreamed = await notStreamedTables(store, name, cutOver);
  trace('verification: tables not streamed read');
  // verify: true re-reads only what changed since each table's background verification; 'full' every table whole
  const recheck = spec.verify === 'full' ? undefined : await recheckPlan(run, streams, pinned, notStreamed);
  // what the target alone has (a DBA's table or column) is kept, not a mismatch
  const known = spec.followSchemaChanges
    ? new Map(await Promise.all(cutOver.map(async (d) => [d, await knownObjects(store, name, d)] as const)))
    : undefined;
  const configRows = new Map(await Promise.all(cutOver.map(async (d) => [d, await extensionConfigRows(store, name, d)] as const)));
  trace('verification: recheck plan and known objects read');
  const verified = await again(run, 'the verification', () =>
    verifyDatabases(spec, {
      signal,
      onProgress: run.onProgress,
      databases: cutOver,
      notStreamed,
      recheck,
      keptLargeObjects: (database) => keptLargeObjects.get(database) ?? [],
      configRows,
      ...(known ? { known } : {}),
      // inside the fence, every change applied: a view refreshed now holds the rows the source's query gives
      materializedViews: spec.staleMaterializedViews,
    }),
  );
  trace('verification: read');
  return { verified, known, notStreamed };
}

/** What the verification read, recorded and judged; undefined when it matched, else the streams as they go on (streaming resumed). */
async function actOnVerification(
  run: MigrationRun,
  databases: ReadonlySet<string>,
  streams: readonly OnlineStream[],
  { verified, known, notStreamed }: VerificationRead,
): Promise<RolledBack | undefined> {
  const { spec, store } = run;
  const name = spec.migrationName;
  const records = verified.tables.flatMap(({ relation, ...t }) =>
    t.method && relation ? [{ ...t, relation, method: `cutover-${t.method}` as const }] : [],
  );
  await recordTableVerifications(store, name, records);
  trace('verification: tables recorded');
  const report = await again(run, 'the second look at sequences', () =>
    recheckMovedSequences(
      spec,
      verified,
      known,
      (database, { copied }) => {
        const why = 'a source restart, or nextval without a write';
        // fire and forget (the callback is synchronous): a run's warn never rejects
        void run.warn(`cutover: sequences moved on the source after they were copied (${why}): ${copied} value(s) copied again`, database);
      },
      (database) => sequencesMadeByMigration(run, database),
    ),
  );
  trace('verification: sequences looked at again');
  // the schema check's entries stay beside the rows' (recordSchemaCheck)
  const schema = (await get(store, name))?.verification?.schema;
  await setVerification(store, name, { ...report, ...(schema ? { schema } : {}) });
  trace('verification: recorded');
  if (!report.ok) {
    // a write past the cutover point is named as such, not guessed at
    const late = await writesPastThePoint(run, streams).catch(() => undefined);
    // a table not streamed differs because nothing carried its changes: its reason names the fix
    const unstreamed = report.tables.find((t) => !t.matches && notStreamed.some((n) => n.database === t.database && n.table === t.table));
    if (late) return rollBackLateWrites(run, streams, databases, late, givenBack(true, run.spec.pooler !== undefined));
    if (unstreamed)
      return resumeAfterMismatch(
        run,
        streams,
        databases,
        `database ${displayIdent(unstreamed.database)} table ${unstreamed.table}: ${unstreamed.reason}`,
        'a table not streamed',
      );
    return resumeAfterMismatch(run, streams, databases, report.firstMismatch, 'verification');
  }
  return undefined;
}
