// The control schema pgferry makes in a database for its own objects (the applied position, the
// copy's ledger, the writer fence, the target's guard, the source's event trigger): made with its
// mark (core/names.ts MAKE_CONTROL_SCHEMA_SQL), and dropped here alone, once empty, only when
// pgferry made it: its mark is on it, or a change's record in the ledger says it was made for that
// change. A schema of that name someone else made (a DBA's, empty, before the migration) is kept.
import type pg from 'pg';
import { ident, literal } from '../connect/quote';
import { DEPENDENT_OBJECTS_STILL_EXIST, sqlState } from '../connect/sqlstate';
import { CONTROL_SCHEMA, CONTROL_SCHEMA_MARK } from '../core/names';

/** Whether the schema is there, pgferry's mark on it, and anything in it. */
const CONTROL_SCHEMA_STATE_SQL = `
SELECT pg_catalog.obj_description(n.oid, 'pg_namespace') IS NOT DISTINCT FROM $2 AS marked,
       EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.refclassid = 'pg_namespace'::pg_catalog.regclass AND d.refobjid = n.oid) AS holds
  FROM pg_catalog.pg_namespace n WHERE n.nspname = $1`;

/**
 * Drops the control schema of the connected database when pgferry made it (its mark, or `recorded`:
 * a change's ledger record says the schema was made for it) and nothing is left in it. Returns
 * whether it was dropped. Run inside a caller's transaction, it drops only after finding the schema
 * empty; outside one, a schema filled meanwhile is refused by RESTRICT and kept.
 */
export async function dropControlSchemaIfMade(client: pg.Client, recorded = false): Promise<boolean> {
  const { rows } = await client.query<{ marked: boolean; holds: boolean }>(CONTROL_SCHEMA_STATE_SQL, [CONTROL_SCHEMA, CONTROL_SCHEMA_MARK]);
  const state = rows[0];
  if (!state || state.holds || !(state.marked || recorded)) return false;
  try {
    await client.query(`DROP SCHEMA ${ident(CONTROL_SCHEMA)} RESTRICT`);
    return true;
  } catch (error) {
    if (sqlState(error) !== DEPENDENT_OBJECTS_STILL_EXIST) throw error;
    return false;
  }
}

/**
 * The same drop as one statement a user runs by hand (the lift of a fence kept after a cutover,
 * which `show` gives): the schema dropped only when pgferry made it (its mark, or `recorded`) and
 * nothing is left in it, so the statements that take pgferry's last objects away leave nothing of it.
 */
export function dropControlSchemaIfMadeStatement(recorded = false): string {
  const made = recorded ? 'true' : `pg_catalog.obj_description(n.oid, 'pg_namespace') IS NOT DISTINCT FROM ${literal(CONTROL_SCHEMA_MARK)}`;
  return `DO $pgferry$ BEGIN IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = ${literal(CONTROL_SCHEMA)} AND ${made} AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.refobjid = n.oid)) THEN DROP SCHEMA ${ident(CONTROL_SCHEMA)} RESTRICT; END IF; END $pgferry$`;
}
