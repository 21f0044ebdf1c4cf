// The source's schema watched while streaming. The apply follows columns added, dropped, renamed
// and retyped, and NOT NULL, at their place in the stream (cdc/apply/shapeFollow.ts); this watch
// follows the rest it can: at each look a fingerprint of each streamed database's schema on both
// servers (one query each: columns, defaults, constraints, indexes ...), and only when one moved (or
// a change waits to be followed), the full comparison (verify/schema). Looks come as often as their fingerprints stay a
// small share of the time between them: every couple of seconds on a small schema, further apart on
// a large one, whose fingerprint takes longer (lookInterval). What can be
// made on the target while changes stream (columns' defaults, indexes, constraints and foreign keys,
// views, functions, triggers, rules ...: verify/schema/follow.ts) is made there (flow/schemaFollow.ts),
// each said as an event; the rest is warned once with its fix, and the cutover stops on it until the
// target matches. Changes stream on meanwhile.
import type pg from 'pg';
import type { SchemaDifference } from '../core/model';
import { displayName } from '../connect/quote';
import { withSession } from '../connect/session';
import { recordEvent } from '../control/store';
import { CONTROL_SCHEMA } from '../core/names';
import { schemaDifferenceMessage } from '../verify/schema/checkSchema';
import { followsItsOwner } from '../verify/schema/compare';
import type { SchemaObject } from '../verify/schema/catalog';
import { appliedUpTo, type OnlineStream } from '../cdc/apply/onlineStream';
import { parseLsn } from '../core/lsn';
import { compareKnowing, followables, followSchema, keysSetAside, recordFollowed } from './schemaFollow';
import type { MigrationRun } from '../run/migrationRun';
import { trace } from '../util/trace';
import { holdpoint } from '../util/failpoints';

/** The shortest time between two looks, and the longest. */
const MIN_INTERVAL_MS = 2_000;
const MAX_INTERVAL_MS = 60_000;
/** Time between looks, in multiples of what the last look's fingerprints took on the slower server: their share of one session there. */
const INTERVAL_PER_FINGERPRINT = 10;

/** When the next look may start, after one whose fingerprints took `fingerprintMs` in all on the slower server. */
export function lookInterval(fingerprintMs: number): number {
  return Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, fingerprintMs * INTERVAL_PER_FINGERPRINT));
}
const CLOSE_WAIT_MS = 2_000;

/**
 * One line per column, constraint, index, relation, function, type, enum label, comment, schema,
 * policy, trigger and rule of the user's (OIDs from 16384 up: not the system's); NULL-safe, ordered,
 * hashed. Temporary objects are left out: never migrated, and the apply makes its staging tables on
 * the target as its sessions start, which would move the target's print with no schema change.
 */
const FINGERPRINT_SQL = `
WITH temporaries AS (
  SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname LIKE 'pg\\_temp\\_%' OR n.nspname LIKE 'pg\\_toast\\_temp\\_%'
)
SELECT pg_catalog.md5(coalesce(pg_catalog.string_agg(x, E'\\n' ORDER BY x), '')) AS print FROM (
  SELECT pg_catalog.concat_ws(':', 'a', a.attrelid, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attcollation,
                              pg_catalog.pg_get_expr(d.adbin, d.adrelid)) AS x
    FROM pg_catalog.pg_attribute a
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1) AND n.nspname NOT LIKE 'pg\\_toast%'
     AND n.oid NOT IN (SELECT oid FROM temporaries)
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'c', co.oid, co.conname, co.convalidated) FROM pg_catalog.pg_constraint co
   WHERE co.connamespace NOT IN (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema', $1))
     AND co.connamespace NOT IN (SELECT oid FROM temporaries)
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'i', x.indexrelid, x.indrelid) FROM pg_catalog.pg_index x
    JOIN pg_catalog.pg_class c ON c.oid = x.indexrelid
   WHERE x.indexrelid >= 16384 AND c.relnamespace NOT IN (SELECT oid FROM temporaries)
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'r', c.oid, c.relname, c.relkind, c.relowner, c.relacl::text) FROM pg_catalog.pg_class c
   WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND c.relnamespace NOT IN (SELECT oid FROM temporaries)
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'f', p.oid, p.proname, pg_catalog.md5(p.prosrc), p.proowner, p.proacl::text) FROM pg_catalog.pg_proc p
   WHERE p.oid >= 16384
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 't', t.oid, t.typname, t.typnamespace, t.typowner, t.typnotnull, pg_catalog.md5(t.typdefault), t.typacl::text) FROM pg_catalog.pg_type t
   WHERE t.oid >= 16384 AND t.typtype IN ('c', 'd', 'e', 'r') AND t.typnamespace NOT IN (SELECT oid FROM temporaries)
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'e', e.enumtypid, e.enumlabel, e.enumsortorder) FROM pg_catalog.pg_enum e
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'd', d.classoid, d.objoid, d.objsubid, pg_catalog.md5(d.description)) FROM pg_catalog.pg_description d
   WHERE d.objoid >= 16384
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'n', n.oid, n.nspname, n.nspowner, n.nspacl::text) FROM pg_catalog.pg_namespace n
   WHERE n.oid >= 16384 AND n.oid NOT IN (SELECT oid FROM temporaries)
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'p', po.oid, po.polname, po.polrelid) FROM pg_catalog.pg_policy po
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'g', tg.oid, tg.tgname, tg.tgenabled) FROM pg_catalog.pg_trigger tg
   WHERE tg.oid >= 16384 AND NOT tg.tgisinternal
  UNION ALL
  SELECT pg_catalog.concat_ws(':', 'w', r.oid, r.rulename, r.ev_enabled) FROM pg_catalog.pg_rewrite r
   WHERE r.oid >= 16384
) s`;

export class SchemaWatch {
  private readonly prints = new Map<string, string>();
  /** The differences already warned about, per database, so each is told once. */
  private readonly told = new Map<string, Set<string>>();
  /** Databases with a change to follow still waiting (the apply behind it, a lock, a failure): compared again at the next look. */
  private readonly again = new Set<string>();
  /** Where each difference was first seen on the source, per database (`object\0detail`): a step that can refuse a row waits for the apply to pass it. */
  private readonly firstSeen = new Map<string, Map<string, bigint>>();
  private lastLook = 0;
  private interval = MIN_INTERVAL_MS;
  /** The look in progress: it runs beside the supervisor's loop, never delaying a cutover or cancel request. */
  private running: Promise<void> | undefined;
  /** A follow is changing the target: a cutover waits for it (an index half built would pass for built). */
  private following: Promise<unknown> | undefined;
  /** Closed for a cutover or a cancel: a look still running past close() changes nothing on the target. */
  private closed = false;

  constructor(
    private readonly run: MigrationRun,
    /** The online flow's streams, read for how far each database's apply has got. */
    private readonly streams: readonly OnlineStream[],
    /** The table watch's former name of a streamed table the source renamed (cdc/prepare/tableWatch.ts `formerName`). */
    private readonly formerName: FormerName,
  ) {}

  /**
   * Starts a look at each database once the interval the last look set has passed and none is
   * running; a server away (or any failure) is looked at next time.
   */
  look(databases: readonly string[]): void {
    if (this.running || Date.now() - this.lastLook < this.interval) return;
    this.lastLook = Date.now();
    this.running = this.lookAt([...databases])
      .catch(() => undefined)
      .finally(() => (this.running = undefined));
  }

  /**
   * Waits a little for the look in progress (its sessions end on their own within lock_timeout):
   * a cutover or cancel never waits on a comparison; it does wait for a follow that is changing
   * the target, which ends within its statements' time.
   */
  async close(): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
    await Promise.race([this.running, bound]);
    clearTimeout(timer);
    await this.following?.catch(() => undefined);
  }

  /**
   * A comparison's outcome depends on both catalogs, so a look compares when either server's
   * fingerprint moved since the last comparison. The target's moves without the source's when the
   * apply or the table follow makes there what the source did seconds before (a table renamed at
   * its relation message, a type at its Type message): a look that came earlier saw the table only
   * on the target and its renamed parts only on the source, and left them to the table's follow;
   * once that is made, nothing on the source moves again, and only the target's fingerprint brings
   * the look that pairs the parts by their recorded OIDs. Both are read before the comparison reads
   * the catalogs, so a change made while it reads moves them for the next look; a comparison that
   * fails keeps neither, and the next look compares again.
   */
  private async lookAt(databases: readonly string[]): Promise<void> {
    const took = { source: 0, target: 0 };
    for (const database of databases) {
      if (this.run.signal.aborted) return;
      const session = { database, purpose: 'schema watch' };
      const begun = Date.now();
      let started = begun;
      const source = await withSession(this.run.spec.source, session, fingerprint);
      took.source += Date.now() - started;
      started = Date.now();
      const target = await withSession(this.run.spec.target, session, fingerprint);
      took.target += Date.now() - started;
      // each server's share of the watch's time stays small, whichever is the slower to print
      this.interval = lookInterval(Math.max(took.source, took.target));
      const print = `${source}:${target}`;
      if (this.prints.get(database) !== print || this.again.has(database)) {
        this.prints.delete(database);
        trace(() => `schema watch: ${database}: compared (${this.again.has(database) ? 'a change waits' : 'a fingerprint moved'})`);
        await this.compare(database);
        this.prints.set(database, print);
      }
      // a change the apply holds for a type or label judges by the first look begun after its refusal
      this.streams.find((s) => s.database === database)?.applier.schemaLooked(begun);
    }
  }

  /**
   * The tables this look leaves to the table watch, by printed name: a streamed table the source
   * dropped or renamed, which the table watch tells with its fix (cdc/prepare/tableWatch.ts) or
   * follows (tableDropsAndRenames: follow), and the same table under its new name, only on the
   * source until its rename reaches the target (never a table to create). Neither, nor their
   * parts, is told twice.
   */
  private goneTables(database: string, differences: readonly SchemaDifference[], sourceObjects: readonly SchemaObject[]): Set<string> {
    const gone = new Set(
      differences.flatMap((d) => (d.table && d.object.startsWith('table ') && d.detail === 'only on the target' ? [d.table] : [])),
    );
    for (const o of sourceObjects) {
      if (o.kind !== 'table') continue;
      const former = this.formerName(database, o.objectId, o);
      if (former && gone.has(former.display)) gone.add(displayName(o.schema, o.name));
    }
    return gone;
  }

  private async compare(database: string): Promise<void> {
    const stream = this.streams.find((s) => s.database === database);
    // With the event trigger, the apply follows each change it carried at its place in the stream:
    // the watch follows a difference only once the apply, read before the comparison, had passed
    // where the difference was first seen, so that what it still finds is what the trigger did not
    // carry (made while it was disabled, or before it was made), never what the apply is about to make.
    const exact = this.run.spec.schemaChangeCapture === 'eventTrigger';
    const appliedBefore = exact && stream ? appliedUpTo(stream.applier.stats()) : undefined;
    // best effort: a lock held on a table (a cancel may be waiting on it) makes it give up at once
    const setAsideKeys = this.run.spec.followSchemaChanges ? await keysSetAside(this.run, database) : undefined;
    const compared = await compareKnowing(this.run, database, {
      whileSetAside: true,
      lockTimeout: '1s',
      // the cutover brings large objects level, their comments with them
      largeObjectsLater: true,
      ...(setAsideKeys ? { setAsideKeys } : {}),
    });
    const { check, steps } = compared;
    // a change the apply holds for an enum's label judges a label renamed in place by these at once
    stream?.applier.enumsRecorded(compared.enumOids);
    // read after the comparison: every change it saw committed before this position
    const seenAt = await withSession(this.run.spec.source, { database, purpose: 'schema watch' }, currentPosition);
    const goneTables = this.goneTables(database, check.differences, compared.sourceObjects);
    // where a test lets the apply pass what this look saw before the look reads how far it got
    if (goneTables.size > 0) await holdpoint(`schema-watch-table-gone:${database}`);
    // followSchemaChanges: false warns of every difference and makes none
    const all = this.run.spec.followSchemaChanges ? followables(check, steps) : [];
    // a column's change: the apply follows it at the table's next write, the cutover if none comes
    const withStream = all.filter((i) => i.step.when === 'drained');
    const items = all.filter((i) => i.step.when !== 'drained');
    const appliedAt = appliedBefore ?? (stream ? appliedUpTo(stream.applier.stats()) : 0n);
    this.again.delete(database);
    // a part whose owner the target lacks under that name (a renamed table's sequence, a renamed
    // domain's constraint) goes with its owner's follow: the owner is told or followed, not each part
    let unfollowed = check.differences.filter(
      (d) => !all.some((i) => i.difference === d) && !(d.table && goneTables.has(d.table)) && !followsItsOwner(d),
    );
    if (this.closed) return;
    if (items.length > 0) {
      // where a test holds the watch's first follow, so that a stop of the apply comes before it
      await holdpoint(`schema-watch-follow:${database}`);
      const seen = this.firstSeen.get(database) ?? new Map<string, bigint>();
      this.firstSeen.set(database, seen);
      const keys = new Set(items.map((i) => keyOf(i.difference)));
      for (const key of seen.keys()) if (!keys.has(key)) seen.delete(key);
      for (const key of keys) if (!seen.has(key)) seen.set(key, seenAt);
      const follow = followSchema(this.run, database, items, {
        seenAt: (d) => seen.get(keyOf(d)) ?? seenAt,
        appliedAt,
        streamPartsWait: exact,
      });
      this.following = follow;
      const outcome = await follow.finally(() => (this.following = undefined));
      await recordFollowed(this.run, database, outcome.followed);
      if (outcome.waiting.length > 0 || outcome.failed.length > 0) this.again.add(database);
      // a step that failed is told like one pgferry does not follow, with its error, and tried again
      for (const f of outcome.failed)
        unfollowed = [
          ...unfollowed,
          { ...f.difference, detail: `${f.difference.detail}; following it failed: ${f.error}`, ...(f.fix ? { fix: f.fix } : {}) },
        ];
    }
    const told = this.told.get(database) ?? new Set<string>();
    this.told.set(database, told);
    for (const { difference: d } of withStream.filter((i) => !told.has(keyOf(i.difference)))) {
      told.add(keyOf(d));
      await recordEvent(
        this.run.store,
        this.run.spec.migrationName,
        'info',
        `schema changed on the source while streaming: ${d.object}: ${d.detail}; followed by the stream at the table's next write, or by the cutover`,
        database,
      );
    }
    // what the target alone has is kept, never followed: told once, the cutover lists it again
    const kept = (check.kept ?? []).filter((k) => !told.has(`kept\0${k.object}`));
    for (const k of kept) told.add(`kept\0${k.object}`);
    if (kept.length > 0)
      await recordEvent(
        this.run.store,
        this.run.spec.migrationName,
        'info',
        `on the target only, made there alone (pgferry did not make it, the source never had it): kept as it is: ${kept.map((k) => k.object).join('; ')}`,
        database,
      );
    const fresh = unfollowed.filter((d) => !told.has(keyOf(d)));
    if (fresh.length === 0) return;
    for (const d of fresh) told.add(keyOf(d));
    const message = schemaDifferenceMessage({ ...check, differences: fresh });
    await this.run.warn(
      `schema changed on the source while streaming: ${message}; changes stream on, and the cutover stops until the target matches (run each fix on the target, giving an added column the source's values)`,
      database,
    );
  }
}

const keyOf = (d: SchemaDifference): string => `${d.object}\0${d.detail}`;

/** A streamed table's name before the source renamed it, by its OID there and its name now; undefined if never renamed. */
export type FormerName = (database: string, oid: string, now: { schema: string; name: string }) => { display: string } | undefined;

async function currentPosition(client: pg.Client): Promise<bigint> {
  const { rows } = await client.query<{ lsn: string }>('SELECT pg_catalog.pg_current_wal_lsn()::text AS lsn');
  return parseLsn(rows[0]!.lsn);
}

/** The fingerprint of a database's schema: what a look compares with its last (bench/detectionCost.ts times it). */
export async function fingerprint(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ print: string }>(FINGERPRINT_SQL, [CONTROL_SCHEMA]);
  return rows[0]!.print;
}
