// Sequences, source vs target: the next value each one would hand out, read independently of the
// copy that set them. Sequences are not transactional, so when the source is read through the
// copy's snapshot (an offline run's own verification) a source sequence that has moved on since
// the copy read it means a busy source, not a wrong copy. Then the target's sequence must still
// be past the rows the target holds in the column it feeds (a sequence left at its start would
// hand out their values again); a target past the source is a difference either way.
// `pgferry verify` and the cutover compare next values exactly. A fall-back's old source may be
// past the new server (verifyTables.ts, VerifyOptions.fallBack): it takes sequences back never lower.
// The two servers' sequences are paired as the switch pairs them (catalog/introspect.ts
// sequencePairKey): one a column owns (serial, identity) by that column, whatever each server named
// it (a table the user made on the old source for a fall-back may name its identity's sequence
// anew); a free-standing one by its name.
import type pg from 'pg';
import { sequencePairKeys, type SequenceOwner } from '../catalog/introspect';
import { SEQUENCE_OWNER } from '../catalog/queries';
import { displayIdent, displayName, ident, qualified } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';

/** User sequences (not an extension's, not pgferry's own) with their increment and the column that owns each, if any. */
const LIST_VERIFIED_SEQUENCES = `
SELECT n.nspname AS schema, c.relname AS name, s.seqincrement::text AS increment,
       o.table_schema, o.table_name, o.column_name
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_sequence s ON s.seqrelid = c.oid
  ${SEQUENCE_OWNER}
 WHERE c.relkind = 'S'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_temp'
   AND n.nspname <> $1
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1, 2`;

export interface SequenceState {
  readonly schema: string;
  readonly name: string;
  /** schema.name for display and matching. */
  readonly display: string;
  readonly increment: bigint;
  /** The value nextval() would return: last_value, plus the increment once it has been called. */
  readonly next: bigint;
  /** The column that owns it (serial, identity), by its table's schema and name; what pairs it with the other server's. */
  readonly owner?: Omit<SequenceOwner, 'tableOid'>;
}

/** Reads every user sequence's next value on one server. */
export async function readSequenceStates(client: pg.Client): Promise<SequenceState[]> {
  const { rows } = await client.query<{
    schema: string;
    name: string;
    increment: string;
    table_schema: string | null;
    table_name: string | null;
    column_name: string | null;
  }>(LIST_VERIFIED_SEQUENCES, [CONTROL_SCHEMA]);
  const states: SequenceState[] = [];
  for (const r of rows) {
    const value = await client.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text AS last_value, is_called FROM ${qualified(r.schema, r.name)}`,
    );
    const { last_value: last, is_called: called } = value.rows[0]!;
    const increment = BigInt(r.increment);
    states.push({
      schema: r.schema,
      name: r.name,
      display: displayName(r.schema, r.name),
      increment,
      next: BigInt(last) + (called ? increment : 0n),
      ...(r.table_schema !== null && r.table_name !== null && r.column_name !== null
        ? { owner: { schema: r.table_schema, table: r.table_name, column: r.column_name } }
        : {}),
    });
  }
  return states;
}

/** Whether `a` is past `b` in the sequence's direction. */
function past(a: bigint, b: bigint, increment: bigint): boolean {
  return increment > 0n ? a > b : a < b;
}

export type SequenceDifference =
  | { readonly kind: 'missing'; readonly display: string }
  | { readonly kind: 'extra'; readonly display: string; readonly schema: string; readonly name: string }
  | { readonly kind: 'differs' | 'moved-on'; readonly source: SequenceState; readonly target: SequenceState };

/**
 * Sequences missing on either side or with another next value, each paired with the other side's
 * by its owning column, or by its name when free-standing (see the file comment). Pure. With
 * `sourceMayHaveMovedOn` (see the file comment) a source past the target is 'moved-on', judged by
 * the caller.
 */
export function compareSequences(
  source: readonly SequenceState[],
  target: readonly SequenceState[],
  sourceMayHaveMovedOn: boolean,
): SequenceDifference[] {
  const onTarget = sequencePairKeys(target);
  const differences: SequenceDifference[] = [];
  for (const [key, s] of sequencePairKeys(source)) {
    const t = onTarget.get(key);
    onTarget.delete(key);
    if (!t) differences.push({ kind: 'missing', display: s.display });
    else if (s.next !== t.next) {
      const movedOn = sourceMayHaveMovedOn && past(s.next, t.next, s.increment);
      differences.push({ kind: movedOn ? 'moved-on' : 'differs', source: s, target: t });
    }
  }
  for (const t of onTarget.values()) differences.push({ kind: 'extra', display: t.display, schema: t.schema, name: t.name });
  return differences;
}

/** The column a sequence feeds (serial default or identity), if any. */
const OWNING_COLUMN_SQL = `
SELECT tn.nspname AS schema, t.relname AS table_name, a.attname AS column_name
  FROM pg_depend d
  JOIN pg_class t ON t.oid = d.refobjid
  JOIN pg_namespace tn ON tn.oid = t.relnamespace
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
   AND d.objid = $1::regclass AND d.deptype IN ('a', 'i')`;

/**
 * For a sequence whose source moved on: a line when the target's next value is not past the
 * rows the target already holds in the column it feeds, else undefined.
 */
export async function targetBehindItsRows(target: pg.Client, sequence: SequenceState): Promise<string | undefined> {
  const { rows } = await target.query<{ schema: string; table_name: string; column_name: string }>(OWNING_COLUMN_SQL, [
    qualified(sequence.schema, sequence.name),
  ]);
  const owner = rows[0];
  if (!owner) return undefined;
  const column = ident(owner.column_name);
  const bound = await target.query<{ v: string | null }>(
    `SELECT ${sequence.increment > 0n ? 'max' : 'min'}(${column})::text AS v FROM ONLY ${qualified(owner.schema, owner.table_name)}`,
  );
  const held = bound.rows[0]?.v;
  if (held === null || held === undefined || past(sequence.next, BigInt(held), sequence.increment)) return undefined;
  return `sequence ${sequence.display} would hand out ${sequence.next} on the target, which ${displayName(owner.schema, owner.table_name)}.${displayIdent(owner.column_name)} already holds up to ${held}`;
}

/** The line for a difference that stands (every kind but 'moved-on', which targetBehindItsRows judges). */
export function describeDifference(d: SequenceDifference): string {
  switch (d.kind) {
    case 'missing':
      return `sequence ${d.display} is missing on the target`;
    case 'extra':
      return `sequence ${d.display} is only on the target`;
    default:
      return `sequence ${d.source.display} differs: next value ${d.source.next} on the source, ${d.target.next} on the target`;
  }
}
