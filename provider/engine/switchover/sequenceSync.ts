// Sequence values, which neither stream carries: read and set on the other server with setval, as
// pg_dump does (last_value and is_called). The copy reads them in its snapshot and sets them after
// the post-data restore (flow/databasePhases.ts); a cutover copies the source's current values
// once the last changes are applied (the source is quiet by then), and a fall-back brings the new
// server's back, never lower.
import { listSequences, type SourceSequence } from '../catalog/introspect';
import { withSession, withSessionPair } from '../connect/session';
import type pg from 'pg';
import type { ServerSpec } from '../input/migrationSpec';
import { readFilterPlan, UNFILTERED, type FilterPlan } from '../filter/plan';
import { qualifiedKey } from '../core/names';
import type { TableFilters } from '../input/patterns';

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

/**
 * Copies every moved sequence's last_value/is_called from source to target; returns how many. A
 * sequence the target does not have yet (the source made it since the schema watch's last look)
 * is left to the cutover's schema check, which makes it, and to the verification, which copies its
 * value then (switchover/sequenceRecheck.ts): never a failed cutover.
 */
export async function syncSequences(source: ServerSpec, target: ServerSpec, database: string, filters?: TableFilters): Promise<number> {
  const options = { database, purpose: 'cutover' };
  return withSessionPair(source, options, target, { ...options, writable: true }, async (pair) => {
    const filter = filters ? await readFilterPlan(pair.source, filters) : UNFILTERED;
    const sequences = (await listSequences(pair.source)).filter((s) => !filter.leftOutNames.has(qualifiedKey(s.schema, s.name)));
    return writeSequenceValues(pair.target, await readSequenceValues(pair.source, sequences), 'skip');
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

/**
 * At a fall-back (docs/fallback.md): the new server's sequence values back to the old source, never
 * lower than what the old source handed out itself (its values from before the cutover, or a
 * nextval since): valuesAhead, each sequence by its name. So an application back on the old source
 * draws no value twice. `filter` is the old source's plan, read once by the fall-back: a sequence
 * is left out by its name, and one the old source lacks is passed over below whatever the plan
 * says. (The sequences of the tables the window made are carried with their rows, by the tables'
 * identity: switchover/windowTables.ts.)
 */
export async function syncSequencesBack(from: ServerSpec, to: ServerSpec, database: string, filter: FilterPlan): Promise<SequencesBack> {
  const values = await withSession(from, { database, purpose: 'cutover' }, async (client) => {
    const sequences = (await listSequences(client)).filter((s) => !filter.leftOutNames.has(qualifiedKey(s.schema, s.name)));
    return readSequenceValues(client, sequences);
  });
  return withSession(to, { database, purpose: 'cutover', writable: true }, async (client) => {
    const present: SequenceValue[] = [];
    for (const value of values) {
      // a sequence made on the new server alone is not here: the schema check names it
      const found = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [value.sequence.sql]);
      if (found.rows[0]?.ok) present.push(value);
    }
    const ahead = await valuesAhead(
      client,
      present.map((value) => ({ value, here: value.sequence })),
    );
    await writeSequenceValues(client, ahead);
    return { moved: ahead.length, kept: values.length - ahead.length };
  });
}
