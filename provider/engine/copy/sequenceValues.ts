// Sequence values: read on the source (inside the copy snapshot offline, live at cutover) and set
// on the target with setval, as pg_dump does (last_value and is_called).
import type pg from 'pg';
import type { SourceSequence } from '../catalog/introspect';

export interface SequenceValue {
  readonly sequence: SourceSequence;
  readonly lastValue: string;
  readonly isCalled: boolean;
}

export async function readSequenceValues(source: pg.Client, sequences: readonly SourceSequence[]): Promise<SequenceValue[]> {
  const values: SequenceValue[] = [];
  for (const sequence of sequences) {
    const { rows } = await source.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text AS last_value, is_called FROM ${sequence.sql}`,
    );
    values.push({ sequence, lastValue: rows[0]!.last_value, isCalled: rows[0]!.is_called });
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
