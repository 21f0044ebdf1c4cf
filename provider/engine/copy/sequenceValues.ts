// Sequence values: read on the source (inside the copy snapshot offline, live at cutover) and set
// on the target with setval, as pg_dump does (last_value and is_called).
import type pg from 'pg';
import type { SourceSequence } from '../catalog/introspect';

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
