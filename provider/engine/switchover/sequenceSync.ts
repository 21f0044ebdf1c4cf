// Sequence values, which neither stream carries: read and set on the other server with setval, as
// pg_dump does (last_value and is_called). The copy reads them in its snapshot and sets them after
// the post-data restore (flow/databasePhases.ts); a cutover copies the source's current values
// once the last changes are applied (the source is quiet by then), and a fall-back brings the new
// server's back, never lower. At a switch the two servers' sequences are paired as the migration
// pairs their tables, never by the sequence's own name alone: one a column owns (serial, identity)
// by that column (its table's name and its own), whatever each server named it; a free-standing one
// by its name, only when it is the migration's (within its filters; on the target, the one pgferry
// restored or made there, told by the known objects and the OID recorded for each: not one a DBA
// made there under that name, at a cutover or in a fallback window). A sequence of that name that
// is someone else's (a DBA's on the target, a bystander's on the old source, one outside the
// filters) is never set: the cutover warns of it, naming it and what to do.
import { listSequencesWithOwners, sequencePairKeys, type OwnedSequence, type SourceSequence } from '../catalog/introspect';
import { withSessionPair } from '../connect/session';
import type pg from 'pg';
import type { ServerSpec } from '../input/migrationSpec';
import { readFilterPlan, UNFILTERED, type FilterPlan } from '../filter/plan';
import { qualifiedKey, schemaObjectKey } from '../core/names';
import type { TableFilters } from '../input/patterns';
import type { KnownOfDatabase } from '../control/knownObjects';
import { partsOf } from '../verify/schema/identity';
import { displayName } from '../connect/quote';

export interface SequenceValue {
  readonly sequence: SourceSequence;
  readonly lastValue: string;
  readonly isCalled: boolean;
}

/** Sequences read per statement: one round trip for many, a statement of bounded length. */
const SEQUENCES_PER_READ = 500;

/**
 * Every sequence's last_value and is_called, many per round trip (one SELECT of each sequence,
 * joined by UNION ALL, in order): a sequence is not transactional, so reading them in one statement
 * reads each as its own SELECT would.
 */
export async function readSequenceValues(source: pg.Client, sequences: readonly SourceSequence[]): Promise<SequenceValue[]> {
  const values: SequenceValue[] = [];
  for (let i = 0; i < sequences.length; i += SEQUENCES_PER_READ) {
    const group = sequences.slice(i, i + SEQUENCES_PER_READ);
    const sql = group
      .map((sequence, n) => `SELECT ${n}::int4 AS n, last_value::text AS last_value, is_called FROM ${sequence.sql}`)
      .join(' UNION ALL ');
    const { rows } = await source.query<{ n: number; last_value: string; is_called: boolean }>(`${sql} ORDER BY n`);
    for (const row of rows) values.push({ sequence: group[row.n]!, lastValue: row.last_value, isCalled: row.is_called });
  }
  return values;
}

/**
 * Sets each value on the target; returns how many were set. `absent: 'skip'` leaves out a sequence
 * the target does not have (one the source made while streaming, which the cutover's schema check
 * makes, and whose value the verification's recheck copies then: switchover/sequenceRecheck.ts);
 * otherwise such a sequence fails the statement (the copy restored every one).
 */
export async function writeSequenceValues(
  target: pg.Client,
  values: readonly SequenceValue[],
  absent: 'fail' | 'skip' = 'fail',
): Promise<number> {
  if (values.length === 0) return 0;
  // One round trip: setval by regclass text, values as parameters.
  const present = absent === 'skip' ? ' WHERE pg_catalog.to_regclass(s) IS NOT NULL' : '';
  const { rowCount } = await target.query(
    `SELECT pg_catalog.setval(s::regclass, v::int8, c) FROM unnest($1::text[], $2::text[], $3::bool[]) AS u(s, v, c)${present}`,
    [values.map((v) => v.sequence.sql), values.map((v) => v.lastValue), values.map((v) => v.isCalled)],
  );
  return rowCount ?? 0;
}

/** Each sequence of `there` with its counterpart `here` on the other server (sequencePairKeys); one without is left out. */
function pairSequences(
  there: readonly OwnedSequence[],
  here: readonly OwnedSequence[],
): { readonly there: OwnedSequence; readonly here: OwnedSequence }[] {
  const ours = sequencePairKeys(here);
  return [...sequencePairKeys(there)].flatMap(([key, s]) => {
    const mate = ours.get(key);
    return mate ? [{ there: s, here: mate }] : [];
  });
}

/**
 * Whether a free-standing sequence of the target (the new server at a fall-back) is the migration's:
 * known (restored by the copy, or followed from the source) and the very one recorded there (its
 * OID), not one a DBA made there under a name the source has (after dropping the migration's, or
 * before the source made its own). Undefined when nothing tells (no followSchemaChanges, or a
 * catalog that recorded nothing): by its name then, as before known objects were recorded.
 */
export type MadeByMigration = (s: OwnedSequence) => boolean;

/** MadeByMigration from what is known of the database (control/knownObjects.ts knownWithIdentities). */
export function madeByMigration(known: KnownOfDatabase | undefined): MadeByMigration | undefined {
  if (!known || known.known.size === 0) return undefined;
  return (s) => {
    const key = schemaObjectKey('sequence', s.schema, null, s.name, null);
    if (!known.known.has(key)) return false;
    const recorded = partsOf(known.knownIdentities.get(key));
    return recorded === undefined || recorded.object === s.oid;
  };
}

/** A free-standing sequence of the target a sync left alone: someone else's under the source's name, with the source's value. */
export interface NotTheMigrations {
  readonly name: string;
  readonly sourceValue: string;
}

/** What a forward sync did: how many values it set, and the target's sequences it left alone as someone else's. */
export interface SequencesCopied {
  readonly copied: number;
  readonly notOurs: readonly NotTheMigrations[];
}

/** The warning of the target's sequences a sync left alone: each named, and what to do. */
export function notOursMessage(notOurs: readonly NotTheMigrations[]): string {
  const one = notOurs.length === 1;
  const named = notOurs.map((n) => `${n.name} (the source's last_value ${n.sourceValue})`).join(', ');
  return (
    `cutover: ${one ? 'sequence' : 'sequences'} ${named} on the target ${one ? 'is' : 'are'} not the one pgferry restored there ` +
    `(made there by someone else under the source's name), so ${one ? 'its value was' : 'their values were'} not set; ` +
    `fix on the target: rename ${one ? 'it' : 'them'} (ALTER SEQUENCE ... RENAME TO) and make the source's again (pgferry makes it at its next look), ` +
    `or keep ${one ? 'it' : 'them'} and set the value yourself (setval)`
  );
}

/**
 * Copies every moved sequence's last_value/is_called from source to target, each onto its
 * counterpart there (pairSequences: an owned one by its column, a free-standing one by its name);
 * returns how many, and the free-standing ones of the target left alone as not the migration's
 * (`mine`, MadeByMigration). A sequence the target does not have yet (the source made it since the
 * schema watch's last look) is left to the cutover's schema check, which makes it, and to the
 * verification, which copies its value then (switchover/sequenceRecheck.ts): never a failed cutover.
 */
export async function syncSequences(
  source: ServerSpec,
  target: ServerSpec,
  database: string,
  filters?: TableFilters,
  mine?: MadeByMigration,
): Promise<SequencesCopied> {
  const options = { database, purpose: 'cutover' };
  return withSessionPair(source, options, target, { ...options, writable: true }, async (pair) => {
    const filter = filters ? await readFilterPlan(pair.source, filters) : UNFILTERED;
    const moved = (await listSequencesWithOwners(pair.source)).filter(
      (s) => !filter.leftOut.has(s.oid) && !filter.leftOutNames.has(qualifiedKey(s.schema, s.name)),
    );
    const pairs = pairSequences(moved, await listSequencesWithOwners(pair.target));
    const values = await readSequenceValues(
      pair.source,
      pairs.map((p) => p.there),
    );
    const ours = (i: number): boolean => pairs[i]!.here.owner !== undefined || mine === undefined || mine(pairs[i]!.here);
    const copied = await writeSequenceValues(
      pair.target,
      values.flatMap((v, i) => (ours(i) ? [{ ...v, sequence: pairs[i]!.here }] : [])),
      'skip',
    );
    const notOurs = values.flatMap((v, i) =>
      ours(i) ? [] : [{ name: displayName(pairs[i]!.here.schema, pairs[i]!.here.name), sourceValue: v.lastValue }],
    );
    return { copied, notOurs };
  });
}

/** What a fall-back did with the sequences: moved forward on the old source, or kept (it was already as far). */
export interface SequencesBack {
  readonly moved: number;
  readonly kept: number;
}

/**
 * Of values read on another server, each paired with the sequence `here` on the session's server it
 * is for, those that move it forward, never lower than what it handed out itself: its next value
 * becomes the further of the two, in the sequence's own direction. Returned as values of `here`,
 * for writeSequenceValues.
 */
export async function valuesAhead(
  client: pg.Client,
  pairs: readonly { readonly value: SequenceValue; readonly here: SourceSequence }[],
): Promise<SequenceValue[]> {
  const ahead: SequenceValue[] = [];
  for (const { value, here } of pairs) {
    const { rows } = await client.query<{ last_value: string; is_called: boolean; increment: string }>(
      `SELECT s.last_value::text AS last_value, s.is_called, q.seqincrement::text AS increment
         FROM ${here.sql} s, pg_catalog.pg_sequence q WHERE q.seqrelid = $1::regclass`,
      [here.sql],
    );
    const there = rows[0]!;
    const step = BigInt(there.increment);
    // the next value each server would hand out, compared in the sequence's direction
    const next = (last: string, called: boolean): bigint => BigInt(last) + (called ? step : 0n);
    const theirs = next(value.lastValue, value.isCalled);
    const ours = next(there.last_value, there.is_called);
    if (step > 0n ? theirs > ours : theirs < ours) ahead.push({ ...value, sequence: here });
  }
  return ahead;
}

/** What tells the migration's sequences on the new server from the others at a fall-back. */
export interface MigrationSequences {
  /**
   * The new server's tables when the window opened (windowTables.ts): a sequence owned by a column
   * of a table made since is the window's, moved forward by the carry with the table's rows.
   * Undefined for a window opened before they were recorded.
   */
  readonly opening?: readonly string[];
  /**
   * Whether a free-standing sequence of the new server is the one the migration restored or made
   * there (its known objects and their OIDs); undefined when nothing tells (by its name then).
   */
  readonly madeByMigration?: MadeByMigration;
}

/** The new server's sequences a fall-back takes back: the migration's (MigrationSequences), within the old source's filters. */
function takenBack(sequences: readonly OwnedSequence[], filter: FilterPlan, mine: MigrationSequences): OwnedSequence[] {
  const opening = mine.opening ? new Set(mine.opening) : undefined;
  const leftOut = (schema: string, name: string) => filter.leftOutNames.has(qualifiedKey(schema, name));
  return sequences.filter((s) => {
    if (leftOut(s.schema, s.name)) return false;
    if (s.owner) return !leftOut(s.owner.schema, s.owner.table) && (opening === undefined || opening.has(s.owner.tableOid));
    return mine.madeByMigration?.(s) ?? true;
  });
}

/**
 * At a fall-back (docs/fallback.md): the new server's sequence values back to the old source, never
 * lower than what the old source handed out itself (its values from before the cutover, or a
 * nextval since): valuesAhead. So an application back on the old source draws no value twice. Each
 * sequence is paired as pairSequences pairs them, and only the migration's (takenBack): one owned
 * by a column of a table the migration moved, by that column; a free-standing one the migration
 * restored, by its name. `filter` is the old source's plan, read once by the fall-back: a sequence
 * of the new server is left out by its name or its table's, one of the old source by its OID. A
 * sequence the old source lacks (made on the new server alone) is passed over: the schema check
 * names it. (The sequences of the tables the window made are carried with their rows, by the
 * tables' identity: switchover/windowTables.ts.)
 */
export async function syncSequencesBack(
  from: ServerSpec,
  to: ServerSpec,
  database: string,
  filter: FilterPlan,
  mine: MigrationSequences = {},
): Promise<SequencesBack> {
  const options = { database, purpose: 'cutover' };
  return withSessionPair(from, options, to, { ...options, writable: true }, async ({ source: there, target: here }) => {
    const ours = (await listSequencesWithOwners(here)).filter((s) => !filter.leftOut.has(s.oid));
    const pairs = pairSequences(takenBack(await listSequencesWithOwners(there), filter, mine), ours);
    const values = await readSequenceValues(
      there,
      pairs.map((p) => p.there),
    );
    const ahead = await valuesAhead(
      here,
      values.map((value, i) => ({ value, here: pairs[i]!.here })),
    );
    await writeSequenceValues(here, ahead);
    return { moved: ahead.length, kept: pairs.length - ahead.length };
  });
}
