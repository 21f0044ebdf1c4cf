// A row the target refuses by a constraint the source has dropped since (a domain's CHECK or NOT
// NULL, a table's CHECK): the source accepted the row, so its drop committed before it, and the
// schema watch drops it on the target at its next look (flow/schemaFollow.ts, with its rules of
// whose object may be dropped). Until then the apply holds that row and tries it again, rather
// than stopping the stream: the drop then reaches the target before the row, in the order the
// source made them. A refusal by a constraint the source still has is no loosening: the stream
// stops on it as before, and so does one the watch has not followed within the bound.
import { causeOf } from '../../core/errors';
import pg from 'pg';
import { withSession } from '../../connect/session';
import { displayIdent, displayName } from '../../connect/quote';
import type { ServerSpec } from '../../input/migrationSpec';

/** The constraint a refused row met on the target, as PostgreSQL's error names it. */
interface RefusingConstraint {
  readonly on: 'domain' | 'table';
  readonly schema: string;
  /** The domain's or the table's name. */
  readonly name: string;
  /** The constraint's name; undefined for a domain's NOT NULL. */
  readonly constraint?: string;
}

/** SQLSTATEs of a value a CHECK refuses and of a NULL a NOT NULL refuses. */
const CHECK_VIOLATION = '23514';
const NOT_NULL_VIOLATION = '23502';

/** How long the apply holds a row for the schema watch (whose looks come at most a minute apart on a large schema). */
export const LOOSENING_WAIT_MS = 120_000;
/** Between two tries of the held row. */
export const LOOSENING_POLL_MS = 1_000;

/** The database error within `error` (its causes followed), if any. */
export function databaseError(error: unknown): pg.DatabaseError | undefined {
  return causeOf(error, pg.DatabaseError);
}

/** The domain's or table's constraint that refused a row, from the error's fields; undefined for any other refusal. */
export function refusingConstraint(error: unknown): RefusingConstraint | undefined {
  const e = databaseError(error);
  if (!e?.schema) return undefined;
  if (e.code === CHECK_VIOLATION && e.constraint) {
    if (e.dataType) return { on: 'domain', schema: e.schema, name: e.dataType, constraint: e.constraint };
    if (e.table) return { on: 'table', schema: e.schema, name: e.table, constraint: e.constraint };
  }
  if (e.code === NOT_NULL_VIOLATION && e.dataType && !e.table) return { on: 'domain', schema: e.schema, name: e.dataType };
  return undefined;
}

/** Whether the source still has it: the domain's NOT NULL, or the constraint of that name on the domain or the table. */
const STILL_ON_SOURCE_SQL = `
SELECT CASE WHEN $4::text IS NULL
            THEN EXISTS (SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                          WHERE n.nspname = $2 AND t.typname = $3 AND t.typtype = 'd' AND t.typnotnull)
            WHEN $1 = 'domain'
            THEN EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_type t ON t.oid = co.contypid
                           JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
                          WHERE n.nspname = $2 AND t.typname = $3 AND co.conname = $4)
            ELSE EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co JOIN pg_catalog.pg_class c ON c.oid = co.conrelid
                           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = $2 AND c.relname = $3 AND co.conname = $4) END AS still`;

/** Whether the source no longer has the constraint that refused the row: the watch is about to drop it on the target. */
export async function loosenedOnSource(source: ServerSpec, database: string, c: RefusingConstraint): Promise<boolean> {
  const { rows } = await withSession(source, { database, purpose: 'apply' }, (client) =>
    client.query<{ still: boolean }>(STILL_ON_SOURCE_SQL, [c.on, c.schema, c.name, c.constraint ?? null]),
  );
  return rows[0]?.still === false;
}

/** The constraint as a message names it. */
export function describeRefusing(c: RefusingConstraint): string {
  const owner = `${c.on} ${displayName(c.schema, c.name)}`;
  return c.constraint === undefined ? `the NOT NULL of ${owner}` : `constraint ${displayIdent(c.constraint)} of ${owner}`;
}
