// Large objects created, written or unlinked on the source while changes streamed (issue 49).
// Logical decoding does not carry them (pg_largeobject is a catalog), so the cutover brings the
// target level after the drain, inside the writer fence when there is one: every object's
// metadata (owner, grants, comment) and a hash of its content are read on both servers, and only
// what differs is written, in one target transaction. Its seconds are a step of the cutover's
// downtime (flow/cutover.ts), and its counts an event.
//
// Exact: the source is read in one REPEATABLE READ snapshot taken after the drain (a fenced source
// takes no new write; without a fence, what the applications write after it is left behind, as
// their rows after the marker are), and each object written is read in that same snapshot. The
// target is written by pgferry alone at this point, and its transaction commits all of it or none.
//
// What a managed target's admin (no superuser) can do is enough: lo_create, lo_put,
// lo_truncate64 and lo_unlink under the object's owner (the admin is a member of every migrated
// role), ALTER LARGE OBJECT ... OWNER TO a role it is a member of, GRANT and COMMENT as a member of
// the owner. A role that is a superuser on the target keeps its objects with the admin, as the
// restore left them (schema/ownership.ts). A statement the target refuses rolls the transaction
// back and the cutover stops before anything irreversible, naming the object, the statement and
// the fix.
import type pg from 'pg';
import { ident, literal } from '../connect/quote';
import { withSession } from '../connect/session';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../connect/sqlstate';
import { PgferryError, errorMessage } from '../core/errors';
import { readFilterPlan } from '../filter/plan';
import type { MigrationSpec } from '../input/migrationSpec';

/** Bytes per lo_get/lo_put: bounds memory for objects of any size. */
const CHUNK = 16 * 1024 * 1024;

/**
 * Every large object: owner, grants (each `grantee:privilege:grantable`, PUBLIC for 0, the owner's
 * own left out: they are implicit), comment, size and the md5 of its content.
 */
const INVENTORY_SQL = `
SELECT m.oid::int8::text AS oid, pg_catalog.pg_get_userbyid(m.lomowner) AS owner,
       coalesce((SELECT array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END
                                  || ':' || a.privilege_type || ':' || a.is_grantable ORDER BY 1)
                   FROM pg_catalog.aclexplode(m.lomacl) a WHERE a.grantee <> m.lomowner), '{}') AS acl,
       pg_catalog.obj_description(m.oid, 'pg_largeobject') AS comment,
       pg_catalog.md5(x.content) AS hash, pg_catalog.length(x.content)::int8::text AS size
  FROM pg_catalog.pg_largeobject_metadata m, LATERAL (SELECT pg_catalog.lo_get(m.oid) AS content) x`;

/** Objects up to this size are copied many per round trip, up to BATCH_BYTES at a time. */
const SMALL = 1024 * 1024;
const BATCH_BYTES = 8 * 1024 * 1024;
/** Metadata statements sent as one simple query. */
const STATEMENTS_PER_QUERY = 500;

/** The target's roles, to give each object the owner the restore would have. */
const ROLES_SQL = `SELECT rolname AS name, rolsuper AS superuser, rolname = current_user AS me FROM pg_catalog.pg_roles`;

interface ObjectRow {
  oid: string;
  owner: string;
  acl: string[];
  comment: string | null;
  hash: string;
  size: string;
}

export interface LargeObjectFacts {
  readonly oid: string;
  readonly owner: string;
  readonly acl: readonly string[];
  readonly comment: string | null;
  readonly hash: string;
  /** Bytes (read with the hash); 0 when not known. */
  readonly size?: number;
}

export interface TargetRoles {
  /** Every role on the target, and whether it is a superuser. */
  readonly roles: ReadonlyMap<string, boolean>;
  /** The target user, and whether it is a superuser. */
  readonly me: string;
  readonly superuser: boolean;
}

export interface LargeObjectPlan {
  readonly created: readonly string[];
  readonly rewritten: readonly string[];
  readonly unlinked: readonly string[];
  /** Metadata statements (owner, grants, comment), for new and existing objects. */
  readonly metadata: readonly { readonly oid: string; readonly statement: string }[];
  /** Objects whose metadata differs only as the restore made it differ (a stand-in owner, a role the target lacks). */
  readonly deliberate: number;
}

/**
 * The owner the target gives an object the source's `owner` owns: the same role, or the target
 * user for a role that is a superuser on a target whose user is not (it stands in, as the restore
 * made it); undefined for a role the target lacks.
 */
function ownerOnTarget(owner: string, target: TargetRoles): string | undefined {
  const superuser = target.roles.get(owner);
  if (superuser === undefined) return undefined;
  return superuser && !target.superuser ? target.me : owner;
}

/** A grant entry, its grantee as on the target; undefined for a grantee the target lacks. */
function grantOnTarget(entry: string, target: TargetRoles): string | undefined {
  const grantee = entry.slice(0, entry.indexOf(':'));
  if (grantee === 'PUBLIC' || target.roles.has(grantee)) return entry;
  return undefined;
}

function grantStatements(oid: string, want: readonly string[], have: readonly string[]): string[] {
  const statements: string[] = [];
  const wanted = new Set(want);
  const had = new Set(have);
  const role = (grantee: string) => (grantee === 'PUBLIC' ? 'PUBLIC' : ident(grantee));
  for (const entry of have) {
    if (wanted.has(entry)) continue;
    const [grantee, privilege] = entry.split(':') as [string, string];
    statements.push(`REVOKE ${privilege} ON LARGE OBJECT ${oid} FROM ${role(grantee)}`);
  }
  for (const entry of want) {
    if (had.has(entry)) continue;
    const [grantee, privilege, grantable] = entry.split(':') as [string, string, string];
    statements.push(`GRANT ${privilege} ON LARGE OBJECT ${oid} TO ${role(grantee)}${grantable === 'true' ? ' WITH GRANT OPTION' : ''}`);
  }
  return statements;
}

/**
 * Pure: what makes the target's large objects the source's. An object on the target only is
 * unlinked (the source unlinked it: the target database is the migration's own); one on the source
 * only is created; one whose content hash differs is written again whole.
 */
export function planLargeObjects(
  source: readonly LargeObjectFacts[],
  target: readonly LargeObjectFacts[],
  roles: TargetRoles,
): LargeObjectPlan {
  const onTarget = new Map(target.map((o) => [o.oid, o]));
  const onSource = new Set(source.map((o) => o.oid));
  const created: string[] = [];
  const rewritten: string[] = [];
  const metadata: { oid: string; statement: string }[] = [];
  let deliberate = 0;
  for (const s of source) {
    const t = onTarget.get(s.oid);
    if (!t) created.push(s.oid);
    else if (t.hash !== s.hash) rewritten.push(s.oid);
    // a new object is the target user's until given its owner
    const owner = ownerOnTarget(s.owner, roles);
    const have = t ?? { owner: roles.me, acl: [], comment: null };
    const statements: string[] = [];
    if (owner !== undefined && owner !== have.owner) statements.push(`ALTER LARGE OBJECT ${s.oid} OWNER TO ${ident(owner)}`);
    const want = s.acl.flatMap((e) => grantOnTarget(e, roles) ?? []).filter((e) => !e.startsWith(`${owner ?? have.owner}:`));
    statements.push(...grantStatements(s.oid, want, have.acl));
    if (s.comment !== have.comment)
      statements.push(`COMMENT ON LARGE OBJECT ${s.oid} IS ${s.comment === null ? 'NULL' : literal(s.comment)}`);
    if (owner !== s.owner || want.length !== s.acl.length) deliberate += 1;
    for (const statement of statements) metadata.push({ oid: s.oid, statement });
  }
  const unlinked = target.filter((t) => !onSource.has(t.oid)).map((t) => t.oid);
  return { created, rewritten, unlinked, metadata, deliberate };
}

async function inventory(client: pg.Client): Promise<LargeObjectFacts[]> {
  return (await client.query<ObjectRow>(INVENTORY_SQL)).rows.map((r) => ({ ...r, size: Number(r.size) }));
}

async function targetRoles(client: pg.Client): Promise<TargetRoles> {
  const { rows } = await client.query<{ name: string; superuser: boolean; me: boolean }>(ROLES_SQL);
  const me = rows.find((r) => r.me)!;
  return { roles: new Map(rows.map((r) => [r.name, r.superuser])), me: me.name, superuser: me.superuser };
}

/** A list of OIDs for a message: the first three and how many more. */
function few(oids: readonly string[]): string {
  return oids.length <= 3 ? oids.join(', ') : `${oids.slice(0, 3).join(', ')} and ${oids.length - 3} more`;
}

/** Small objects in groups of at most BATCH_BYTES. */
function smallBatches(oids: readonly string[], sizes: ReadonlyMap<string, number>): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const oid of oids) {
    const size = sizes.get(oid) ?? 0;
    if (size > SMALL) continue;
    if (current.length > 0 && bytes + size > BATCH_BYTES) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(oid);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Copies small objects whole, one round trip on each server; the target objects exist and are empty. */
async function copySmall(source: pg.Client, target: pg.Client, oids: readonly string[]): Promise<number> {
  const { rows } = await source.query<{ oid: string; data: Buffer }>(
    'SELECT o::int8::text AS oid, pg_catalog.lo_get(o) AS data FROM unnest($1::oid[]) o',
    [oids],
  );
  await target.query('SELECT pg_catalog.lo_put(o, 0, d) FROM unnest($1::oid[], $2::bytea[]) AS x(o, d)', [
    rows.map((r) => r.oid),
    rows.map((r) => r.data),
  ]);
  return rows.reduce((n, r) => n + r.data.length, 0);
}

/** Copies one object's content from the source's snapshot; the target object exists and is empty. */
async function copyContent(source: pg.Client, target: pg.Client, oid: string): Promise<number> {
  let bytes = 0;
  for (let offset = 0; ; offset += CHUNK) {
    const { rows } = await source.query<{ data: Buffer }>('SELECT pg_catalog.lo_get($1::oid, $2::int8, $3::int4) AS data', [
      oid,
      offset,
      CHUNK,
    ]);
    const data = rows[0]!.data;
    if (data.length === 0) break;
    await target.query('SELECT pg_catalog.lo_put($1::oid, $2::int8, $3::bytea)', [oid, offset, data]);
    bytes += data.length;
    if (data.length < CHUNK) break;
  }
  return bytes;
}

export interface LargeObjectDelta {
  /** Objects compared (on the source). */
  readonly compared: number;
  readonly created: number;
  readonly rewritten: number;
  readonly unlinked: number;
  /** Objects whose owner, grants or comment were set. */
  readonly metadataSet: number;
  readonly bytes: number;
  readonly deliberate: number;
  readonly seconds: number;
}

/** The statement being run, for the error that names it. */
class Step {
  statement = '';
  oid = '';
}

/**
 * Brings the target's large objects of `database` level with the source's (see the top). Throws
 * CUTOVER_LARGE_OBJECTS, with nothing changed on the target, when the target refuses a statement.
 */
export async function syncLargeObjects(spec: MigrationSpec, database: string): Promise<LargeObjectDelta> {
  const started = Date.now();
  return withSession(spec.source, { database, purpose: 'cutover large objects' }, (source) =>
    withSession(spec.target, { database, purpose: 'cutover large objects', writable: true }, async (target) => {
      await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        if (!(await readFilterPlan(source, spec)).largeObjectsMove) {
          return { compared: 0, created: 0, rewritten: 0, unlinked: 0, metadataSet: 0, bytes: 0, deliberate: 0, seconds: 0 };
        }
        const [from, to, roles] = await Promise.all([inventory(source), inventory(target), targetRoles(target)]);
        const plan = planLargeObjects(from, to, roles);
        const step = new Step();
        const run = async (oid: string, statement: string, params: unknown[] = []) => {
          step.oid = oid;
          step.statement = statement;
          await target.query(statement, params);
        };
        let bytes = 0;
        const changes = plan.created.length + plan.rewritten.length + plan.unlinked.length + plan.metadata.length;
        if (changes > 0) {
          await target.query('BEGIN');
          try {
            if (plan.unlinked.length > 0)
              await run(few(plan.unlinked), 'SELECT pg_catalog.lo_unlink(o) FROM unnest($1::oid[]) o', [plan.unlinked]);
            if (plan.created.length > 0)
              await run(few(plan.created), 'SELECT pg_catalog.lo_create(o) FROM unnest($1::oid[]) o', [plan.created]);
            // INV_WRITE (0x20000): each descriptor lives until COMMIT; the objects emptied, then written whole
            if (plan.rewritten.length > 0) {
              const sql = 'SELECT pg_catalog.lo_truncate64(pg_catalog.lo_open(o, 131072), 0) FROM unnest($1::oid[]) o';
              await run(few(plan.rewritten), sql, [plan.rewritten]);
            }
            const sizes = new Map(from.map((o) => [o.oid, o.size ?? 0]));
            const written = [...plan.created, ...plan.rewritten];
            step.statement = 'lo_put';
            for (const batch of smallBatches(written, sizes)) {
              step.oid = few(batch);
              bytes += await copySmall(source, target, batch);
            }
            for (const oid of written.filter((o) => (sizes.get(o) ?? 0) > SMALL)) {
              step.oid = oid;
              bytes += await copyContent(source, target, oid);
            }
            for (let i = 0; i < plan.metadata.length; i += STATEMENTS_PER_QUERY) {
              const group = plan.metadata.slice(i, i + STATEMENTS_PER_QUERY);
              const more = group.length > 1 ? ` (or one of the ${group.length - 1} statements after it)` : '';
              step.oid = group[0]!.oid;
              step.statement = `${group[0]!.statement}${more}`;
              await target.query(group.map((m) => m.statement).join(';\n'));
            }
            await target.query('COMMIT');
          } catch (error) {
            await target.query('ROLLBACK').catch(() => undefined);
            throw refusal(database, step, error, roles.me);
          }
        }
        return {
          compared: from.length,
          created: plan.created.length,
          rewritten: plan.rewritten.length,
          unlinked: plan.unlinked.length,
          metadataSet: new Set(plan.metadata.map((m) => m.oid)).size,
          bytes,
          deliberate: plan.deliberate,
          seconds: (Date.now() - started) / 1000,
        };
      } finally {
        await source.query('ROLLBACK').catch(() => undefined);
      }
    }),
  );
}

function refusal(database: string, step: Step, error: unknown, me: string): unknown {
  if (sqlState(error) !== INSUFFICIENT_PRIVILEGE) return error;
  return new PgferryError(
    'CUTOVER_LARGE_OBJECTS',
    `database "${database}": the target refused to bring large object(s) ${step.oid} level with the source (${step.statement}): ${errorMessage(error)}; nothing was changed on the target`,
    {
      category: 'target',
      field: `database "${database}"`,
      fix: `let "${me}" act as the object's owner on the target (GRANT <owner> TO "${me}"), or change the object on the source to a role it may use, then request the cutover again`,
    },
  );
}
