// Large objects created, written or unlinked on the source while changes streamed (issue 49).
// Logical decoding does not carry them (pg_largeobject is a catalog), so the cutover brings the
// target level after the drain, inside the writer fence when there is one: every object's
// metadata (owner, grants, comment) and a hash of its content are read on both servers, and only
// what differs is written, in one target transaction. Its seconds are a step of the cutover's
// downtime (flow/cutover.ts), and its counts an event. A fall-back does the same the other way
// (flow/fallBackStep.ts): the new server's objects, written there during the window, brought to the
// old source inside both fences.
//
// Only pgferry's objects are acted on: those the server it follows has, and those it moved
// (recorded in the control catalog, control/movedLargeObjects.ts, before they are made). An object
// the other server alone has is unlinked only when recorded (the server it follows unlinked what
// pgferry copied); one a DBA or an application made there alone is kept, named in the result, and
// left out of the verification's comparison.
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
import { displayIdent, ident, literal } from '../connect/quote';
import { withSessionPair } from '../connect/session';
import { INSUFFICIENT_PRIVILEGE, sqlState } from '../connect/sqlstate';
import { PgferryError, errorMessage } from '../core/errors';
import { readFilterPlan, type FilterPlan } from '../filter/plan';
import type { MigrationSpec, ServerSpec } from '../input/migrationSpec';
import type { CatalogConnection } from '../control/connection';
import { forgetMovedLargeObjects, movedLargeObjects, recordMovedLargeObjects } from '../control/movedLargeObjects';
import { inTransaction } from '../connect/transaction';

/** Bytes per lo_get/lo_put: bounds memory for objects of any size. */
const CHUNK = 16 * 1024 * 1024;

/**
 * Every large object: owner, grants (each `grantee:privilege:grantable`, PUBLIC for 0, the owner's
 * own left out: they are implicit), comment, size and the md5 of its content. $1: the objects whose
 * content is read (null: all). The server written reads only those the other has: one made there
 * alone is not pgferry's, and its owner may not let the migration's user read it.
 */
const INVENTORY_SQL = `
SELECT m.oid::int8::text AS oid, pg_catalog.pg_get_userbyid(m.lomowner) AS owner,
       coalesce((SELECT array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(a.grantee) END
                                  || ':' || a.privilege_type || ':' || a.is_grantable ORDER BY 1)
                   FROM pg_catalog.aclexplode(m.lomacl) a WHERE a.grantee <> m.lomowner), '{}') AS acl,
       pg_catalog.obj_description(m.oid, 'pg_largeobject') AS comment,
       pg_catalog.md5(x.content) AS hash, pg_catalog.length(x.content)::int8::text AS size
  FROM pg_catalog.pg_largeobject_metadata m,
       LATERAL (SELECT CASE WHEN $1::pg_catalog.oid[] IS NULL OR m.oid = ANY ($1::pg_catalog.oid[]) THEN pg_catalog.lo_get(m.oid) END AS content) x`;

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
  hash: string | null;
  size: string | null;
}

export interface LargeObjectFacts {
  readonly oid: string;
  readonly owner: string;
  readonly acl: readonly string[];
  readonly comment: string | null;
  /** The md5 of its content; empty when not read (an object the other server lacks). */
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
  /**
   * A fall-back: the new server's user when it is no superuser there. The restore gave it the
   * objects of the source's superusers (it stands in for them), so an object it owns keeps the
   * owner it has on the old source.
   */
  readonly standIn?: string;
}

export interface LargeObjectPlan {
  readonly created: readonly string[];
  readonly rewritten: readonly string[];
  readonly unlinked: readonly string[];
  /** Objects the target alone has and pgferry did not move there: made on the target alone, kept. */
  readonly kept: readonly string[];
  /**
   * Objects recorded as moved that neither server has: unlinked on the source before they reached
   * the target (between a killed copy and its resume). Forgotten, so that an object made later under
   * that OID is not taken for pgferry's.
   */
  readonly forgotten: readonly string[];
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
 * unlinked when pgferry moved it there (`moved`: the source unlinked it since), kept otherwise (a
 * DBA's or an application's, made on the target alone); one on the source only is created; one
 * whose content hash differs is written again whole.
 */
export function planLargeObjects(
  source: readonly LargeObjectFacts[],
  target: readonly LargeObjectFacts[],
  roles: TargetRoles,
  moved: ReadonlySet<string>,
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
    // a new object is the target user's until given its owner; one the stand-in owns keeps the target's owner
    const owner = t && s.owner === roles.standIn ? t.owner : ownerOnTarget(s.owner, roles);
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
  const only = target.filter((t) => !onSource.has(t.oid)).map((t) => t.oid);
  const unlinked = only.filter((oid) => moved.has(oid));
  const kept = only.filter((oid) => !moved.has(oid));
  const forgotten = [...moved].filter((oid) => !onSource.has(oid) && !onTarget.has(oid));
  return { created, rewritten, unlinked, kept, forgotten, metadata, deliberate };
}

/** The large objects of a server; `read`: the only ones whose content is read (all without). */
async function inventory(client: pg.Client, read?: readonly string[]): Promise<LargeObjectFacts[]> {
  const { rows } = await client.query<ObjectRow>(INVENTORY_SQL, [read ?? null]);
  return rows.map((r) => ({ ...r, hash: r.hash ?? '', size: Number(r.size ?? 0) }));
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

/** The event that names the large objects a sync kept: made on the server it writes alone, never pgferry's. */
export function keptLargeObjectsMessage(step: 'cutover' | 'fall-back', database: string, kept: readonly string[], where: string): string {
  const list = kept.length <= 20 ? kept.join(', ') : `${kept.slice(0, 20).join(', ')} and ${kept.length - 20} more`;
  return `${step}: ${kept.length} large object(s) of ${displayIdent(database)} kept on ${where}, made there alone and not pgferry's: ${list}`;
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
  /** The OIDs of objects the target alone has that pgferry did not move there: kept. */
  readonly kept: readonly string[];
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
 * Writes a plan on the server it brings level, in one transaction that commits all of it or none;
 * returns the bytes copied. What the server refuses is thrown, `step` naming the statement.
 */
async function writePlan(
  source: pg.Client,
  target: pg.Client,
  plan: LargeObjectPlan,
  from: readonly LargeObjectFacts[],
  step: Step,
): Promise<number> {
  const run = async (oid: string, statement: string, params: unknown[] = []) => {
    step.oid = oid;
    step.statement = statement;
    await target.query(statement, params);
  };
  let bytes = 0;
  return inTransaction(target, async () => {
    if (plan.unlinked.length > 0) await run(few(plan.unlinked), 'SELECT pg_catalog.lo_unlink(o) FROM unnest($1::oid[]) o', [plan.unlinked]);
    if (plan.created.length > 0) await run(few(plan.created), 'SELECT pg_catalog.lo_create(o) FROM unnest($1::oid[]) o', [plan.created]);
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
    return bytes;
  });
}

/** Which way a sync goes: the cutover's (source to target) or a fall-back's (new server to old source). */
export type LargeObjectDirection = 'forward' | 'back';

/** The servers of a direction: read from, written to, and how messages name them. */
function sidesOf(spec: MigrationSpec, direction: LargeObjectDirection) {
  return direction === 'forward'
    ? { from: spec.source, to: spec.target, fromName: 'the source', toName: 'the target', purpose: 'cutover large objects' }
    : { from: spec.target, to: spec.source, fromName: 'the new server', toName: 'the old source', purpose: 'fall-back large objects' };
}

/** The user of a server, when it is no superuser there (a fall-back's stand-in, TargetRoles.standIn). */
async function standInOf(client: pg.Client): Promise<string | undefined> {
  const { rows } = await client.query<{ me: string; superuser: boolean }>(
    'SELECT rolname AS me, rolsuper AS superuser FROM pg_catalog.pg_roles WHERE rolname = current_user',
  );
  return rows[0] && !rows[0].superuser ? rows[0].me : undefined;
}

/**
 * Brings the large objects of `database` on one server level with the other's (see the top):
 * `forward`, the target's with the source's; `back`, the old source's with the new server's. Throws
 * CUTOVER_LARGE_OBJECTS, with nothing changed, when the server written refuses a statement.
 * `filter`: the migration source's filter plan (the old source's at a fall-back), read already.
 */
export async function syncLargeObjects(
  spec: MigrationSpec,
  database: string,
  store: CatalogConnection,
  direction: LargeObjectDirection = 'forward',
  filter?: FilterPlan,
): Promise<LargeObjectDelta> {
  const started = Date.now();
  const sides = sidesOf(spec, direction);
  const name = spec.migrationName;
  const options = { database, purpose: sides.purpose };
  return withSessionPair(sides.from, options, sides.to, { ...options, writable: true }, async ({ source, target }) => {
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      // the filters are the source's: its tables decide whether large objects move at all
      if (!(filter ?? (await readFilterPlan(direction === 'forward' ? source : target, spec))).largeObjectsMove) {
        return { compared: 0, created: 0, rewritten: 0, unlinked: 0, kept: [], metadataSet: 0, bytes: 0, deliberate: 0, seconds: 0 };
      }
      const from = await inventory(source);
      const [to, roles, standIn, moved] = await Promise.all([
        inventory(
          target,
          from.map((o) => o.oid),
        ),
        targetRoles(target),
        direction === 'back' ? standInOf(source) : undefined,
        movedLargeObjects(store, name, database),
      ]);
      const plan = planLargeObjects(from, to, { ...roles, ...(standIn ? { standIn } : {}) }, moved);
      // recorded before they are made: a runner killed in between unlinks nothing it did not make
      await recordMovedLargeObjects(store, name, database, plan.created);
      const step = new Step();
      const changes = plan.created.length + plan.rewritten.length + plan.unlinked.length + plan.metadata.length;
      const bytes =
        changes === 0
          ? 0
          : await writePlan(source, target, plan, from, step).catch((error: unknown) => {
              throw refusal(database, step, error, roles.me, sides);
            });
      await forgetMovedLargeObjects(store, name, database, [...plan.unlinked, ...plan.forgotten]);
      return {
        compared: from.length,
        created: plan.created.length,
        rewritten: plan.rewritten.length,
        unlinked: plan.unlinked.length,
        kept: plan.kept,
        metadataSet: new Set(plan.metadata.map((m) => m.oid)).size,
        bytes,
        deliberate: plan.deliberate,
        seconds: (Date.now() - started) / 1000,
      };
    } finally {
      await source.query('ROLLBACK').catch(() => undefined);
    }
  });
}

function refusal(
  database: string,
  step: Step,
  error: unknown,
  me: string,
  sides: { readonly fromName: string; readonly toName: string; readonly to: ServerSpec },
): unknown {
  if (sqlState(error) !== INSUFFICIENT_PRIVILEGE) return error;
  const again = sides.toName === 'the target' ? 'request the cutover again' : 'ask for the fall-back again';
  return new PgferryError(
    'CUTOVER_LARGE_OBJECTS',
    `database ${displayIdent(database)}: ${sides.toName} refused to bring large object(s) ${step.oid} level with ${sides.fromName} (${step.statement}): ${errorMessage(error)}; nothing was changed on ${sides.toName}`,
    {
      category: sides.toName === 'the target' ? 'target' : 'source',
      field: `database ${displayIdent(database)}`,
      fix: `let "${me}" act as the object's owner on ${sides.toName} (GRANT <owner> TO "${me}"), or change the object on ${sides.fromName} to a role it may use, then ${again}`,
    },
  );
}
