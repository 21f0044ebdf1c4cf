// Which PgMigration resource owns a migration: a random id its create draws, kept in its Pulumi
// state (the `resourceOwner` output) and in the target's control catalog. A create never takes
// over a migration it finds unless the program says so (the import option), as Pulumi adopts
// only by import; a delete or update by a resource whose state holds another id leaves the
// migration untouched, so the old resource of a rename without an alias goes away without
// cancelling what the new one adopted.
import { randomUUID } from 'node:crypto';
import * as engine from '../engine';
import type { MigrationSpec } from '../engine';

type Props = Record<string, unknown>;

/** The output holding the resource's id (never an input: check refuses it as unknown). */
const OWNER_KEY = 'resourceOwner';

/** A new resource's id. */
export const newResourceOwner = (): string => randomUUID();

/** The id a resource's state holds; undefined for a resource created before owners existed. */
export function resourceOwnerIn(props: Props): string | undefined {
  const owner = props[OWNER_KEY];
  return typeof owner === 'string' && owner !== '' ? owner : undefined;
}

/** The properties with the resource's id, so every output (a partial failure's too) keeps it. */
export function withResourceOwner(props: Props, owner: string | undefined): Props {
  return owner === undefined ? props : { ...props, [OWNER_KEY]: owner };
}

/**
 * Whether the resource whose state is `props` owns the migration: the catalog holds its id, or
 * neither holds one (a migration and a resource both from before owners existed).
 */
export async function ownsMigration(spec: MigrationSpec, props: Props): Promise<{ owns: boolean; owner: string | undefined }> {
  const owner = await engine.migrationResourceOwner(spec.target, spec.migrationName);
  return { owns: owner === resourceOwnerIn(props), owner };
}

/** The one line said when a resource leaves a migration it does not own. */
export function notOwnedLine(spec: MigrationSpec, what: string): string {
  return `${spec.migrationName}: ${what}: the migration on the target belongs to another PgMigration resource (one that adopted it with the import option) or was made outside this one; it is left as it is`;
}
