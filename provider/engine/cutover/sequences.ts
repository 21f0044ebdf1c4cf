// Sequence values at cutover: sequences are not streamed, so their current source values are
// copied once the last changes are applied (the source is quiet by then).
import { listSequences } from '../catalog';
import { withClient } from '../connect/client';
import { readSequenceValues, writeSequenceValues } from '../copy/sequences';
import type { ServerSpec } from '../input/migrationSpec';

/** Copies every sequence's last_value/is_called from source to target; returns how many. */
export async function syncSequences(source: ServerSpec, target: ServerSpec, database: string): Promise<number> {
  const values = await withClient(source, { database, applicationName: 'pgferry cutover' }, async (client) =>
    readSequenceValues(client, await listSequences(client)),
  );
  await withClient(target, { database, applicationName: 'pgferry cutover' }, async (client) => {
    await client.query('SET default_transaction_read_only = off'); // the database may default to read-only
    await writeSequenceValues(client, values);
  });
  return values.length;
}
