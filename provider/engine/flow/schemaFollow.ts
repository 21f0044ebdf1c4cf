// Schema changes made on the target while changes stream, as the schema watch (flow/schemaWatch.ts)
// finds them: indexes, CHECK, unique and foreign key constraints, views, functions, procedures,
// sequences, types and enum labels, policies, triggers and rules, comments, owners and grants
// (which ones, and when, is verify/schema/follow.ts). On a target that applies without replica
// role a foreign key is recorded to be added at the release instead, as the copied ones are, and a
// trigger or rule is switched as the copied ones are in the transaction that creates it
// (footprint/targetForeignKeys.ts, targetFiring.ts); a key set aside that the source drops is
// forgotten, so the release does not add it back. Each step runs in the target database on a session of its own, beside
// the apply, with a short lock_timeout so that it never holds the apply for long: a step that
// cannot get its lock, or fails (a view over a column the stream has not added yet), is tried
// again at the next look and told once. A step that can refuse a row waits until the apply has
// passed the source position at which the watch saw the change; a column's change waits for the
// cutover (the apply follows it before, at the table's next write), but for a column added whose
// existing values only the source has, added at once with its table's copy at a pin.
import pg from 'pg';
import { displayIdent, displayName, qualified } from '../connect/quote';
import { serverMajor, withSession } from '../connect/session';
import { fireAsReplica, replicaRolePermitted } from '../footprint/targetFiring';
import {
  forgetKeysDroppedOnSource,
  pendingForeignKeys,
  setAsideSourceForeignKey,
  type ForeignKeyRecord,
} from '../footprint/targetForeignKeys';
import { recordEvent } from '../control/store';
import {
  forgetKnownObjects,
  forgetLeftOutObjects,
  knownWithIdentities,
  recordIdentities,
  recordKnownObjects,
  type KnownObject,
  type KnownOfDatabase,
} from '../control/knownObjects';
import { forgetTableVerifications } from '../control/tableVerification';
import { requestTableResync } from '../control/tableResyncs';
import { CONTROL_SCHEMA, fenceNamesOf, guardNamesOf } from '../core/names';
import type { SchemaDifference } from '../core/model';
import type { MigrationRun } from '../run/migrationRun';
import { checkSchema, compareDatabase, type SchemaCheck } from '../verify/schema/checkSchema';
import { partsOf, targetIdentity } from '../verify/schema/identity';
import { objectKey, readSchemaObjects, stillSeen, type SchemaObject } from '../verify/schema/catalog';
import { describeObject } from '../verify/schema/fixes';
import type { FollowStep } from '../verify/schema/follow';
import { ownerChange, restoreOwners } from '../schema/ownership';
import { addColumnPlan, identityPosition, sourceColumnDefinitions } from '../cdc/apply/sourceColumns';
import { sqlState } from '../connect/sqlstate';
import { recordRestoredEnums, remakeEnum, remadeEnumSteps, widenEnum, type RecordedEnumOids } from './enumRemake';
import { dependentIsOurs, dependentKey, describeDependent, dropDependent, remakeDependent, targetDependents } from './targetDependents';
import { inTransaction } from '../connect/transaction';
import { trace } from '../util/trace';

/** A step and the difference it makes, as the watch found it. */
export interface Followable {
  readonly difference: SchemaDifference;
  readonly step: FollowStep;
  /** Known objects (keys) the step dropped and made again around its own (a replaced function's views): new OIDs too. */
  readonly remade?: readonly string[];
}

export interface FollowOutcome {
  readonly followed: readonly Followable[];
  /** Waiting for the apply to pass the position where they were seen. */
  readonly waiting: readonly SchemaDifference[];
  /** `fix`: a statement that works where the difference's own does not (FollowRefused). */
  readonly failed: readonly { readonly difference: SchemaDifference; readonly error: string; readonly fix?: string }[];
}

/** Follow sessions wait this long for a lock, then give the table back to the apply. */
const LOCK_TIMEOUT = '2s';

/** Each index as the two reads below name it (schema, name, table), from the server's catalog. */
const INDEXES_SQL = `
SELECT n.nspname AS schema, c.relname AS name, t.relname AS "table"
  FROM pg_catalog.pg_index x
  JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid
  JOIN pg_catalog.pg_class t ON t.oid = x.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`;

/**
 * Indexes a CREATE INDEX CONCURRENTLY of the follow left invalid (a runner killed while it built, a
 * failure) are dropped before a look follows anything: the restore never leaves one, and an invalid
 * index under the source's name would pass the schema check while enforcing nothing. Only those the
 * source has, valid, on the same table: an invalid index under another name is someone else's (a
 * DBA's CREATE INDEX CONCURRENTLY that failed, a REINDEX CONCURRENTLY's _ccnew), kept as it is.
 */
const INVALID_INDEXES_SQL = `${INDEXES_SQL}
 WHERE NOT x.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1) AND n.nspname NOT LIKE 'pg\\_toast%'`;

/** Of these indexes (schema, name, table), those the source has, valid, on the same table. */
const SOURCE_VALID_INDEXES_SQL = `${INDEXES_SQL}
  JOIN unnest($1::text[], $2::text[], $3::text[]) AS w(schema, name, tab)
    ON w.schema = n.nspname AND w.name = c.relname AND w.tab = t.relname
 WHERE x.indisvalid`;

/**
 * Runs the steps that may run now, in rank order. `seenAt`: the source's WAL position read after
 * the catalog comparison that first found each difference (the first, not the latest: with writes
 * going on, the apply is always a little behind the latest); `appliedAt`: how far the database's
 * apply has got. At the cutover, drained, every step may run (`appliedAt` undefined).
 */
export async function followSchema(
  run: MigrationRun,
  database: string,
  items: readonly Followable[],
  positions?: {
    readonly seenAt: (d: SchemaDifference) => bigint;
    readonly appliedAt: bigint;
    /**
     * schemaChangeCapture eventTrigger: a step the apply makes too (`inStream`: a table's index or
     * constraint) waits even when it refuses no row, the apply being maybe about to make it; the
     * rest (enum labels, views, functions ...) the event trigger's messages carry to nobody, and a
     * row may wait on them (a label), so they run as with the catalog's capture.
     */
    readonly streamPartsWait?: boolean;
  },
): Promise<FollowOutcome> {
  const ready = items.filter(
    (i) =>
      !positions ||
      (i.step.when === 'anytime' && !(positions.streamPartsWait && i.step.inStream)) ||
      (i.step.when !== 'drained' && positions.appliedAt >= positions.seenAt(i.difference)),
  );
  const waiting = items.filter((i) => !ready.includes(i)).map((i) => i.difference);
  const followed: Followable[] = [];
  const failed: { difference: SchemaDifference; error: string; fix?: string }[] = [];
  if (ready.length === 0) return { followed, waiting, failed };
  const settings = { lock_timeout: LOCK_TIMEOUT, check_function_bodies: 'off' };
  // forgotten first, so that a runner stopped after the statement leaves them forgotten
  const wholeTables = ready.flatMap((i) => (i.step.readWhole && i.difference.relation ? [i.difference.relation] : []));
  if (wholeTables.length > 0) await forgetTableVerifications(run.store, run.spec.migrationName, database, wholeTables);
  await withSession(run.spec.target, { database, purpose: 'schema follow', writable: true, settings }, async (client) => {
    await dropInvalidIndexes(run, database, client);
    const replica = await replicaRolePermitted(client);
    for (const item of [...ready].sort((a, b) => a.step.rank - b.step.rank)) {
      if (run.signal.aborted) break;
      try {
        // the object this drop was planned on was dropped or renamed since the look: whatever holds
        // its name now is not the one seen, so nothing is dropped, and the next look judges it
        if (item.step.seen && !(await stillSeen(client, item.step.seen))) continue;
        followed.push(await followOne(run, database, client, item, replica));
        // dropped as the source dropped it: no longer the migration's, whatever is made under its name next
        const key = droppedKeys.get(item.difference);
        if (key !== undefined) await forgetKnownObjects(run.store, run.spec.migrationName, database, [key]);
      } catch (error) {
        if (heldByDroppedTable(run, item, error)) {
          waiting.push(item.difference);
          continue;
        }
        await dropInvalidIndexes(run, database, client).catch(() => undefined);
        const fix = error instanceof FollowRefused ? { fix: error.fix } : {};
        failed.push({ difference: item.difference, error: error instanceof Error ? error.message : String(error), ...fix });
      }
    }
    if (followed.length > 0) await recordMade(run, database, client, followed);
  });
  return { followed, waiting, failed };
}

/** One database's objects on a server, as the schema check reads them (the migration's writer fence and target guard aside). */
function objectsOf(run: MigrationRun, database: string, client: pg.Client, major: number): Promise<SchemaObject[]> {
  const name = run.spec.migrationName;
  return readSchemaObjects(client, major, CONTROL_SCHEMA, undefined, fenceNamesOf(name, database), guardNamesOf(name, database));
}

/**
 * Records which object on the target each followed step made or changed is now (identity.ts). A
 * step that makes an object again (an index rebuilt, a function dropped and created with its views)
 * gives it another OID and definition; were they left to the next look that finds it equal to the
 * source's, a second change on the source before that look would find it unlike both and judge it
 * someone else's: kept, and never followed again. Best effort: a read that fails (a lock) leaves it
 * to that look, as before.
 */
async function recordMade(run: MigrationRun, database: string, client: pg.Client, followed: readonly Followable[]): Promise<void> {
  const described = new Set(followed.map((f) => f.difference.object));
  const remade = new Set(followed.flatMap((f) => f.remade ?? []));
  const objects = await objectsOf(run, database, client, run.targetMajor).catch(() => undefined);
  if (!objects) return;
  const identities = objects.flatMap((o) => {
    const identity = described.has(describeObject(o)) || remade.has(objectKey(o)) ? targetIdentity(o) : undefined;
    return identity === undefined ? [] : [[objectKey(o), identity] as const];
  });
  await recordIdentities(run.store, run.spec.migrationName, database, new Map(identities));
}

/**
 * A view the source made under the name of a table it dropped (a table replaced by a view): the
 * target still has the table until its drop is followed (flow/tableDropsFollow.ts, once the apply
 * has passed it), so the view waits for it rather than failing. Reported as a failure when drops
 * are not followed: the table is then the user's to drop or rename.
 */
function heldByDroppedTable(run: MigrationRun, item: Followable, error: unknown): boolean {
  return (
    sqlState(error) === WRONG_OBJECT_TYPE &&
    run.spec.tableDropsAndRenames === 'follow' &&
    /^(materialized )?view /.test(item.difference.object) &&
    item.difference.detail === 'only on the source'
  );
}

/** SQLSTATE of CREATE OR REPLACE VIEW over a name a table holds ("... is not a view"). */
const WRONG_OBJECT_TYPE = '42809';

/** Makes one step on the target (see the top of this file); returns it as it was made. */
async function followOne(run: MigrationRun, database: string, client: pg.Client, item: Followable, replica: boolean): Promise<Followable> {
  const { setAsideKey, firing, resync, remakeEnum: remake } = item.step;
  if (resync) return followWithResync(run, database, client, item, resync);
  if (remake) {
    const outcome = await (remake.widen ? widenEnum : remakeEnum)(run, database, client, remake);
    if ('refused' in outcome) throw new FollowRefused(outcome.refused, outcome.fix);
    return { ...item, step: { ...item.step, statements: outcome.statements } };
  }
  if (!replica && setAsideKey) {
    const recorded = await withSession(run.spec.source, { database, purpose: 'schema follow' }, (source) =>
      setAsideSourceForeignKey(run, source, database, setAsideKey),
    );
    if (!recorded) throw new Error('the source no longer has it');
    const note = `recorded in ${displayName(CONTROL_SCHEMA, 'footprint')} to be added at the release, as the target's other foreign keys`;
    return { ...item, step: { ...item.step, statements: [note] } };
  }
  if (!replica && firing) {
    await inTransaction(client, async () => {
      for (const statement of item.step.statements) await client.query(statement);
      await fireAsReplica(client, { store: run.store, migration: run.spec.migrationName, database }, firing);
    });
    return item;
  }
  try {
    for (const statement of item.step.statements) await runStatement(client, statement);
  } catch (error) {
    if (sqlState(error) !== INVALID_FUNCTION_DEFINITION || !/^(function|procedure) /.test(item.difference.object)) throw error;
    return replaceFunction(run, database, client, item);
  }
  return item;
}

/** SQLSTATE of CREATE OR REPLACE FUNCTION refused: another return type, parameter names or defaults. */
const INVALID_FUNCTION_DEFINITION = '42P13';

/**
 * The target's functions and procedures, each with its name as SQL takes it and as the comparison
 * describes it (verify/schema/fixes.ts, describeObject): the description is prose, its names
 * printed bare, so the one asked for is found by it here and dropped by its quoted name.
 */
const FUNCTIONS_SQL = `
SELECT p.oid::text AS oid, CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END AS kind, n.nspname AS schema,
       p.proname AS name,
       pg_catalog.regexp_replace(pg_catalog.pg_get_function_identity_arguments(p.oid), '(^|, )IN ', '\\1', 'g') AS args
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE p.prokind IN ('f', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')`;

/** The function or procedure the comparison describes as `described`, with its DROP; undefined when the target has none. */
async function functionDescribed(client: pg.Client, described: string): Promise<{ oid: string; drop: string } | undefined> {
  const { rows } = await client.query<{ oid: string; kind: string; schema: string; name: string; args: string }>(FUNCTIONS_SQL);
  const found = rows.find((r) => `${r.kind} ${displayName(r.schema, r.name)}(${r.args})` === described);
  return found && { oid: found.oid, drop: `DROP ${found.kind.toUpperCase()} ${qualified(found.schema, found.name)}(${found.args})` };
}

/** A step PostgreSQL refused, with a statement that does make the target match (the difference's own fix does not). */
class FollowRefused extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}

/**
 * A function the source dropped and created again with another return type (or other parameter
 * names or defaults), which CREATE OR REPLACE cannot make: dropped and created on the target, in
 * one transaction, in the order PostgreSQL's dependencies need: what depends on it and is the
 * migration's (a column's default, a view, a table's constraint) taken away first and made again
 * after, as the target had it. Something else that depends on it (made on the target alone) is
 * never dropped: the step stops, naming it, and the fix printed makes the change around it.
 */
async function replaceFunction(run: MigrationRun, database: string, client: pg.Client, item: Followable): Promise<Followable> {
  const found = await functionDescribed(client, item.difference.object);
  const create = item.step.statements;
  if (!found) throw new Error('the target no longer has it');
  const { oid, drop } = found;
  const dependents = await targetDependents(client, [{ catalog: 'pg_catalog.pg_proc', oid }]);
  const { known, knownIdentities } = await knownWithIdentities(run.store, run.spec.migrationName, database);
  const drops = dependents.map(dropDependent);
  const remakes = dependents.map(remakeDependent);
  const statements = [...drops, drop, ...create.map((c) => c.replace(/;\s*$/, '')), ...remakes.reverse()].filter(
    (x): x is string => x !== undefined,
  );
  const fix = `BEGIN; ${statements.map((x) => `${x};`).join(' ')} COMMIT;`;
  const others = dependents.filter((d, i) => !dependentIsOurs(d, known, knownIdentities) || drops[i] === undefined);
  if (others.length > 0) {
    throw new FollowRefused(
      `its return type (or parameters) changed on the source, so it is dropped and created again, and ${others.map(describeDependent).join(', ')} depend${others.length === 1 ? 's' : ''} on it on the target, which pgferry did not make: kept, and the change waits for you to make it around ${others.length === 1 ? 'it' : 'them'}`,
      fix,
    );
  }
  await inTransaction(client, async () => {
    for (const statement of statements) await client.query(statement);
  }).catch((error: unknown) => {
    throw new FollowRefused(error instanceof Error ? error.message : String(error), fix);
  });
  return { ...item, step: { ...item.step, statements: statements.map((x) => `${x};`) }, remade: dependents.map(dependentKey) };
}

/**
 * A column whose existing rows hold values only the source has, added to the target with its
 * table's copy at a pinned position (verify/schema/follow.ts, `resync`): the request first, so that
 * a runner stopped in between leaves it to the next one (a copy tried before the column is there
 * fails, counted, and is tried again). A column the target has by now was added by the apply at
 * the table's write, with its own request: nothing is done twice.
 */
async function followWithResync(
  run: MigrationRun,
  database: string,
  client: pg.Client,
  item: Followable,
  resync: NonNullable<FollowStep['resync']>,
): Promise<Followable> {
  if (await hasColumn(client, resync)) return { ...item, step: { ...item.step, statements: ['(added by the stream meanwhile)'] } };
  // as the apply adds it: an identity with the source's sequence name and options, set to its position
  const [column] = await withSession(run.spec.source, { database, purpose: 'schema follow' }, async (source) => {
    const { rows } = await source.query<{ oid: string | null }>('SELECT pg_catalog.to_regclass($1)::pg_catalog.oid::int8 AS oid', [
      qualified(resync.schema, resync.table),
    ]);
    const oid = rows[0]?.oid;
    return oid ? sourceColumnDefinitions(source, Number(oid), [resync.column]) : [];
  });
  if (!column) throw new Error('the source no longer has it');
  const statements = addColumnPlan(resync.schema, resync.table, column, true).statements ?? [];
  await requestTableResync(run.store, run.spec.migrationName, database, { schema: resync.schema, name: resync.table }, 'reshaped');
  await inTransaction(client, async () => {
    for (const statement of statements) await client.query(statement);
    const position = identityPosition(resync.schema, column);
    if (position) await client.query(position.text, position.params);
  });
  const note = `the table copied again at a pinned source position for the source's values`;
  return { ...item, step: { ...item.step, statements: [...statements.map((x) => `${x};`), note] } };
}

async function hasColumn(
  client: pg.Client,
  c: { readonly schema: string; readonly table: string; readonly column: string },
): Promise<boolean> {
  const { rows } = await client.query(
    `SELECT 1 FROM pg_catalog.pg_attribute
      WHERE attrelid = pg_catalog.to_regclass($1) AND attname = $2 AND attnum > 0 AND NOT attisdropped`,
    [qualified(c.schema, c.table), c.column],
  );
  return rows.length > 0;
}

/**
 * Runs one statement of a step. An owner change refused to a target user that is no superuser is
 * run again as the restore runs it (schema/ownership.ts: the new owner given the CREATE it lacks
 * for the moment of the change, in one transaction), so the follow gives what the restore gives.
 * The check asks only for owners the target user may make (schema/ownerAccess.ts `restoredOwner`);
 * one still refused (its membership taken away since) fails the step saying what is allowed, and
 * the cutover's check stops on it. It never advises granting a role to the target user: on a
 * managed server the admin cannot be made a member of a superuser, and must not be of others' roles.
 */
async function runStatement(client: pg.Client, statement: string): Promise<void> {
  try {
    await client.query(statement);
  } catch (error) {
    const change = ownerChange(statement);
    if (!change || !(error instanceof pg.DatabaseError)) throw error;
    const [refused] = await restoreOwners(client, [{ statement, message: error.message }]);
    if (refused === undefined) return;
    const { rows } = await client.query<{ me: string }>('SELECT current_user AS me');
    const [role, me] = [displayIdent(change.owner), displayIdent(rows[0]!.me)];
    throw new Error(
      `${refused}; ${me} can give an object to ${role} only while it may SET ROLE to ${role}, and an object of a role it may not become stays ${me}'s, as the restore leaves it`,
      { cause: error },
    );
  }
}

/**
 * The foreign keys set aside on the target (pending in the footprint ledger), as the schema check
 * takes them while streaming, once those the source dropped meanwhile are forgotten (each an event).
 * None on a target that applies with replica role: every foreign key is then the watch's to follow.
 */
export async function keysSetAside(run: MigrationRun, database: string): Promise<ForeignKeyRecord[]> {
  const pending = await pendingForeignKeys(run.store, run.spec.migrationName, database);
  if (pending.length === 0) return [];
  const dropped = await withSession(run.spec.source, { database, purpose: 'schema watch' }, (source) =>
    forgetKeysDroppedOnSource(run, source, database),
  );
  for (const key of dropped)
    await recordEvent(
      run.store,
      run.spec.migrationName,
      'info',
      `schema change on the source followed on the target: foreign key ${displayName(key.schema, key.table)}.${displayIdent(key.name)} dropped on the source: not added back at the release`,
      database,
    );
  return pending.filter((k) => !dropped.includes(k));
}

async function dropInvalidIndexes(run: MigrationRun, database: string, client: pg.Client): Promise<void> {
  type Index = { schema: string; name: string; table: string };
  const { rows: invalid } = await client.query<Index>(INVALID_INDEXES_SQL, [CONTROL_SCHEMA]);
  if (invalid.length === 0) return;
  const params = [invalid.map((i) => i.schema), invalid.map((i) => i.name), invalid.map((i) => i.table)];
  const following = await withSession(
    run.spec.source,
    { database, purpose: 'schema follow' },
    async (source) => (await source.query<Index>(SOURCE_VALID_INDEXES_SQL, params)).rows,
  );
  for (const { schema, name } of following) await client.query(`DROP INDEX CONCURRENTLY IF EXISTS ${qualified(schema, name)}`);
}

/** Each followed change as an event of the migration, so `show` and the console tell what pgferry made. */
export async function recordFollowed(run: MigrationRun, database: string, followed: readonly Followable[]): Promise<void> {
  for (const { difference: d, step } of followed)
    await recordEvent(
      run.store,
      run.spec.migrationName,
      'info',
      `schema change on the source followed on the target: ${d.object}: ${d.detail} (ran: ${step.statements.join(' ')})`,
      database,
    );
}

/**
 * The cutover's schema check, once drained (inside the fence when there is one): whatever the watch
 * had not followed yet is followed now, every row being applied, then the schema is compared again.
 * `followed`: how many changes it made on the target (a verification that read the target beside it
 * reads it again then).
 */
export async function checkSchemaFollowing(run: MigrationRun, database: string): Promise<{ check: SchemaCheck; followed: number }> {
  if (!run.spec.followSchemaChanges) return { check: await checkSchema(run.spec, database, { whileSetAside: true }), followed: 0 };
  const compare = async () => compareKnowing(run, database, { whileSetAside: true, setAsideKeys: await keysSetAside(run, database) });
  let compared = await compare();
  // why each step that failed did: the check names it beside its fix, never a bare difference
  const failures = new Map<string, { error: string; fix?: string }>();
  let followed = 0;
  // a few rounds: what one step makes can show the next (a column renamed, then its type)
  for (let round = 0; round < FOLLOW_ROUNDS; round++) {
    // a column to be copied at a pin: no stream is left to copy it, the check stops on it
    const items = followables(compared.check, compared.steps).filter((i) => !i.step.resync);
    if (items.length === 0) break;
    const outcome = await followSchema(run, database, items);
    await recordFollowed(run, database, outcome.followed);
    for (const f of outcome.failed) failures.set(differenceKey(f.difference), f);
    followed += outcome.followed.length;
    if (outcome.followed.length === 0) break;
    compared = await compare();
  }
  const differences = compared.check.differences.map((d) => {
    const failure = failures.get(differenceKey(d));
    if (failure === undefined) return d;
    return { ...d, detail: `${d.detail}; following it failed: ${failure.error}`, ...(failure.fix ? { fix: failure.fix } : {}) };
  });
  return { check: { ...compared.check, differences }, followed };
}

const differenceKey = (d: SchemaDifference): string => `${d.object}\0${d.detail}`;

/** How many times the cutover follows and compares again before it reports what is left. */
const FOLLOW_ROUNDS = 3;

/**
 * The comparison a follow acts on: a drop is followed only for objects known to the migration
 * (restored by the copy, or seen on the source by an earlier look), so that nothing made on the
 * target alone is ever dropped; the source's objects it saw are known from now on.
 */
export async function compareKnowing(
  run: MigrationRun,
  database: string,
  options: Omit<Parameters<typeof compareDatabase>[2], 'known'>,
): Promise<Compared> {
  // not following: nothing is dropped by pgferry, and renames are told by likeness for the fix
  if (!run.spec.followSchemaChanges) return { ...(await compareDatabase(run.spec, database, options)), enumOids: new Map() };
  trace('schema check: begun');
  const { known, knownIdentities } = await knownLeftOutForgotten(run, database);
  trace('schema check: known objects read');
  const compared = await compareDatabase(run.spec, database, { ...options, known, knownIdentities });
  trace('schema check: compared');
  const fresh = compared.sourceObjects.map(knownAs).filter((k) => !known.has(k.object));
  await recordKnownObjects(run.store, run.spec.migrationName, database, fresh, run.spec);
  trace(() => `schema check: ${fresh.length} new known object(s) recorded`);
  // which object on the target each known one is, where the target's equals the source's
  await recordIdentities(run.store, run.spec.migrationName, database, compared.identified);
  trace('schema check: identities recorded');
  const gone = await forgetGone(run, database, known, knownIdentities, compared.sourceObjects);
  trace('schema check: gone forgotten');
  // each drop the follow may make, with the known object it drops: forgotten once it is made
  const byDescription = new Map(gone.flatMap((k) => (described(k) === undefined ? [] : [[described(k)!, k] as const])));
  for (const d of compared.check.differences) {
    const key = d.detail.startsWith('only on the target') ? byDescription.get(d.object) : undefined;
    if (key !== undefined) droppedKeys.set(d, key);
  }
  const steps = byKind(compared.check, compared.steps, compared.sourceObjects);
  // an enum the source made again with labels added: the target's type widened first (enumRemake.ts)
  const remade = await remadeEnumSteps(run, database, compared.check.differences, steps, compared.sourceObjects);
  return { ...compared, steps: remade.steps, enumOids: remade.recorded };
}

/** A comparison a follow acts on, with the source OIDs recorded for the migration's enum types (the apply tells a label renamed by them). */
export type Compared = Awaited<ReturnType<typeof compareDatabase>> & { readonly enumOids: RecordedEnumOids };

/**
 * What is known of a database, less what an older pgferry recorded under a name the filters leave
 * out: forgotten at the first look (after a resume too), since it never was the migration's.
 */
async function knownLeftOutForgotten(run: MigrationRun, database: string): Promise<KnownOfDatabase> {
  const knowing = await knownWithIdentities(run.store, run.spec.migrationName, database);
  const forgotten = await forgetLeftOutObjects(run.store, run.spec.migrationName, database, knowing.known.keys(), run.spec);
  return forgotten === 0 ? knowing : knownWithIdentities(run.store, run.spec.migrationName, database);
}

/** The known object each drop difference of a comparison would drop (compareKnowing), by the difference. */
const droppedKeys = new WeakMap<SchemaDifference, string>();

/** A known object's key as the comparison describes it (verify/schema/fixes.ts); undefined for a comment (described by its text). */
function described(key: string): string | undefined {
  const [kind, schema, relation, name, args] = JSON.parse(key) as [string, string, string, string, string];
  if (kind === 'comment') return undefined;
  const object = {
    kind,
    schema,
    relation: relation || null,
    name,
    args: args || null,
    classId: '',
    objectId: '',
    ownerObjectId: '',
    props: {},
  };
  return describeObject(object);
}

/** Kinds of relation that have columns, constraints and policies, and those that have indexes too. */
const TABLE_KINDS = new Set(['table', 'foreign table']);
const INDEXED_KINDS = new Set([...TABLE_KINDS, 'materialized view']);

/**
 * The comparison pairs objects by name: a table the source replaced by a view of the same name
 * leaves the target table's columns, constraints, indexes and policies looking like parts the
 * source dropped one by one. They are the table's, which the source dropped whole: its drop is
 * followed as a table's (flow/tableDropsFollow.ts), never as its columns dropped one by one.
 */
function byKind(
  check: SchemaCheck,
  steps: readonly (FollowStep | undefined)[],
  source: readonly SchemaObject[],
): (FollowStep | undefined)[] {
  const kinds = new Map<string, Set<string>>();
  for (const o of source) {
    if (o.relation !== null) continue;
    const name = displayName(o.schema, o.name);
    kinds.set(name, (kinds.get(name) ?? new Set()).add(o.kind));
  }
  const has = (table: string, wanted: ReadonlySet<string>) => [...(kinds.get(table) ?? [])].some((k) => wanted.has(k));
  return check.differences.map((d, i) => {
    const step = steps[i];
    if (!step || d.table === undefined || !d.detail.startsWith('only on the target')) return step;
    const kind = /^(column|constraint|policy|index) /.exec(d.object)?.[1];
    if (!kind) return step;
    return has(d.table, kind === 'index' ? INDEXED_KINDS : TABLE_KINDS) ? step : undefined;
  });
}

/**
 * Forgets the known objects the source no longer has once the target has none of them either
 * (dropped by hand, or a drop followed before a runner stopped): read after the comparison, so a
 * drop this look is about to follow is still known to it (and forgotten once made). One whose
 * recorded OID the target still holds under another key is not gone: its table renamed on the
 * target since the comparison (the table watch, the apply), its parts wait for the next look to
 * pair them with the source's new names by that OID; forgotten then, they would pass for someone
 * else's and be made again beside. It is forgotten once another known object records that OID.
 * Returns the known objects the source no longer has and the target still has.
 */
async function forgetGone(
  run: MigrationRun,
  database: string,
  known: ReadonlyMap<string, number | null>,
  identities: ReadonlyMap<string, string>,
  source: readonly SchemaObject[],
): Promise<string[]> {
  const onSource = new Set(source.map(objectKey));
  const gone = [...known.keys()].filter((k) => !onSource.has(k));
  if (gone.length === 0) return gone;
  // as the comparison reads: a table locked on the target (a copy at a pin filling it) makes it
  // give up at once, and the next look forgets them
  const session = { database, purpose: 'schema check', settings: { lock_timeout: '1s', statement_timeout: '300s' } };
  const target = await withSession(run.spec.target, session, (client) => objectsOf(run, database, client, run.targetMajor)).catch(
    () => undefined,
  );
  if (!target) return gone;
  const onTarget = new Set(target.map(objectKey));
  const targetOids = new Set(target.map((t) => t.objectId));
  const goneSet = new Set(gone);
  // OIDs recorded for a known object the source still has: a part renamed and recorded under its new key
  const recordedElsewhere = new Set([...identities].flatMap(([k, identity]) => (goneSet.has(k) ? [] : [partsOf(identity)?.object ?? ''])));
  const movedAway = (k: string) => {
    const oid = partsOf(identities.get(k))?.object;
    return oid !== undefined && oid !== '' && targetOids.has(oid) && !recordedElsewhere.has(oid);
  };
  await forgetKnownObjects(
    run.store,
    run.spec.migrationName,
    database,
    gone.filter((k) => !onTarget.has(k) && !movedAway(k)),
  );
  return gone.filter((k) => onTarget.has(k));
}

/**
 * Once the copy restored a database that streams with its schema followed: every object on the
 * target then is one pgferry made, so a later drop of it on the source may be followed. The source's
 * enum types are recorded by their OID as the copy's snapshot reads them (`inSnapshot`), the ones
 * the restore made: one the source makes again during the copy is told as made again at the first look.
 */
export async function recordRestoredObjects(
  run: MigrationRun,
  database: string,
  inSnapshot: <T>(fn: (source: pg.Client) => Promise<T>) => Promise<T>,
): Promise<void> {
  if (run.spec.mode !== 'Online' || !run.spec.followSchemaChanges) return;
  const session = { database, purpose: 'schema check' };
  const [restored, source] = await Promise.all([
    withSession(run.spec.target, session, (client) => objectsOf(run, database, client, run.targetMajor)),
    // a column's attnum is the source's: the one a rename there keeps
    withSession(run.spec.source, session, async (client) => objectsOf(run, database, client, await serverMajor(client))),
  ]);
  const attnums = new Map(source.flatMap((o) => (o.attnum !== undefined ? [[objectKey(o), o.attnum] as const] : [])));
  const known = restored.map((o) => ({ object: objectKey(o), attnum: attnums.get(objectKey(o)) ?? null }));
  await recordKnownObjects(run.store, run.spec.migrationName, database, known, run.spec);
  // and which object on the target each one is: pgferry made every one of them
  const identities = restored.flatMap((o) => {
    const identity = targetIdentity(o);
    return identity === undefined ? [] : [[objectKey(o), identity] as const];
  });
  await recordIdentities(run.store, run.spec.migrationName, database, new Map(identities));
  await inSnapshot((source) => recordRestoredEnums(run, database, source));
}

function knownAs(o: SchemaObject): KnownObject {
  return { object: objectKey(o), attnum: o.attnum ?? null };
}

/** The differences a step can make, with their step. */
export function followables(check: SchemaCheck, steps: readonly (FollowStep | undefined)[]): Followable[] {
  const items: Followable[] = [];
  check.differences.forEach((difference, i) => {
    const step = steps[i];
    if (step) items.push({ difference, step });
  });
  return items;
}
