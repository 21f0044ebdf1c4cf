// Which declarative resource owns a migration (pgferry.migration.resource_owner, control migration
// 26): the random id drawn by the create that registered it, or by the explicit adoption that took
// it over. A caller's delete acts only on a migration whose owner is its own: a resource renamed
// without an alias, whose new create adopted the migration, must not cancel it on its way out.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import type { CatalogConnection } from './connection';

const S = ident(CONTROL_SCHEMA);

/** The migration's owner: undefined when it has none (registered by the CLI, or before owners) or does not exist. */
export async function resourceOwnerOf(catalog: CatalogConnection, migration: string): Promise<string | undefined> {
  const [row] = await catalog.query<{ resource_owner: string | null }>(`SELECT resource_owner FROM ${S}.migration WHERE name = $1`, [
    migration,
  ]);
  return row?.resource_owner ?? undefined;
}

/** An explicit adoption: the migration is `owner`'s from now on (the previous owner's delete leaves it). */
export async function setResourceOwner(catalog: CatalogConnection, migration: string, owner: string): Promise<void> {
  await catalog.query(`UPDATE ${S}.migration SET resource_owner = $2 WHERE name = $1`, [migration, owner]);
}
