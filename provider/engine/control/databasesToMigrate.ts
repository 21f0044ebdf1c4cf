// The databases of a migration created without them (Azure's dbsToMigrate left out), named later by
// an update (`pgferry update --db-names`, an update body with dbsToMigrate, PgMigration's input):
// the stored spec takes the list, each database its row, in one transaction, and the runner waiting
// in WaitingForDBsToMigrateSpecification is woken. Plain functions over the catalog handle
// (connection.ts), as every module of control/.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA, REQUEST_CHANNEL } from '../core/names';
import { NAMED_LATER_KEY } from '../input/publicSpec';
import type { CatalogConnection } from './connection';

const S = ident(CONTROL_SCHEMA);

/**
 * Names the databases of a migration that has none and has not ended: the spec (and an agents'
 * run spec) takes them, each gets its row in the order given. Returns false when the migration had
 * databases already or ended meanwhile (nothing is written then), so two updates never both apply.
 */
export async function nameDatabases(catalog: CatalogConnection, name: string, databases: readonly string[]): Promise<boolean> {
  const list = JSON.stringify([...databases]);
  const named = await catalog.transaction(async (client) => {
    const updated = await client.query(
      `UPDATE ${S}.migration
          SET spec = jsonb_set(spec, '{databases}', $2::jsonb) || jsonb_build_object($3::text, true),
              run_spec = CASE WHEN run_spec IS NULL THEN NULL ELSE jsonb_set(run_spec, '{databases}', $2::jsonb) END,
              updated_at = now()
        WHERE name = $1
          AND state NOT IN ('Succeeded', 'Failed', 'Canceled', 'ValidationFailed')
          AND jsonb_array_length(COALESCE(spec->'databases', '[]'::jsonb)) = 0
          AND NOT EXISTS (SELECT 1 FROM ${S}.migration_database WHERE migration = $1)`,
      [name, list, NAMED_LATER_KEY],
    );
    if (updated.rowCount === 0) return false;
    for (const [i, database] of databases.entries()) {
      await client.query(`INSERT INTO ${S}.migration_database (migration, database, ordinal) VALUES ($1, $2, $3)`, [name, database, i]);
    }
    return true;
  });
  if (named) await catalog.query('SELECT pg_notify($1, $2)', [REQUEST_CHANNEL, name]);
  return named;
}
