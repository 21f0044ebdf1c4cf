// How many times each database was cut over (pgferry.migration_database.cutovers, control
// migration 24; docs/fallback.md "The forward stream again"): one at the first cutover, one more at
// each cutover after a fall-back with --resume-forward. PgMigration compares its cutoverCount input
// with it, so `pulumi up` cuts over a second time only when the program asks for it.
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import type { CatalogConnection } from './connection';

const S = ident(CONTROL_SCHEMA);

/**
 * A database's cutover done: Succeeded, its downtime, and its count one higher, in one statement, so
 * no reader sees one without the other. Counted only when the database was not Succeeded yet: a
 * runner that finishes a cutover again on resume does not count it twice.
 */
export async function recordCutOver(
  catalog: CatalogConnection,
  migration: string,
  database: string,
  downtimeSeconds: number | undefined,
): Promise<void> {
  await catalog.query(
    `UPDATE ${S}.migration_database
        SET cutovers = cutovers + CASE WHEN state = 'Succeeded' THEN 0 ELSE 1 END,
            state = 'Succeeded', ended_at = now(), downtime_seconds = COALESCE($3, downtime_seconds)
      WHERE migration = $1 AND database = $2`,
    [migration, database, downtimeSeconds ?? null],
  );
}
