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
// filters) is never set: the cutover warns of it, naming it and what to do. At a fall-back, a
// free-standing one is paired by the OIDs its window recorded when it opened (freeStandingPairs,
// pairedByOpening): the applications may rename it on the new server, or make another under its
// name, in the window.
import { listSequencesWithOwners, sequencePairKeys, type OwnedSequence, type SourceSequence } from '../catalog/introspect';
import { withSessionPair } from '../connect/session';
import type pg from 'pg';
import type { ServerSpec } from '../input/migrationSpec';
import { readFilterPlan, UNFILTERED, type FilterPlan } from '../filter/plan';
import { qualifiedKey, schemaObjectKey } from '../core/names';
import type { TableFilters } from '../input/patterns';
import type { KnownOfDatabase } from '../control/knownObjects';
import { partsOf } from '../verify/schema/identity';
import { displayName, ident, qualified } from '../connect/quote';
import type { SequenceAtOpening } from '../control/fallbackWindows';

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
  /**
   * Where the window recorded its sequences (atOpening): the new server's free-standing sequence
   * each known key names now (its identity, as control/knownObjects.ts records one), the one paired
   * with the old source's of that name, so that the schema check compares those two (a sequence
   * made again in the window is the applications' now, not someone else's under the migration's name).
   */
  readonly identities?: ReadonlyMap<string, string>;
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
  /**
   * The free-standing sequences paired when the window opened, by their OID on each server (control
   * migration 36); undefined for a window opened before they were recorded (by name then).
   */
  readonly atOpening?: readonly SequenceAtOpening[];
}

/**
 * The target's free-standing sequences, each with its OID and the OID of the source's it pairs with
 * by name as the cutover's sync pairs them (only where it is the migration's, `mine`; null for
 * none): what a window records when it opens (control/fallbackWindows.ts markFallbackOpen), right
 * after the cutover's verification found them alike, so that a fall-back pairs them by OID, and
 * tells one made in the window (the applications') from one that was there before (a DBA's).
 */
export async function freeStandingPairs(
  source: ServerSpec,
  target: ServerSpec,
  database: string,
  mine?: MadeByMigration,
): Promise<SequenceAtOpening[]> {
  const options = { database, purpose: 'fallback window', readOnly: true };
  return withSessionPair(source, options, target, options, async (pair) => {
    const byName = new Map(
      (await listSequencesWithOwners(pair.source)).filter((s) => !s.owner).map((s) => [qualifiedKey(s.schema, s.name), s]),
    );
    return (await listSequencesWithOwners(pair.target)).flatMap((t) => {
      if (t.owner) return [];
      const mate = mine === undefined || mine(t) ? byName.get(qualifiedKey(t.schema, t.name)) : undefined;
      return [{ schema: t.schema, name: t.name, source: mate?.oid ?? null, target: t.oid }];
    });
  });
}

/**
 * A fall-back stopped on sequences the window renamed on the new server: the old source's keeps the
 * name the applications no longer use, and a namesake there may be another sequence.
 */
export class SequenceRenamedInWindow extends Error {}

type SequencePair = { readonly there: OwnedSequence; readonly here: OwnedSequence };

/** The stop's one line for sequences renamed on the new server: each named, and the statements that follow the rename on the old source. */
function renamedMessage(renamed: readonly SequencePair[], there: readonly OwnedSequence[]): string {
  const named = renamed.map(({ here, there: mate }) => {
    const other = there.some((t) => t.oid !== mate.oid && t.schema === here.schema && t.name === here.name);
    return (
      `sequence ${displayName(here.schema, here.name)} of the old source is ${displayName(mate.schema, mate.name)} on the new server ` +
      `(renamed there in the window, found by its OID${other ? `; the new server's ${displayName(here.schema, here.name)} is another sequence, made there since` : ''})`
    );
  });
  const fixes = renamed.flatMap(({ here, there: mate }) => [
    ...(mate.schema !== here.schema ? [`ALTER SEQUENCE ${qualified(here.schema, here.name)} SET SCHEMA ${ident(mate.schema)}`] : []),
    ...(mate.name !== here.name ? [`ALTER SEQUENCE ${qualified(mate.schema, here.name)} RENAME TO ${ident(mate.name)}`] : []),
  ]);
  return (
    `${named.join(', ')}: its values cannot be moved back under a name the applications no longer use; ` +
    `fix on the old source: ${fixes.join('; ')}; then fall back again`
  );
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
 * The new server's sequences paired with the old source's at a fall-back of a window that recorded
 * its free-standing ones (atOpening): an owned one as pairSequences pairs it (takenBack); a recorded
 * one by its OID on each server, whatever either calls it now, and where the new server's is gone
 * (dropped and made again in the window), with the one under the old source's name there that was
 * not there at the opening; one made in the window (none of those recorded) is the applications',
 * paired by its name with an old source's no record names (the user made it there as on the new
 * server). One recorded as not the migration's is never paired. A recorded one the new server
 * renamed stops the fall-back (SequenceRenamedInWindow): the old source's must follow the rename
 * before its values move.
 */
function pairedByOpening(
  there: readonly OwnedSequence[],
  here: readonly OwnedSequence[],
  filter: FilterPlan,
  mine: MigrationSequences & { readonly atOpening: readonly SequenceAtOpening[] },
): SequencePair[] {
  const free = there.filter((s) => !s.owner);
  const thereByOid = new Map(free.map((s) => [s.oid, s]));
  const hereByOid = new Map(here.filter((s) => !s.owner).map((s) => [s.oid, s]));
  const recordedThere = new Set(mine.atOpening.map((r) => r.target));
  const recordedHere = new Set(mine.atOpening.flatMap((r) => (r.source === null ? [] : [r.source])));
  const made = free.filter((t) => !recordedThere.has(t.oid)); // in the window
  const used = new Set<string>();
  const pairs: SequencePair[] = [];
  const renamed: SequencePair[] = [];
  for (const r of mine.atOpening) {
    const s = r.source === null ? undefined : hereByOid.get(r.source);
    if (!s) continue; // not the migration's, or gone from the old source: a namesake there is a bystander's
    const mate = thereByOid.get(r.target) ?? made.find((t) => !used.has(t.oid) && t.schema === s.schema && t.name === s.name);
    if (!mate) continue;
    used.add(mate.oid);
    (mate.schema === s.schema && mate.name === s.name ? pairs : renamed).push({ there: mate, here: s });
  }
  if (renamed.length > 0) throw new SequenceRenamedInWindow(renamedMessage(renamed, there));
  const leftOut = (s: OwnedSequence) => filter.leftOutNames.has(qualifiedKey(s.schema, s.name));
  const rest = made.filter((t) => !used.has(t.oid) && !leftOut(t));
  const unrecorded = here.filter((s) => !s.owner && !recordedHere.has(s.oid));
  const owned = takenBack(
    there.filter((s) => s.owner),
    filter,
    mine,
  );
  return [
    ...pairs,
    ...pairSequences(rest, unrecorded),
    ...pairSequences(
      owned,
      here.filter((s) => s.owner),
    ),
  ];
}

/** The identity of the new server's free-standing sequence of each pair under one name on both servers, by its known key (SequencesBack.identities). */
function pairedIdentities(pairs: readonly SequencePair[]): Map<string, string> {
  return new Map(
    pairs.flatMap(({ there, here }) =>
      there.owner || there.schema !== here.schema || there.name !== here.name
        ? []
        : [[schemaObjectKey('sequence', there.schema, null, there.name, null), `:${there.oid}:`] as const],
    ),
  );
}

/**
 * At a fall-back (docs/fallback.md): the new server's sequence values back to the old source, never
 * lower than what the old source handed out itself (its values from before the cutover, or a
 * nextval since): valuesAhead. So an application back on the old source draws no value twice. Each
 * sequence is paired as pairSequences pairs them, and only the migration's (takenBack): one owned
 * by a column of a table the migration moved, by that column; a free-standing one by the OIDs the
 * window recorded (pairedByOpening), or by its name where it recorded none (a window opened before
 * control migration 36), only the one the migration restored. `filter` is the old source's plan, read once by the fall-back: a sequence
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
    const theirs = await listSequencesWithOwners(there);
    const { atOpening } = mine;
    const pairs = atOpening
      ? pairedByOpening(theirs, ours, filter, { ...mine, atOpening })
      : pairSequences(takenBack(theirs, filter, mine), ours);
    const values = await readSequenceValues(
      there,
      pairs.map((p) => p.there),
    );
    const ahead = await valuesAhead(
      here,
      values.map((value, i) => ({ value, here: pairs[i]!.here })),
    );
    await writeSequenceValues(here, ahead);
    const counts = { moved: ahead.length, kept: pairs.length - ahead.length };
    return atOpening ? { ...counts, identities: pairedIdentities(pairs) } : counts;
  });
}
