// How a schema difference found while changes stream can be made on the target by pgferry itself
// (flow/schemaFollow.ts runs the steps; pure here). Only objects that never decide which row the
// apply may write are followed whenever they are seen; an object that can refuse a row (a CHECK,
// UNIQUE or FOREIGN KEY constraint, a unique index) only once the apply has passed the source
// position at which it was seen, since every row written before it on the source satisfies nothing
// yet. Columns follow with the stream itself (cdc/apply), tables with the table watch
// (cdc/prepare/tableWatch.ts). Of a column, its default while streaming, and one added whose
// existing rows the target cannot derive (an identity, a default evaluated per row), with its
// table's copy at a pinned position (the step's `resync`): the apply follows the
// rest at the table's next write (cdc/apply/shapeFollow.ts); a table nobody writes again before the
// cutover gets them from the cutover, drained (added with no default or a constant one, dropped,
// renamed, retyped, NOT NULL), its rows then read whole by the cutover's verification, which stops
// on any value the target derived otherwise. Statements take no lock that holds the apply for long:
// indexes are built CONCURRENTLY, a CHECK or a foreign key is added NOT VALID and then validated.
// A target that applies without replica role (a managed one) has its foreign keys set aside and its
// triggers and rules switched while streaming (cdc/prepare/): a foreign key is then recorded to be
// added at the release instead, and a trigger or rule is switched as the others are in the
// transaction that creates it, so that it never fires on a streamed row.
import { ident, qualified } from '../../connect/quote';
import { seenObject, type PropertyValue, type SchemaObject, type SeenObject } from './catalog';
import {
  alterStatement,
  attributeChanges,
  clusterStatement,
  createStatement,
  dropStatement,
  indexStorageStatements,
  labelChanges,
  labelsRemoved,
  storageStatements,
} from './fixes';

/**
 * `anytime`: it refuses no row the source wrote; `applied`: it may, so only once the apply passed
 * the source position at which it was seen; `drained`: a column change the apply follows at the
 * table's next write, so only by the cutover, once no row is left to carry it.
 */
type FollowWhen = 'anytime' | 'applied' | 'drained';

export interface FollowStep {
  readonly when: FollowWhen;
  /** Run one by one, each in its own transaction (CREATE INDEX CONCURRENTLY refuses a block). */
  readonly statements: readonly string[];
  /** The order steps of one look run in: what others depend on first (a schema before its objects). */
  readonly rank: number;
  /**
   * The table's rows are read whole at the cutover: a column's default may be the one visible trace
   * of rows the stream did not carry (a column dropped and added again under its name while no
   * runner streamed gives every row the new default), so its recorded verification is forgotten
   * before the step runs.
   */
  readonly readWhole?: true;
  /**
   * A trigger or rule: on a target applying without replica role it is switched to fire as for a
   * replica-role session in the transaction that creates it (footprint/targetFiring.ts).
   */
  readonly firing?: { readonly kind: 'trigger' | 'rule'; readonly schema: string; readonly table: string; readonly name: string };
  /**
   * A foreign key: on a target applying without replica role it is not added while streaming but
   * recorded beside the keys set aside since the copy, and added with them at the release.
   */
  readonly setAsideKey?: { readonly schema: string; readonly table: string; readonly name: string };
  /**
   * A table's index or constraint other than a foreign key: with schemaChangeCapture eventTrigger
   * the apply makes it too, at its exact place in the stream (partsFollow.ts), so the schema watch
   * makes it only once the apply has passed where it saw it.
   */
  readonly inStream?: true;
  /**
   * A column added whose existing rows hold values only the source has (an identity's numbering,
   * a default evaluated per row): the table is copied again at a pinned position
   * (flow/tableResync.ts), the request recorded before the column is added on the target, so that
   * a quiet table gets them without waiting for its next write. Not made by the cutover: no stream
   * is left to copy at a pin, and its check stops on the column as before.
   */
  readonly resync?: { readonly schema: string; readonly table: string; readonly column: string };
  /**
   * A drop or a change of a target object: the object the look saw (catalog.ts's SeenObject). A
   * look and its steps are apart in time, and the statement names the object: it runs only if that
   * name still holds the object seen, never one someone made under it meanwhile (a DBA's index
   * made again).
   */
  readonly seen?: SeenObject;
  /**
   * An enum type whose labels the source removed or reordered, which PostgreSQL does only by
   * making the type again under its name (drizzle-kit's DROP TYPE and CREATE TYPE): made again on
   * the target with its columns moved to it (flow/enumRemake.ts), once the apply has passed where
   * the look saw it, so that no row the stream still carries holds a removed label. `labels`: the
   * source's, as literals; `removed`: the target's labels the source no longer has. `widen`: the
   * source made it again with labels added too (widenEnumStep): the labels it lacks are added to the
   * target's type first, at once, so that it holds every label a row may carry on either side of the
   * change, and a later look makes it again with the source's labels alone.
   */
  readonly remakeEnum?: {
    readonly schema: string;
    readonly name: string;
    readonly labels: string;
    readonly removed: readonly string[];
    readonly widen?: true;
  };
}

const text = (v: PropertyValue | undefined): string => (typeof v === 'string' ? v : '');

/** Kinds followed when created, and their rank: a schema and types before what uses them, comments and grants last. */
const CREATE_RANK: Readonly<Record<string, number>> = {
  schema: 0,
  'enum type': 1,
  'composite type': 1,
  domain: 1,
  sequence: 2,
  function: 3,
  procedure: 3,
  index: 4,
  constraint: 5,
  view: 6,
  'materialized view': 7,
  policy: 8,
  trigger: 8,
  rule: 8,
  comment: 9,
};

/**
 * Kinds followed when dropped on the source (dropping on the target only loosens it, or stops what
 * the source no longer does; a column's at the cutover). An enum type too: an ORM retyping a column
 * to a new enum drops the old one, and a column of the target still of that type refuses the drop.
 */
const DROPPED = new Set([
  'enum type',
  'index',
  'constraint',
  'view',
  'materialized view',
  'function',
  'procedure',
  'policy',
  'comment',
  'trigger',
  'rule',
  'column',
]);

/** ALTER TABLE's clause for each pg_trigger.tgenabled / pg_rewrite.ev_enabled state but the ordinary one. */
const STATE_CLAUSE: Readonly<Record<string, string>> = { D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' };

/**
 * A default every existing row of a column added on the source holds as it is: none, or a literal
 * (a number, a boolean, a quoted string with a cast). Another one (now(), nextval(), an identity)
 * gave the source's rows values the target cannot reproduce: the table is copied again (`resync`).
 */
const CONSTANT_DEFAULT = /^(NULL|true|false|-?\d+(\.\d+)?|\(?'(?:[^']|'')*'(::[\w ."[\]()]+)?\)?(::[\w ."[\]()]+)?)$/;

/** Column changes followed by the cutover (drained), each making its table read whole by the verification. */
function drainedColumnStep(statement: string): FollowStep {
  return { when: 'drained', statements: [statement], rank: 2, readWhole: true };
}

/** Properties followed when they change, on every kind: they never touch rows. */
const NEUTRAL_PROPERTIES = new Set(['owner', 'privileges']);

const UNIQUE_INDEX = /^CREATE UNIQUE INDEX /;

/** Kinds whose storage parameters the follow sets (an index's are part of its definition). */
const STORED_KINDS = new Set(['table', 'materialized view', 'view']);

/** What a constraint is altered through: its table, or its domain. */
function constraintOwner(o: SchemaObject): 'TABLE' | 'DOMAIN' {
  return o.props.on === 'domain' ? 'DOMAIN' : 'TABLE';
}

function concurrentIndex(definition: string): string {
  return `${definition.replace(/^CREATE (UNIQUE )?INDEX /, 'CREATE $1INDEX CONCURRENTLY ').replace(/;?\s*$/, '')};`;
}

/**
 * The step that creates an object only the source has; undefined when it is not followed.
 * `constraintNames`: `schema\0relation\0name` of the source's constraints, whose indexes come with them.
 */
export function createStep(o: SchemaObject, constraintNames: ReadonlySet<string>): FollowStep | undefined {
  if (o.kind === 'column') {
    if (o.props.identity || (text(o.props.default) !== '' && !CONSTANT_DEFAULT.test(text(o.props.default)))) {
      // the apply makes this too, at the table's next write (with the event trigger, at its place in the stream)
      const resync = { schema: o.schema, table: o.relation ?? '', column: o.name };
      return { when: 'anytime', statements: [createStatement(o)], rank: 2, readWhole: true, inStream: true, resync };
    }
    return drainedColumnStep(createStatement(o));
  }
  const rank = CREATE_RANK[o.kind];
  if (rank === undefined) return undefined;
  if (o.kind === 'index') {
    if (constraintNames.has([o.schema, o.relation, o.name].join('\0'))) return undefined;
    const definition = text(o.props.definition);
    // made with its table's CLUSTER ON mark at once: the cutover's check, once drained, looks once
    const mark = o.props.clustered === true ? [clusterStatement(o, true)] : [];
    return {
      when: UNIQUE_INDEX.test(definition) ? 'applied' : 'anytime',
      statements: [concurrentIndex(definition), ...mark],
      rank,
      inStream: true,
    };
  }
  if (o.kind === 'trigger' || o.kind === 'rule') {
    // one statement string, so one transaction: the object never fires in a state it should not
    const state = STATE_CLAUSE[text(o.props.enabled)];
    const table = qualified(o.schema, o.relation ?? '');
    const create = createStatement(o);
    const statement = state ? `${create} ALTER TABLE ${table} ${state} ${o.kind.toUpperCase()} ${ident(o.name)};` : create;
    return {
      when: 'anytime',
      statements: [statement],
      rank,
      firing: { kind: o.kind, schema: o.schema, table: o.relation ?? '', name: o.name },
    };
  }
  if (o.kind === 'constraint') {
    // a domain's CHECK refuses rows of every column of that domain, as a table's does of its table
    if (o.props.on !== 'table' && o.props.on !== 'domain') return undefined;
    const definition = text(o.props.definition);
    const table = qualified(o.schema, o.relation ?? '');
    const owner = `${constraintOwner(o)} ${table}`;
    if (o.props['foreign key'] === true) {
      const setAsideKey = { schema: o.schema, table: o.relation ?? '', name: o.name };
      const statements = definition.endsWith(' NOT VALID')
        ? [createStatement(o)]
        : [
            `ALTER TABLE ${table} ADD CONSTRAINT ${ident(o.name)} ${definition} NOT VALID;`,
            `ALTER TABLE ${table} VALIDATE CONSTRAINT ${ident(o.name)};`,
          ];
      return { when: 'applied', statements, rank, setAsideKey };
    }
    const inStream = o.props.on === 'table' ? ({ inStream: true } as const) : {};
    if (definition.startsWith('CHECK ') && !definition.endsWith(' NOT VALID')) {
      return {
        when: 'applied',
        statements: [
          `ALTER ${owner} ADD CONSTRAINT ${ident(o.name)} ${definition} NOT VALID;`,
          `ALTER ${owner} VALIDATE CONSTRAINT ${ident(o.name)};`,
        ],
        rank,
        ...inStream,
      };
    }
    return { when: 'applied', statements: [createStatement(o)], rank, ...inStream };
  }
  return { when: 'anytime', statements: [createStatement(o)], rank };
}

/** The step that drops an object only the target has; undefined when it is not followed. */
export function dropStep(t: SchemaObject): FollowStep | undefined {
  if (!DROPPED.has(t.kind)) return undefined;
  if (t.kind === 'constraint' && t.props.on !== 'table' && t.props.on !== 'domain') return undefined;
  if (t.kind === 'column') return drainedColumnStep(dropStatement(t));
  // dropped first, so that a view replaced under its name or an index rebuilt is made anew
  const statement = t.kind === 'index' ? `DROP INDEX CONCURRENTLY IF EXISTS ${qualified(t.schema, t.name)};` : dropStatement(t);
  const inStream = t.kind === 'index' || (t.kind === 'constraint' && t.props.on === 'table' && t.props['foreign key'] !== true);
  return { when: 'anytime', statements: [statement], rank: -1, ...(inStream ? { inStream } : {}), ...seenOf(t) };
}

/**
 * The target's object a step acts on, as the look saw it; none for a column (its OID is its
 * table's: told by attnum) or a comment, nor for an object the event trigger's message describes
 * (no OID: partsFollow.ts).
 */
function seenOf(t: SchemaObject): { seen?: SeenObject } {
  return t.kind === 'column' || t.kind === 'comment' || t.objectId === '' ? {} : { seen: seenObject(t) };
}

/**
 * An object of the target renamed as the source renamed it (compare.ts pairs them): once the apply
 * has passed where the look saw it, so that it never takes a name from under the stream, and only
 * while that name still holds the object seen.
 */
export function renameObjectStep(t: SchemaObject, statement: string): FollowStep {
  return { when: 'applied', statements: [statement], rank: -1, ...seenOf(t) };
}

/**
 * An object of its own (a type, a domain, a sequence) the source moved to another schema, moved
 * alike on the target (compare.ts pairs them), after the schemas a look makes and before the types:
 * its columns keep it. As a rename, once the apply has passed where the look saw it.
 */
export function moveObjectStep(t: SchemaObject, statement: string): FollowStep {
  return { when: 'applied', statements: [statement], rank: 0.5, ...seenOf(t) };
}

/** A column renamed on the source (the comparison pairs it by its properties), by the cutover. */
export function renameStep(statement: string): FollowStep {
  return drainedColumnStep(statement);
}

/**
 * The step for one property that differs, `o` being the source's object and `t` the target's the
 * look saw; undefined when it is not followed. It names `t`, and runs only while that name still
 * holds it (seen), as a drop does: an index rebuilt by DROP and CREATE under its name would
 * otherwise drop whatever someone made there since the look.
 */
export function alterStep(
  o: SchemaObject,
  t: SchemaObject,
  property: string,
  source: PropertyValue,
  target: PropertyValue,
  targetOwner: string,
): FollowStep | undefined {
  const step = alterStepOf(o, t, property, source, target, targetOwner);
  return step === undefined ? undefined : { ...step, ...seenOf(t) };
}

function alterStepOf(
  o: SchemaObject,
  t: SchemaObject,
  property: string,
  source: PropertyValue,
  target: PropertyValue,
  targetOwner: string,
): FollowStep | undefined {
  if (NEUTRAL_PROPERTIES.has(property))
    return { when: 'anytime', statements: [alterStatement(o, property, source, target, targetOwner)], rank: 10 };
  // a DBA's fillfactor or autovacuum setting (its toast table's too): how pages fill and when
  // vacuum runs, no row read or moved, a lock no stronger than a vacuum's
  if (property === 'storage parameters' && STORED_KINDS.has(o.kind)) {
    const statements = storageStatements(o, text(source), text(target));
    return statements.length ? { when: 'anytime', statements, rank: 10 } : undefined;
  }
  switch (o.kind) {
    case 'table':
      // which old row the source logs decides nothing the apply writes (it matches by the stream's
      // key); the target needs the source's for the fallback window's reverse stream and the end
      // state. After the indexes, so that the index of a USING INDEX is there
      return property === 'replica identity'
        ? { when: 'anytime', statements: [alterStatement(o, property, source, target, targetOwner)], rank: 10 }
        : undefined;
    case 'column':
      // every streamed row carries each column's value: no row depends on a default
      if (property === 'default')
        return { when: 'anytime', statements: [alterStatement(o, property, source, target, targetOwner)], rank: 10, readWhole: true };
      return property === 'type' || property === 'not null'
        ? drainedColumnStep(alterStatement(o, property, source, target, targetOwner))
        : undefined;
    case 'view':
    case 'function':
    case 'procedure':
    case 'comment':
    case 'sequence':
      return { when: 'anytime', statements: [alterStatement(o, property, source, target, targetOwner)], rank: CREATE_RANK[o.kind] ?? 10 };
    case 'index': {
      // a mark on the table, no row read or moved: the lock it takes is brief, as a comment's
      if (property === 'clustered')
        return { when: 'anytime', statements: [alterStatement(o, property, source, target, targetOwner)], rank: CREATE_RANK.index! };
      if (property !== 'definition') return undefined;
      // its storage parameters alone changed (ALTER INDEX ... SET): set, not built again
      const storage = indexStorageStatements(o, text(source), text(target));
      if (storage) return storage.length ? { when: 'anytime', statements: storage, rank: CREATE_RANK.index! } : undefined;
      const definition = text(source);
      const mark = o.props.clustered === true ? [clusterStatement(o, true)] : [];
      return {
        when: UNIQUE_INDEX.test(definition) ? 'applied' : 'anytime',
        statements: [`DROP INDEX CONCURRENTLY IF EXISTS ${qualified(t.schema, t.name)};`, concurrentIndex(definition), ...mark],
        rank: CREATE_RANK.index!,
        inStream: true,
      };
    }
    case 'constraint': {
      // a CHECK or foreign key this follow added NOT VALID whose VALIDATE did not run (a lock, a runner stopped)
      if (property !== 'definition' || text(target) !== `${text(source)} NOT VALID`) return undefined;
      const validate = `ALTER ${constraintOwner(o)} ${qualified(o.schema, o.relation ?? '')} VALIDATE CONSTRAINT ${ident(o.name)};`;
      return {
        when: 'applied',
        statements: [validate],
        rank: CREATE_RANK.constraint!,
        ...(o.props.on === 'table' ? { inStream: true as const } : {}),
      };
    }
    case 'policy': {
      // its roles or an expression changed in place (ALTER POLICY), as a policy made or dropped is
      // followed: no row the apply writes is filtered by it before the release enables row security
      const altered = alterStatement(o, property, source, target, targetOwner);
      return altered.startsWith('ALTER POLICY ') ? { when: 'anytime', statements: [altered], rank: CREATE_RANK.policy! } : undefined;
    }
    case 'enum type': {
      if (property !== 'labels') return undefined;
      const change = labelChanges(o, text(source), text(target));
      if (!change) return remakeEnumStep(o, text(source), text(target));
      // Not a rename: a row streamed before it carries the old label, which the target refuses once
      // renamed, and one streamed after it the new label, which the target refuses until then; no
      // position the watch can wait for lies between them while such rows stream. Its fix is shown.
      if (change.renamed) return undefined;
      return { when: 'anytime', statements: change.statements, rank: CREATE_RANK['enum type']! };
    }
    case 'domain':
      return domainStep(o, property, source, target, targetOwner);
    case 'composite type': {
      if (property !== 'attributes') return undefined;
      const change = attributeChanges(o, text(source), text(target));
      // Only attributes added at the end: a value streamed after the change carries them all, which
      // the target refuses until it has them (the stream stops on it and, tried again on its own,
      // goes on once they are added); one dropped or retyped changes what the rows already there
      // hold, which only the user can decide. Its fix is shown.
      if (!change?.added) return undefined;
      return { when: 'anytime', statements: change.statements, rank: CREATE_RANK['composite type']! };
    }
    default:
      return undefined;
  }
}

/**
 * An enum type the source made again with labels removed or reordered (none added): every label a
 * row streamed after the change carries is valid in the target's type, so it waits for the apply
 * to pass it. One with a label added too is left to the user (its fix is shown): a row streamed
 * with that label stops the stream before the apply could pass the change.
 */
function remakeEnumStep(o: SchemaObject, source: string, target: string): FollowStep | undefined {
  const removed = labelsRemoved(source, target);
  if (!removed) return undefined;
  return {
    when: 'applied',
    statements: [createStatement(o)],
    rank: CREATE_RANK['enum type']!,
    remakeEnum: { schema: o.schema, name: o.name, labels: source, removed },
  };
}

/**
 * An enum type the source made again under its name (its OID there is not the one recorded when
 * the target's type last matched it, flow/enumRemake.ts `remadeEnumSteps`) with labels added as
 * well as removed or reordered, which PostgreSQL does only by making it anew: rows streamed before
 * the change may carry a removed label, rows after it an added one, and no position lies between
 * them. The target's type is first given the labels it lacks (ADD VALUE refuses no row), at once,
 * so that it takes both; once it holds all the source's labels, the next look finds only removals
 * (remakeEnumStep), made once the apply has passed them. Told by its OID from a label renamed in
 * place, which keeps its rows' values.
 */
export function widenEnumStep(o: SchemaObject, labels: string): FollowStep {
  return {
    when: 'anytime',
    statements: [createStatement(o)],
    rank: CREATE_RANK['enum type']!,
    remakeEnum: { schema: o.schema, name: o.name, labels, removed: [], widen: true },
  };
}

/**
 * A domain changed in place, its columns kept: a default fills no streamed row (each carries its
 * value), and NOT NULL dropped loosens it; set, it can refuse a row written before it on the source,
 * so it waits for the apply to pass it.
 */
function domainStep(
  o: SchemaObject,
  property: string,
  source: PropertyValue,
  target: PropertyValue,
  targetOwner: string,
): FollowStep | undefined {
  if (property !== 'default' && property !== 'not null') return undefined;
  const when = property === 'not null' && source === true ? 'applied' : 'anytime';
  return { when, statements: [alterStatement(o, property, source, target, targetOwner)], rank: CREATE_RANK.domain! };
}
