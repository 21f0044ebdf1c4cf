// What a cutover request sets for that cutover alone (migration.cutover_options): read by the
// cutover it asked for, and cleared once that cutover was acted on, so the spec's values hold again.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import type { CutoverOptions } from '../input/migrationSpec';
import type { CatalogConnection } from './connection';

const M = `${ident(CONTROL_SCHEMA)}.migration`;

/** Records what a cutover request sets for that cutover alone. */
export async function recordCutoverOptions(store: CatalogConnection, migration: string, options: CutoverOptions): Promise<void> {
  await store.install(); // the column comes with version 15
  await store.query(`UPDATE ${M} SET cutover_options = $2::jsonb WHERE name = $1`, [migration, JSON.stringify(options)]);
}

/** The cutover request they came with was acted on (completed, or cleared): the spec's values hold again. */
export async function clearCutoverOptions(store: CatalogConnection, migration: string): Promise<void> {
  await store.install(); // the column comes with version 15
  await store.query(`UPDATE ${M} SET cutover_options = NULL WHERE name = $1`, [migration]);
}

/** What the pending cutover request set for that cutover alone (empty: the spec's values hold). */
export async function cutoverOptionsOf(store: CatalogConnection, migration: string): Promise<CutoverOptions> {
  const rows = await store.query<{ o: CutoverOptions | null }>(`SELECT to_jsonb(m) -> 'cutover_options' AS o FROM ${M} m WHERE name = $1`, [
    migration,
  ]);
  const options = rows[0]?.o;
  return options && typeof options === 'object' ? options : {};
}
