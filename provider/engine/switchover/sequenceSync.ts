// Sequence values at cutover: sequences are not streamed, so their current source values are
// copied once the last changes are applied (the source is quiet by then).
import { listSequences } from '../catalog/introspect';
import { withSession, withSessionPair } from '../connect/session';
import { readSequenceValues, writeSequenceValues, type SequenceValue } from '../copy/sequenceValues';
import type { ServerSpec } from '../input/migrationSpec';
import { readFilterPlan, UNFILTERED, type FilterPlan } from '../filter/plan';
import { qualifiedKey } from '../core/names';
import type { TableFilters } from '../input/patterns';

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
 * At a fall-back (docs/fallback.md): the new server's sequence values back to the old source, never
 * lower than what the old source handed out itself (its values from before the cutover, or a
 * nextval since): each sequence's next value on the old source becomes the further of the two, in
 * the sequence's own direction. So an application back on the old source draws no value twice.
 * `filter` is the old source's plan, read once by the fall-back: a sequence is left out by its
 * name, and one the old source lacks is passed over below whatever the plan says.
 */
export async function syncSequencesBack(from: ServerSpec, to: ServerSpec, database: string, filter: FilterPlan): Promise<SequencesBack> {
  const values = await withSession(from, { database, purpose: 'cutover' }, async (client) => {
    const sequences = (await listSequences(client)).filter((s) => !filter.leftOutNames.has(qualifiedKey(s.schema, s.name)));
    return readSequenceValues(client, sequences);
  });
  return withSession(to, { database, purpose: 'cutover', writable: true }, async (client) => {
    const ahead: SequenceValue[] = [];
    for (const value of values) {
      // a sequence made on the new server alone is not here: the schema check names it
      const found = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [value.sequence.sql]);
      if (!found.rows[0]?.ok) continue;
      const { rows } = await client.query<{ last_value: string; is_called: boolean; increment: string }>(
        `SELECT s.last_value::text AS last_value, s.is_called, q.seqincrement::text AS increment
           FROM ${value.sequence.sql} s, pg_catalog.pg_sequence q WHERE q.seqrelid = $1::regclass`,
        [value.sequence.sql],
      );
      const there = rows[0]!;
      const step = BigInt(there.increment);
      // the next value each server would hand out, compared in the sequence's direction
      const next = (last: string, called: boolean): bigint => BigInt(last) + (called ? step : 0n);
      const theirs = next(value.lastValue, value.isCalled);
      const ours = next(there.last_value, there.is_called);
      if (step > 0n ? theirs > ours : theirs < ours) ahead.push(value);
    }
    await writeSequenceValues(client, ahead);
    return { moved: ahead.length, kept: values.length - ahead.length };
  });
}
