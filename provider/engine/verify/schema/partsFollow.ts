// The statements that make a target table's indexes and constraints the source's, as the source's
// event trigger told them at one command (cdc/apply/ddlFollow.ts; schemaChangeCapture
// eventTrigger). Pure. The steps are the schema follow's own (follow.ts): what it creates, drops
// and alters while changes stream is what is made here, in the apply's transaction instead of
// beside it: so an index is built plainly, not CONCURRENTLY (which refuses a transaction block),
// holding the table only against the apply itself, and nothing waits for a position, the place
// in the stream being exact.
import type { TablePart, TableParts } from '../../cdc/apply/ddlFollow';
import { literal } from '../../connect/quote';
import { objectKey, type SchemaObject } from './catalog';
import { describeObject } from './fixes';
import { judgeOnTarget } from './identity';
import { alterStep, createStep, dropStep, type FollowStep } from './follow';

/** A part as the schema check reads it (catalog.ts): only what the follow steps look at is filled. */
function objectOf(table: TableParts, part: TablePart): SchemaObject {
  return {
    kind: part.kind,
    schema: table.schema,
    relation: table.name,
    name: part.name,
    args: null,
    classId: '',
    objectId: '',
    ownerObjectId: table.oid,
    props: { definition: part.definition, on: 'table', 'foreign key': part['foreign key'] === true },
  };
}

/**
 * A statement as one transaction of the apply takes it: CONCURRENTLY left out, and run so that a
 * statement the target cannot take yet leaves the transaction going. The command's message comes
 * before the table's next Relation message, which brings its columns: an index on a column added
 * or renamed by the same transaction names a column the target has not got yet. Such a statement
 * (a column or object missing, or already there) is skipped with a warning, and the schema watch,
 * which stays on, follows the difference once the apply is past it; any other error fails the
 * batch as a row's would.
 */
function asApplyStatement(statement: string): string {
  const plain = statement.replace(/^(CREATE (?:UNIQUE )?INDEX|DROP INDEX) CONCURRENTLY /, '$1 ');
  const text = literal(plain);
  // a dollar quote the definition does not hold (a string constant in a CHECK could)
  let tag = '$pgferry$';
  for (let i = 0; text.includes(tag); i++) tag = `$pgferry${i}$`;
  return `DO ${tag} BEGIN EXECUTE ${text};
EXCEPTION WHEN undefined_column OR undefined_object OR undefined_table OR duplicate_table OR duplicate_object THEN
  RAISE WARNING 'pgferry: left to the schema watch: %', SQLERRM;
END ${tag}`;
}

/** The parts' keys as the known objects hold them (control/knownObjects.ts, the schema check's objectKey). */
export function partKeys(table: TableParts): string[] {
  return table.parts.map((p) => objectKey(objectOf(table, p)));
}

/**
 * The statements, in the order the target takes them: constraints dropped before indexes (an
 * index a dropped constraint owned goes with it), then what is created or changed, in the follow's
 * rank order. Foreign keys are neither made nor dropped: the target's are set aside while changes
 * stream and come back at the release. A target part the source no longer has is dropped only if
 * it is `known` (restored by the copy, or seen on the source): one made on the target alone is
 * kept, and the schema watch reports it (DESIGN: never destroy). Nor if another object holds its
 * name on the table the identity was recorded on (`identities`, control/knownObjects.ts): someone
 * dropped the migration's and made their own. One pgferry made again alike (an ALTER COLUMN TYPE
 * rebuilds indexes) is left to the schema watch too, which tells it by its definition.
 */
export function planPartsFollow(
  source: TableParts,
  target: TableParts,
  known: ReadonlySet<string>,
  identities: ReadonlyMap<string, string> = new Map(),
): { statements: string[]; followed: string[]; made: string[] } {
  // the schema watch's to follow, both ways: a key made needs the source's side recorded on a
  // managed target, and the target's keys are set aside while changes stream
  const notKeys = (t: TableParts): TableParts => ({ ...t, parts: t.parts.filter((p) => p['foreign key'] !== true) });
  source = notKeys(source);
  target = notKeys(target);
  const key = (p: TablePart) => `${p.kind}\0${p.name}`;
  const theirs = new Map(target.parts.map((p) => [key(p), p]));
  const ours = new Map(source.parts.map((p) => [key(p), p]));
  const targetConstraints = new Set(target.parts.filter((p) => p.kind === 'constraint').map((p) => p.name));
  const constraintNames = new Set(
    source.parts.filter((p) => p.kind === 'constraint').map((p) => [source.schema, source.name, p.name].join('\0')),
  );
  const drops: { step: FollowStep; what: string }[] = [];
  const makes: { step: FollowStep; what: string; made?: string }[] = [];
  const gone = target.parts
    .filter((p) => !ours.has(key(p)))
    .filter((p) => known.has(objectKey(objectOf(target, p))) && !anotherUnderName(target, p, identities))
    // an index its constraint owns is dropped with the constraint
    .filter((p) => !(p.kind === 'index' && targetConstraints.has(p.name)))
    .sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'constraint' ? -1 : 1));
  for (const p of gone) {
    const o = objectOf(target, p);
    const step = dropStep(o);
    if (step) drops.push({ step, what: `${describeObject(o)} dropped` });
  }
  for (const p of source.parts) {
    const o = objectOf(source, p);
    const t = theirs.get(key(p));
    if (!t) {
      const step = createStep(o, constraintNames);
      if (step) makes.push({ step, what: `${describeObject(o)} created`, made: objectKey(o) });
      continue;
    }
    // Only a CHECK left NOT VALID and validated since: a definition that reads otherwise is most
    // often a column renamed by the same command, which the table's next Relation message follows
    // (the target's definition then reads as the source's); one really made again under its name
    // is followed by the schema watch.
    if (t.definition !== `${p.definition} NOT VALID` || p.kind !== 'constraint') continue;
    const altered = alterStep(o, objectOf(target, t), 'definition', p.definition, t.definition, '');
    if (altered) makes.push({ step: altered, what: `${describeObject(o)} validated` });
  }
  makes.sort((a, b) => a.step.rank - b.step.rank);
  const all = [...drops, ...makes];
  return {
    statements: all.flatMap((s) => s.step.statements.map(asApplyStatement)),
    followed: all.map((s) => s.what),
    made: makes.flatMap((s) => (s.made === undefined ? [] : [s.made])),
  };
}

/**
 * Whether a target part is another object than the one whose identity was recorded under its key
 * (identity.ts), on the same table: not the one pgferry made there. No identity or another table:
 * nothing tells, judged by name.
 */
function anotherUnderName(target: TableParts, part: TablePart, identities: ReadonlyMap<string, string>): boolean {
  const now = part.oid === undefined ? undefined : { relation: target.oid, object: part.oid };
  return judgeOnTarget(identities.get(objectKey(objectOf(target, part))), now) === 'other';
}
