// A replayed TRUNCATE refused for a foreign key of a table the stream does not write
// (targetTransaction.ts referencedError): its stop names the referencing tables and the keys to
// drop as the catalog of the server the stream writes has them, read by the truncated tables'
// OIDs. The server's own detail names only the first key it met, by bare table names, and two
// tables of one name in two schemas would be told apart by a guess. The refused transaction has
// rolled back by then: the keys are read on a session of their own, once the apply session ended.
import { causeOf } from '../../core/errors';
import { withSession } from '../../connect/session';
import type { ServerSpec } from '../../input/migrationSpec';
import { referencedError, TruncateRefused, type ReferencingKey } from './targetTransaction';
import type { StreamWords } from '../../core/streamWords';

/**
 * The foreign keys that reference a truncated table from a table the TRUNCATE does not name, as
 * PostgreSQL checks them: a partitioned table truncated with its partitions (pgferry names it
 * without ONLY), any other table alone (with ONLY). A key cloned onto a partition, on either
 * side, is named by the key it was cloned from (conparentid), the one a user can drop, on the
 * table it was made on; the truncated table it references is the one the TRUNCATE named.
 */
const REFERENCING_KEYS_SQL = `
WITH RECURSIVE truncated AS (
  SELECT c.oid, c.oid AS named FROM pg_catalog.pg_class c WHERE c.oid = ANY ($1::oid[])
  UNION
  SELECT i.inhrelid, t.named
    FROM truncated t
    JOIN pg_catalog.pg_class p ON p.oid = t.oid AND p.relkind = 'p'
    JOIN pg_catalog.pg_inherits i ON i.inhparent = t.oid
), referencing AS (
  SELECT k.oid, k.conparentid, t.named
    FROM pg_catalog.pg_constraint k JOIN truncated t ON t.oid = k.confrelid
   WHERE k.contype = 'f' AND k.conrelid NOT IN (SELECT oid FROM truncated)
  UNION
  SELECT p.oid, p.conparentid, r.named
    FROM referencing r JOIN pg_catalog.pg_constraint p ON p.oid = r.conparentid
)
SELECT DISTINCT kn.nspname AS schema, kc.relname AS name, k.conname AS constraint,
       tn.nspname AS ref_schema, tc.relname AS ref_name
  FROM referencing r
  JOIN pg_catalog.pg_constraint k ON k.oid = r.oid AND k.conparentid = 0
  JOIN pg_catalog.pg_class kc ON kc.oid = k.conrelid
  JOIN pg_catalog.pg_namespace kn ON kn.oid = kc.relnamespace
  JOIN pg_catalog.pg_class tc ON tc.oid = r.named
  JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace
 ORDER BY 1, 2, 3, 4, 5`;

interface KeyRow {
  schema: string;
  name: string;
  constraint: string;
  ref_schema: string;
  ref_name: string;
}

/** The refused TRUNCATE within an error (the stop keeps the server's error as its cause). */
function truncateRefused(error: unknown): TruncateRefused | undefined {
  return causeOf(error, TruncateRefused);
}

/** The foreign keys that keep the truncated tables (by their OIDs on `server`) from being emptied. */
async function referencingKeys(server: ServerSpec, database: string, oids: readonly number[]): Promise<ReferencingKey[]> {
  const { rows } = await withSession(server, { database, purpose: 'apply', readOnly: true }, (client) =>
    client.query<KeyRow>(REFERENCING_KEYS_SQL, [oids.map(String)]),
  );
  return rows.map((r) => ({
    table: { schema: r.schema, name: r.name },
    constraint: r.constraint,
    references: { schema: r.ref_schema, name: r.ref_name },
  }));
}

/**
 * `error` with a refused TRUNCATE's stop naming the referencing keys exactly, read from the
 * catalog of the server the stream writes (`target`, in `words`); any other error as it is, and a
 * refused TRUNCATE as it is when the read fails or finds none (the key dropped since: the stream
 * tried again applies it).
 */
export async function namedFromCatalog(error: unknown, target: ServerSpec, database: string, words: StreamWords): Promise<unknown> {
  const refused = truncateRefused(error);
  if (!refused || refused.exact) return error;
  const oids = (refused.refused.tables ?? []).flatMap((t) => (t.targetOid === undefined ? [] : [t.targetOid]));
  if (oids.length === 0) return error;
  const keys = await referencingKeys(target, database, oids).catch(() => []);
  if (keys.length === 0) return error;
  return referencedError(refused.refused, refused.cause, words, keys) ?? error;
}
