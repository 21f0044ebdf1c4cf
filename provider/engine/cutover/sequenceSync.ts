// Sequence values at cutover: sequences are not streamed, so their current source values are
// copied once the last changes are applied (the source is quiet by then).
import { listSequences } from '../catalog/introspect';
import { withSession } from '../connect/session';
import { readSequenceValues, writeSequenceValues } from '../copy/sequenceValues';
import type { ServerSpec } from '../input/migrationSpec';
import { nameKey, readFilterPlan, UNFILTERED } from '../filter/plan';
import type { TableFilters } from '../input/patterns';

/** Copies every moved sequence's last_value/is_called from source to target; returns how many. */
export async function syncSequences(source: ServerSpec, target: ServerSpec, database: string, filters?: TableFilters): Promise<number> {
  const values = await withSession(source, { database, purpose: 'cutover' }, async (client) => {
    const filter = filters ? await readFilterPlan(client, filters) : UNFILTERED;
    const sequences = (await listSequences(client)).filter((s) => !filter.leftOutNames.has(nameKey(s.schema, s.name)));
    return readSequenceValues(client, sequences);
  });
  await withSession(target, { database, purpose: 'cutover', writable: true }, (client) => writeSequenceValues(client, values));
  return values.length;
}
