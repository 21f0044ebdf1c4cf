// Sequence values at cutover: sequences are not streamed, so their current source values are
// copied once the last changes are applied (the source is quiet by then).
import { listSequences } from '../catalog';
import { withSession } from '../connect/session';
import { readSequenceValues, writeSequenceValues } from '../copy/sequenceValues';
import type { ServerSpec } from '../input/migrationSpec';

/** Copies every sequence's last_value/is_called from source to target; returns how many. */
export async function syncSequences(source: ServerSpec, target: ServerSpec, database: string): Promise<number> {
  const values = await withSession(source, { database, purpose: 'cutover' }, async (client) =>
    readSequenceValues(client, await listSequences(client)),
  );
  await withSession(target, { database, purpose: 'cutover', writable: true }, (client) => writeSequenceValues(client, values));
  return values.length;
}
