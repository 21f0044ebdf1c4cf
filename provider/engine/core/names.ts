// Every derived name has one home: slot, publication, origin, lease key, control schema and runner
// log are functions of the migration name (and database or target) here, and nowhere else.
import { createHash, randomBytes } from 'node:crypto';

/** Schema of the control catalog in the target's maintenance database. */
export const CONTROL_SCHEMA = 'pgferry';
/**
 * The comment pgferry gives a control schema it makes in a database (MAKE_CONTROL_SCHEMA_SQL): the
 * record, bound to that schema's OID, that pgferry made it. A schema of that name without it is
 * someone else's (a DBA's made before the migration) and pgferry never drops it
 * (footprint/controlSchema.ts).
 */
export const CONTROL_SCHEMA_MARK = 'made by pgferry for its own objects; pgferry drops it once they are gone';

/**
 * Makes the control schema in the connected database where it is missing, with its mark, in one
 * statement (so never one without the other); where it exists, whoever made it, it is left as it
 * is. The names are this module's constants, written as the quoting helper writes them.
 */
export const MAKE_CONTROL_SCHEMA_SQL = `DO $pgferry$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = '${CONTROL_SCHEMA}') THEN
    CREATE SCHEMA "${CONTROL_SCHEMA}";
    COMMENT ON SCHEMA "${CONTROL_SCHEMA}" IS '${CONTROL_SCHEMA_MARK}';
  END IF;
END $pgferry$`;

/** The channel a request (cutover, cancel, apply retry...) is notified on, with the migration's name as payload. */
export const REQUEST_CHANNEL = 'pgferry_requests';

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/**
 * A migration's instance: random, drawn when the migration is registered. The names of what it
 * creates on either server include it, so two migrations with the same name (the name the Azure
 * tutorials use) from one source to two targets never share a slot, a publication or an origin,
 * and a migration created again under an old name never starts from the old one's origin.
 */
export function newInstanceId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * Slot names allow only [a-z0-9_] and 63 bytes: a readable prefix plus a hash of the inputs.
 * Without an instance: the names of migrations registered before instances existed.
 */
function derived(kind: string, migration: string, database: string, instance: string | undefined): string {
  const readable = `${migration}_${database}`
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 30);
  const hashed = instance === undefined ? `${migration}\0${database}` : `${migration}\0${database}\0${instance}`;
  return `pgferry_${kind}_${readable}_${shortHash(hashed)}`;
}

/**
 * A runner log's file name: the migration's name and a hash of where its control catalog lives (the
 * target's host:port/maintenance database), so two migrations of one name on two targets never
 * write into one log. The password is not part of it.
 */
export function runnerLogName(migration: string, target: { host: string; port: number; maintenanceDatabase: string }): string {
  return `runner-${migration}-${shortHash(`${target.host}:${target.port}/${target.maintenanceDatabase}`)}.log`;
}

export function slotName(migration: string, database: string, instance?: string): string {
  return derived('s', migration, database, instance);
}

export function publicationName(migration: string, database: string, instance?: string): string {
  return derived('p', migration, database, instance);
}

/** Replication origin on the target that records the applied source position. */
export function originName(migration: string, database: string, instance?: string): string {
  return derived('o', migration, database, instance);
}

/**
 * What schemaChangeCapture: eventTrigger creates in a source database (cdc/prepare/eventTrigger.ts):
 * a function in the control schema's name on the source, two event triggers calling it, and the
 * prefix of the logical messages it writes into the stream. Derived like the slot, so two
 * migrations of one source never share them.
 */
export interface EventTriggerNames {
  /** The function, in schema CONTROL_SCHEMA of the source database. */
  readonly function: string;
  /** The event trigger on ddl_command_end. */
  readonly ddlEnd: string;
  /** The event trigger on sql_drop. */
  readonly sqlDrop: string;
  /** The prefix of its logical messages (pg_logical_emit_message). */
  readonly prefix: string;
}

export function eventTriggerNamesOf(migration: string, database: string, instance?: string): EventTriggerNames {
  const base = derived('e', migration, database, instance);
  return { function: base, ddlEnd: `${base}_end`, sqlDrop: `${base}_drop`, prefix: `pgferry.ddl.${base}` };
}

/**
 * What the writer fence puts in a fenced database (footprint/fenceTriggers.ts): a trigger function in
 * schema CONTROL_SCHEMA, one trigger of that name on each fenced table, and the prefix of the
 * logical messages in which it names each session it lets write. Derived from the migration and
 * the database alone: a lift after a crash, or by a cancel without the runner, finds them again.
 */
export interface FenceNames {
  readonly function: string;
  readonly trigger: string;
  readonly prefix: string;
  /**
   * The apply lock of the database (applyLockKey): the one session of pgferry that writes a fenced
   * table (the reverse stream's applier on the old source, the forward stream's on a target fenced
   * at a fall-back) holds it, and the fence lets through only the sessions that hold it.
   */
  readonly passKey: string;
  /**
   * The table in which the fence's function notes the transaction it last let through in each
   * session, so that the later statements of that transaction pass without reading the locks again:
   * only the function's owner writes it, so no client can put its own transaction there.
   */
  readonly passes: string;
}

export function fenceNamesOf(migration: string, database: string): FenceNames {
  const base = derived('w', migration, database, undefined);
  return {
    function: base,
    trigger: base,
    prefix: `pgferry.fence.${base}`,
    passKey: applyLockKey(migration, database),
    passes: `${base}_passes`,
  };
}

/**
 * What the target's guard puts in a target database at a cutover (footprint/targetGuard.ts): a
 * trigger function and the table it records writes in, both in schema CONTROL_SCHEMA, and on each
 * guarded table a statement trigger of the function's name and a row trigger beside it. Derived from the migration and the
 * database alone, so a resumed runner or a cancel finds them again.
 */
export interface GuardNames {
  readonly function: string;
  /** The statement trigger (TRUNCATE, which has no rows). */
  readonly trigger: string;
  /** The row trigger (INSERT, UPDATE, DELETE): a statement that changes no row fires none. */
  readonly rowTrigger: string;
  readonly table: string;
}

export function guardNamesOf(migration: string, database: string): GuardNames {
  const base = derived('g', migration, database, undefined);
  return { function: base, trigger: base, rowTrigger: `${base}_rows`, table: `${base}_writes` };
}

/** What an online migration creates per database: a slot and a publication on the source, an origin on the target. */
export interface StreamNames {
  readonly slot: string;
  readonly publication: string;
  readonly origin: string;
}

export function streamNamesOf(migration: string, database: string, instance?: string): StreamNames {
  return {
    slot: slotName(migration, database, instance),
    publication: publicationName(migration, database, instance),
    origin: originName(migration, database, instance),
  };
}

/**
 * What the reverse stream of a fallback window creates per database (docs/fallback.md): a slot and
 * a publication on the target, an origin on the old source. Kinds of their own ('rs', 'rp', 'ro'),
 * so they never meet the forward stream's names, and the forward decoder can tell a transaction
 * the reverse stream applied on the old source by its origin.
 */
export function reverseStreamNamesOf(migration: string, database: string, instance?: string): StreamNames {
  return {
    slot: derived('rs', migration, database, instance),
    publication: derived('rp', migration, database, instance),
    origin: derived('ro', migration, database, instance),
  };
}

/** Table in the target database that records progress when origins are not permitted. */
export const PROGRESS_TABLE = { schema: CONTROL_SCHEMA, table: 'apply_progress' } as const;

/**
 * Table in the target database where each parallel apply session other than the first records the
 * batch it committed and the source transactions of its part (cdc/apply/positionCommit.ts lanePosition).
 */
export const LANE_TABLE = { schema: CONTROL_SCHEMA, table: 'apply_lane' } as const;

/**
 * Table in the target database where each apply session adds the changes it commits to its
 * stream's counts, in the transaction that commits them (cdc/apply/positionCommit.ts): a runner
 * replaced at any moment leaves counts equal to what the target holds.
 */
export const COUNT_TABLE = { schema: CONTROL_SCHEMA, table: 'apply_count' } as const;

/**
 * Tables in each target database that make a copy item exactly-once: an item's rows and its
 * done-record commit in one transaction there, which also checks the claim's epoch
 * (copy/doneRecords.ts). Dropped once the database's copy is finished. `formerEpoch` is the epoch
 * table's earlier name, renamed on a resume.
 */
export const COPY_LEDGER = { schema: CONTROL_SCHEMA, done: 'copy_done', epoch: 'copy_epoch', formerEpoch: 'copy_fence' } as const;

/**
 * Whether an object in a database's control schema is one pgferry makes there, told by its schema
 * and its name together, as pgferry makes and drops them: the applied position's, the lanes' and
 * the counts' tables, the copy's ledger, the target guard's table, the writer fence's table of the transactions
 * it let through, and the functions of the writer fence, the source's event trigger and the guard. Any other object in a schema of that name is someone else's.
 */
export function isPgferrysOwn(kind: 'relation' | 'function', schema: string, name: string): boolean {
  if (schema !== CONTROL_SCHEMA) return false;
  if (kind === 'function') return OWN_FUNCTION.test(name);
  return OWN_TABLES.has(name) || OWN_GUARD_TABLE.test(name) || OWN_FENCE_TABLE.test(name);
}

const OWN_TABLES: ReadonlySet<string> = new Set([
  PROGRESS_TABLE.table,
  LANE_TABLE.table,
  COUNT_TABLE.table,
  COPY_LEDGER.done,
  COPY_LEDGER.epoch,
  COPY_LEDGER.formerEpoch,
]);
/** derived()'s shape for the kinds that make functions: the writer fence, the event trigger, the guard. */
const OWN_FUNCTION = /^pgferry_[weg]_[a-z0-9_]*_[0-9a-f]{10}$/;
const OWN_GUARD_TABLE = /^pgferry_g_[a-z0-9_]*_[0-9a-f]{10}_writes$/;
const OWN_FENCE_TABLE = /^pgferry_w_[a-z0-9_]*_[0-9a-f]{10}_passes$/;

/** Advisory lock key (bigint) of a migration's runner lease on the target. */
export function leaseKey(migration: string): string {
  const hex = createHash('sha256').update(`pgferry-lease\0${migration}`).digest('hex').slice(0, 15);
  return BigInt(`0x${hex}`).toString();
}

/**
 * What a runner's lease session is for, naming the runner: its pid and host travel in the session's
 * application name, so that `show` names the runner that holds the lease from the lock's holder
 * itself, before that runner has recorded itself in the control catalog (a successor that just took
 * over). The lock says who holds the lease; the name is read only from the session holding it.
 */
export function leasePurpose(runner: { pid: number; host: string }): string {
  return `runner lease ${runner.pid}@${runner.host}`;
}

/** The runner named by a lease session's application name (as leasePurpose wrote it), else undefined. */
export function leaseHolderOf(applicationName: string | null | undefined): { pid: number; host: string } | undefined {
  const named = /^pgferry runner lease (\d+)@(.*)$/.exec(applicationName ?? '');
  return named ? { pid: Number(named[1]), host: named[2]! } : undefined;
}

/**
 * Advisory lock key (bigint) the apply session of one database holds on the target database for
 * its whole life: the session that commits the data holds the fence (cdc/apply/applyTarget.ts).
 */
export function applyLockKey(migration: string, database: string): string {
  const hex = createHash('sha256').update(`pgferry-apply\0${migration}\0${database}`).digest('hex').slice(0, 15);
  return BigInt(`0x${hex}`).toString();
}

/** Advisory lock key serializing control-catalog installs. */
export const CONTROL_INSTALL_LOCK = '7346290183412';

/** Cutover marker prefix for pg_logical_emit_message. */
export function cutoverMessagePrefix(migration: string): string {
  return `pgferry.cutover.${migration}`;
}

/** Prefix of the logical message a fall-back emits on the target: the reverse stream's cutover point (docs/fallback.md). */
export function fallBackMessagePrefix(migration: string): string {
  return `pgferry.fallback.${migration}`;
}

/** Prefix of the logical message the lag gate writes on the held server: the point each gated stream must reach (switchover/lagGate.ts). */
export function gateMessagePrefix(migration: string): string {
  return `pgferry.gate.${migration}`;
}

/** Prefix of the logical message a background verification emits after its source snapshot (a boundary past its position). */
export function pinMessagePrefix(migration: string): string {
  return `pgferry.pin.${migration}`;
}

/**
 * A schema object's key, the same on both servers (OIDs differ): kind, schema, relation, name and
 * arguments. The schema check compares by it and the known objects (control/knownObjects.ts) are
 * recorded by it, so the apply, which reads that record, spells it here once.
 */
export function schemaObjectKey(kind: string, schema: string, relation: string | null, name: string, args: string | null): string {
  return JSON.stringify([kind, schema, relation ?? '', name, args ?? '']);
}

/**
 * A schema-qualified name's key in a map or a set, or in a list handed to a statement as pairs: the
 * schema and the name joined by a NUL byte, which no identifier can hold, so schema "a.b" with
 * table "c" and schema "a" with table "b.c" never share a key, as `schema.name` joined by a dot did.
 */
export function qualifiedKey(schema: string, name: string): string {
  return `${schema}\0${name}`;
}

/**
 * A table's schema and name as the source's catalog has them: what a control-catalog row about one
 * table is keyed by, never the text a message prints for it (that text may change between versions).
 */
export interface QualifiedName {
  readonly schema: string;
  readonly name: string;
}
