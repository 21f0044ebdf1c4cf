// The schema check: one database's catalog on both servers, object by object, before a migration
// says the target is a copy of the source (the offline flow before Succeeded, the cutover after the
// drain and again once the target is given back). What the migration leaves out on purpose (the
// filters, objects a non-superuser target cannot create) is not compared.
import type pg from 'pg';
import { readUnsupportedObjects } from '../../catalog/unsupported';
import { closeSessionPair, openSessionPair, serverMajor } from '../../connect/session';
import { CONTROL_SCHEMA, fenceNamesOf, guardNamesOf, qualifiedKey } from '../../core/names';
import { PgferryError } from '../../core/errors';
import { compileFilters, leftOutByName, type CompiledFilters } from '../../filter/filters';
import { readFilterPlan, type FilterPlan } from '../../filter/plan';
import type { MigrationSpec } from '../../input/migrationSpec';
import { readOwnerAccess } from '../../schema/ownerAccess';
import { readSchemaObjects, type SchemaObject } from './catalog';
import { compareSchemas, type CompareContext } from './compare';
import { pairOwnedSequences } from './ownedSequences';
import { namesQuotedAlike, readQuotedWords, wordsQuotedByOne } from './keywords';
import type { FollowStep } from './follow';
import type { SchemaReport, VerificationReport } from '../../core/model';
import { trace } from '../../util/trace';
import { displayIdent } from '../../connect/quote';

/** One database's comparison: the report's entry (core/model.ts). */
export type SchemaCheck = SchemaReport;

interface ServerRoles {
  readonly user: string;
  readonly superuser: boolean;
  readonly roles: ReadonlySet<string>;
}

async function readRoles(client: pg.Client): Promise<ServerRoles> {
  const { rows } = await client.query<{ rolname: string; rolsuper: boolean; me: boolean }>(
    'SELECT rolname, rolsuper, rolname = current_user AS me FROM pg_catalog.pg_roles',
  );
  const me = rows.find((r) => r.me)!;
  return { user: me.rolname, superuser: me.rolsuper, roles: new Set(rows.map((r) => r.rolname)) };
}

/** What a data-only table's rows move without: its keys, indexes, triggers, rules and policies (and their comments). */
const POST_DATA_KINDS = new Set(['constraint', 'index', 'trigger', 'rule', 'policy']);

/** The source's objects the migration moves: what the filters and a non-superuser target leave behind is not. */
function movedObjects(objects: readonly SchemaObject[], filter: FilterPlan, leftBehind: ReadonlySet<string>): SchemaObject[] {
  const postData = (o: SchemaObject) =>
    POST_DATA_KINDS.has(o.kind) || (o.kind === 'comment' && o.props.type !== 'table' && o.props.type !== 'table column');
  const dataOnlyParts = new Set(objects.filter((o) => postData(o) && filter.dataOnly.has(o.ownerObjectId)).map((o) => o.objectId));
  const leftOutRelations = new Set<string>();
  for (const o of objects) {
    const relationKinds = ['table', 'view', 'materialized view', 'sequence', 'foreign table'];
    if (relationKinds.includes(o.kind) && filter.leftOutNames.has(qualifiedKey(o.schema, o.name))) leftOutRelations.add(o.objectId);
  }
  const leftOutExtensions = new Set(filter.leftOutExtensionNames);
  return objects.filter((o) => {
    if (leftBehind.has(o.objectId) || leftBehind.has(o.ownerObjectId)) return false;
    if (dataOnlyParts.has(o.objectId)) return false;
    if (leftOutRelations.has(o.objectId) || leftOutRelations.has(o.ownerObjectId)) return false;
    if (o.kind === 'extension') return !leftOutExtensions.has(o.name);
    return !filter.leftOutSchemaNames.has(o.schema);
  });
}

/** Kinds of relation the filters judge by name (a sequence follows its table or its schema). */
const NAMED_BY_FILTERS = new Set(['table', 'view', 'materialized view', 'foreign table']);

/**
 * The objects of one server without the relations whose name the filters leave out, nor their
 * parts. The filter plan knows the source's relations of the moment it was read: one made on the
 * source since (just before a cutover) is left out by its name all the same, and a table someone
 * made on the target under such a name is theirs, whatever an earlier look saw. Neither is
 * compared, so neither is ever known, followed, altered or dropped. A partition is judged by its
 * root, as the plan judges it, never by its own name.
 */
function withinFilters(objects: readonly SchemaObject[], compiled: CompiledFilters): SchemaObject[] {
  const outside = new Set(
    objects
      .filter((o) => NAMED_BY_FILTERS.has(o.kind) && !o.props['partition of'] && leftOutByName(compiled, o.schema, o.name))
      .map((o) => o.objectId),
  );
  return objects.filter((o) => !outside.has(o.objectId) && !outside.has(o.ownerObjectId));
}

/**
 * Compares the schema of `database` on both servers. `whileSetAside`: the target is still as
 * streaming leaves it (foreign keys dropped, triggers firing as a replica's), online before the
 * cutover gives it back. `leftOutKeys`: the foreign keys the cutover could not add back (footprint/targetForeignKeys.ts).
 */
export async function checkSchema(spec: MigrationSpec, database: string, options: CheckOptions): Promise<SchemaCheck> {
  return (await compareDatabase(spec, database, options)).check;
}

interface CheckOptions {
  readonly whileSetAside: boolean;
  readonly leftOutKeys?: readonly { schema: string; table: string; name: string }[];
  /** While set aside, the foreign keys recorded to be added back at the release (compare.ts); undefined: all of them. */
  readonly setAsideKeys?: readonly { schema: string; table: string; name: string }[];
  /** How long a catalog read may wait for a lock before the check gives up (10 s by default). */
  readonly lockTimeout?: string;
  /** While streaming, what a followed drop may remove, and columns' known attnums (compare.ts's CompareContext.known). */
  readonly known?: ReadonlyMap<string, number | null>;
  /** While streaming, the known objects' identities on the target (compare.ts's CompareContext.knownIdentities). */
  readonly knownIdentities?: ReadonlyMap<string, string>;
  /** The source's filter plan of this database, read already (a fall-back reads it once for all its steps); else read here. */
  readonly filter?: FilterPlan;
  /**
   * While streaming: comments on large objects are left out on both sides. Large objects are not
   * streamed, so one the source made since the copy is not on the target yet; the cutover brings
   * them level, comments with them (switchover/largeObjectDelta.ts), before its own check compares.
   */
  readonly largeObjectsLater?: boolean;
  /**
   * At a fall-back: a sequence a column owns paired by that column (ownedSequences.ts), since a
   * window's table made on the old source by the printed fix may name it otherwise. Not while
   * streaming: a name that differs there is the source's rename, which the follow makes.
   */
  readonly ownedSequencesByColumn?: boolean;
}

/** A comment on a large object, which the large objects' delta moves with its object. */
const onLargeObject = (o: SchemaObject): boolean => o.kind === 'comment' && o.props.type === 'large object';

/**
 * The check, with, for each difference in its order, how the schema watch can make it on the
 * target while changes stream (undefined: it cannot; verify/schema/follow.ts), and the source's
 * objects it compared (what the watch records as known).
 */
export async function compareDatabase(
  spec: MigrationSpec,
  database: string,
  options: CheckOptions,
): Promise<{
  check: SchemaCheck;
  steps: readonly (FollowStep | undefined)[];
  sourceObjects: readonly SchemaObject[];
  identified: ReadonlyMap<string, string>;
}> {
  const started = Date.now();
  // a lock held on a table (an ALTER TABLE waiting, a session holding ACCESS EXCLUSIVE) never
  // holds the check for long: it fails, saying so, and the caller stops or tries again
  const sessionOptions = {
    database,
    purpose: 'schema check',
    settings: { lock_timeout: options.lockTimeout ?? '10s', statement_timeout: '300s' },
  };
  const pair = await openSessionPair(spec.source, sessionOptions, spec.target, sessionOptions);
  trace('schema compare: sessions open');
  try {
    const [sourceMajor, targetMajor] = await Promise.all([serverMajor(pair.source), serverMajor(pair.target)]);
    const [targetRoles, sourceRoles] = await Promise.all([readRoles(pair.target), readRoles(pair.source)]);
    trace('schema compare: roles read');
    // what the target user may do as each role of the target, as the restore's owner rule reads it;
    // every role pgferry makes is made by now (no createRole)
    const owners = await readOwnerAccess(
      pair.target,
      { user: targetRoles.user, superuser: targetRoles.superuser, createRole: false, major: targetMajor },
      spec.migrateRoles,
      [...targetRoles.roles],
    );
    trace('schema compare: owners read');
    const filter = options.filter ?? (await readFilterPlan(pair.source, spec));
    trace('schema compare: filters read');
    const leftBehind = new Set<string>();
    if (!targetRoles.superuser) for (const u of await readUnsupportedObjects(pair.source)) if (!u.holdsData) leftBehind.add(u.objectOid);
    // what the filters leave out is not read on the source, nor its schemas on the target (which
    // has `public` from template0 whether or not it moves)
    const schemas = [...filter.leftOutSchemaNames];
    // the writer fence (the source's at a cutover, the target's at a fall-back) is pgferry's own
    // and the target's guard of a held cutover, on while the cutover's first look runs
    const fence = fenceNamesOf(spec.migrationName, database);
    const guard = guardNamesOf(spec.migrationName, database);
    const words = sourceMajor === targetMajor ? new Set<string>() : await quotedByOne(pair);
    const read = await Promise.all([
      readSchemaObjects(pair.source, sourceMajor, CONTROL_SCHEMA, { relations: [...filter.leftOut], schemas }, fence, guard),
      readSchemaObjects(pair.target, targetMajor, CONTROL_SCHEMA, { relations: [], schemas }, fence, guard),
    ]);
    // a name that is a keyword on one major and not on the other is printed alike on both (keywords.ts)
    const [source, target] = read.map((objects) => namesQuotedAlike(objects, words)) as [SchemaObject[], SchemaObject[]];
    trace('schema compare: objects read');
    const ctx: CompareContext = {
      sourceMajor,
      targetMajor,
      owners,
      targetRoles: targetRoles.roles,
      sourceRoles: sourceRoles.roles,
      whileSetAside: options.whileSetAside,
      leftOutKeys: new Set((options.leftOutKeys ?? []).map((k) => [k.schema, k.table, k.name].join('\0'))),
      ...(options.known ? { known: options.known } : {}),
      ...(options.knownIdentities ? { knownIdentities: options.knownIdentities } : {}),
      ...(options.setAsideKeys && { setAsideKeys: new Set(options.setAsideKeys.map((k) => [k.schema, k.table, k.name].join('\0'))) }),
    };
    const compiled = compileFilters(spec);
    const later = (objects: SchemaObject[]) => (options.largeObjectsLater ? objects.filter((o) => !onLargeObject(o)) : objects);
    const moved = later(withinFilters(movedObjects(source, filter, leftBehind), compiled));
    // a sequence a column owns is paired by that column, whatever each server named it
    const targetMoved = later(withinFilters(target, compiled));
    const owned = options.ownedSequencesByColumn
      ? pairOwnedSequences(moved, targetMoved)
      : { source: moved, target: targetMoved, expected: [] };
    const { steps, identified, ...compared } = compareSchemas(owned.source, owned.target, ctx);
    const comparison = { ...compared, expected: [...compared.expected, ...owned.expected] };
    trace('schema compare: compared');
    return { check: { ...comparison, database, seconds: (Date.now() - started) / 1000 }, steps, sourceObjects: moved, identified };
  } finally {
    await closeSessionPair(pair);
  }
}

/** The words one server of the pair quotes as names and the other does not (keywords.ts). */
async function quotedByOne(pair: { readonly source: pg.Client; readonly target: pg.Client }): Promise<Set<string>> {
  return wordsQuotedByOne(await readQuotedWords(pair.source), await readQuotedWords(pair.target));
}

/** The check's figures in one line, for progress. */
export function schemaCheckSummary(check: SchemaCheck): string {
  const kept = check.kept?.length ? `, ${check.kept.length} kept (made on the target alone)` : '';
  return `schema checked: ${check.objects} object(s) in ${check.seconds.toFixed(2)} s, ${check.differences.length} difference(s), ${check.expected.length} deliberate${kept}`;
}

/**
 * The migration's verification report with this check beside its rows (replacing an earlier check
 * of the same database); `firstMismatch` is left as it was (a caller that fails on it sets it).
 */
export function withSchemaCheck(previous: VerificationReport | undefined, check: SchemaCheck): VerificationReport {
  const report = previous ?? { ok: true, tables: [] };
  return {
    ...report,
    ok: report.ok && check.differences.length === 0,
    schema: [...(report.schema ?? []).filter((s) => s.database !== check.database), check],
  };
}

/** How many differences a message lists before it says how many more there are. */
const LISTED = 10;

/** One line naming each difference (the first ten) and the statement that fixes it. */
export function schemaDifferenceMessage(check: SchemaCheck): string {
  const listed = check.differences.slice(0, LISTED).map((d) => `${d.object}: ${d.detail} (fix: ${d.fix})`);
  const more = check.differences.length > LISTED ? `; and ${check.differences.length - LISTED} more` : '';
  return `the target's schema differs from the source's in database ${displayIdent(check.database)} (${check.differences.length} difference(s)): ${listed.join('; ')}${more}`;
}

/** The error an offline migration ends with when the target's schema differs: its rows are kept. */
export function schemaMismatchError(check: SchemaCheck): PgferryError {
  return new PgferryError('SCHEMA_MISMATCH', schemaDifferenceMessage(check), {
    category: 'target',
    field: `database ${displayIdent(check.database)}`,
    fix: 'run the statements given for each difference on the target (or fix the source), then check with `pgferry verify`; the copied rows are kept',
  });
}
