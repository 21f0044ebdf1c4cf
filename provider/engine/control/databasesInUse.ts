// The target databases another migration recorded in this catalog still writes, or has cut over
// into (online): the applications were moved there, so overwriting them would destroy live data.
// Read on any session to the maintenance database, read-only, and nothing when there is no catalog.
import type pg from 'pg';
import { ident } from '../connect/quote';
import { CONTROL_SCHEMA } from '../core/names';
import { FINAL_STATES } from '../core/model';

const S = ident(CONTROL_SCHEMA);

/** One database in use by another migration, with why. */
export interface DatabaseInUse {
  readonly database: string;
  readonly migration: string;
  /** cutOver: an online migration cut over into it; writing: a migration not finished copies or streams into it. */
  readonly how: 'cutOver' | 'writing';
}

/**
 * Of `databases`, those another migration than `except` recorded as its own target database (the
 * OID it created is the one there now) and either cut over into online or still writes.
 */
export async function databasesInUse(client: pg.Client, except: string, databases: readonly string[]): Promise<DatabaseInUse[]> {
  if (databases.length === 0) return [];
  const { rows: present } = await client.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [
    `${CONTROL_SCHEMA}.migration_database`,
  ]);
  if (!present[0]?.ok) return [];
  const { rows } = await client.query<DatabaseInUse>(
    `SELECT d.database, d.migration,
            CASE WHEN m.mode = 'Online' AND d.cutovers > 0 THEN 'cutOver' ELSE 'writing' END AS how
       FROM ${S}.migration_database d
       JOIN ${S}.migration m ON m.name = d.migration
       JOIN pg_catalog.pg_database pd ON pd.datname = d.database AND pd.oid::int8 = d.target_database_oid
      WHERE d.database = ANY($1::text[]) AND d.migration <> $2
        AND ((m.mode = 'Online' AND d.cutovers > 0) OR NOT (m.state = ANY($3::text[])))
      ORDER BY d.database, d.migration`,
    [databases, except, [...FINAL_STATES]],
  );
  return rows;
}
