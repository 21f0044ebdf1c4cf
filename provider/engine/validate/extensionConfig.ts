// The configuration tables of extensions (pg_extension_config_dump): pg_partman's part_config, the
// SRIDs a user adds to PostGIS's spatial_ref_sys. pgferry copies the rows their condition selects, as
// pg_dump does, in the copy's snapshot (switchover/extensionConfigSync.ts), and the verification
// compares them.
// An online migration does not stream them (an extension's table is not in the publication, which
// lists the tables the filters move): it copies them again at the cutover, after the drain. That is
// said once here, for each table holding such rows, with what it leaves to the user: a row deleted
// on the source while streaming is not deleted on the target (nothing is), and the cutover's
// verification stops on it.
import type pg from 'pg';
import { displayIdent, displayName, qualified } from '../connect/quote';
import type { ValidationResult } from '../core/model';
import { readExtensionConfigTables } from '../catalog/extensionConfigTables';
import { CODES } from './codes';
import { CHECK_TYPES, warning } from './result';

/** Online: a warning per extension whose configuration tables hold rows its condition selects. */
export async function checkExtensionConfigTables(client: pg.Client, database: string, online: boolean): Promise<ValidationResult[]> {
  if (!online) return [];
  const held = new Map<string, string[]>();
  for (const t of await readExtensionConfigTables(client)) {
    const table = qualified(t.schema, t.name);
    // the condition is the extension's own SQL from the catalog (WHERE ...), as pg_dump runs it
    const count = await client.query<{ n: string }>(`SELECT count(*)::int8::text AS n FROM ONLY ${table} ${t.condition}`);
    const n = Number(count.rows[0]?.n ?? 0);
    if (n > 0) held.set(t.extension, [...(held.get(t.extension) ?? []), `${displayName(t.schema, t.name)} (${n} row(s))`]);
  }
  return [...held].map(([extension, tables]) =>
    warning(
      CODES.EXTENSION_CONFIG_ROWS,
      CHECK_TYPES.extensions,
      `the configuration tables of extension ${displayIdent(extension)} hold rows of the database's own: ${tables.join(', ')}; they are copied with the data and compared by the verification, but not streamed (an extension's table is not published): what the source changes in them while streaming is copied at the cutover, after the drain`,
      `nothing to do while rows are only added or changed; a row deleted from them on the source while streaming stays on the target and stops the cutover's verification naming the table: delete it on the target too, then ask for the cutover again`,
      { database },
    ),
  );
}
