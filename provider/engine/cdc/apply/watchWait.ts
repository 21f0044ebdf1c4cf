// A change the target refuses for want of a type or an enum label the source has: an enum made in
// the transaction that adds a column of it (a Sequelize or TypeORM migration), or a label added and
// used at once. The stream carries no DDL of types, and a label added on the target inside the
// apply's transaction could not be used before that transaction commits: the schema watch makes
// them there at its next look (flow/schemaFollow.ts, a step that refuses no row, so it waits for
// nothing). Until then the apply holds that change and tries it again once the target has them,
// rather than stopping the stream and trying again after the stop's back-off. A refusal with
// nothing missing is tried again once (the watch may have made it just after the refusal); a
// label renamed in place (the type's OID on the source the one recorded) stops at once, one that
// may be a type made again once a look begun after the refusal has not made it, and one the watch
// has not followed within the bound stops as before. The watch's looks go on while the supervisor's tick
// waits (flow/handleTick.ts): a resync's pin waits for this apply, which waits for the watch.
import type pg from 'pg';
import { withSessionPair } from '../../connect/session';
import { displayName, literal, qualified } from '../../connect/quote';
import { sqlStateWithin, UNDEFINED_OBJECT } from '../../connect/sqlstate';
import type { ServerSpec } from '../../input/migrationSpec';
import { causeOf, errorMessage } from '../../core/errors';
import { StatementFailure } from './targetTransaction';
import type { StopTable } from './shapeStops';

/** How long the apply holds a change for the schema watch (whose looks come at most a minute apart on a large schema). */
export const WATCH_WAIT_MS = 120_000;
/** Between two looks at the target while a change is held. */
const WATCH_POLL_MS = 500;

/** A value a type's input refuses (an enum's label the target lacks). */
const INVALID_TEXT_REPRESENTATION = '22P02';

/** The user types of a table's columns on the source (an array's element, not the array), each with its OID and an enum's labels. */
const SOURCE_TYPES_SQL = `
SELECT DISTINCT n.nspname AS schema, t.typname AS name, t.oid::text AS oid,
       ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_type c ON c.oid = a.atttypid
  JOIN pg_catalog.pg_type t ON t.oid = CASE WHEN c.typelem <> 0 AND c.typlen = -1 THEN c.typelem ELSE c.oid END
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
 WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND t.oid >= 16384`;

/** The same types on the target, by name: whether there, and an enum's labels in their order. */
const TARGET_TYPES_SQL = `
SELECT t.oid IS NOT NULL AS present,
       ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels
  FROM unnest($1::text[]) WITH ORDINALITY AS x(name, i)
  LEFT JOIN pg_catalog.pg_type t ON t.oid = pg_catalog.to_regtype(x.name)
 ORDER BY x.i`;

/** The table of a change refused for a missing type (42704) or a value a type refused (22P02); undefined for any other failure. */
export function awaitedTable(error: unknown): StopTable | undefined {
  const state = sqlStateWithin(error);
  if (state !== UNDEFINED_OBJECT && state !== INVALID_TEXT_REPRESENTATION) return undefined;
  const failure = causeOf(error, StatementFailure);
  return failure && { printed: failure.printed, field: failure.table };
}

/**
 * A change refused for an enum label the source renamed in place (ALTER TYPE ... RENAME VALUE),
 * which no look of the watch makes: the stream stops on it (cdc/apply/applyStop.ts), its fix the
 * rename on the target, `statements`, rather than the label added, which would leave the old label
 * there and the two types different at the cutover. Its message is the refusal's.
 */
export class LabelsRenamed extends Error {
  constructor(
    readonly statements: readonly string[],
    cause: unknown,
  ) {
    super(errorMessage(cause), { cause });
  }
}

/**
 * The renames that make the target's labels of `type` the source's, each label the target has alone
 * in the place of one the source has alone (as the schema check's fix: verify/schema/fixes.ts
 * labelChanges); none when the labels differ otherwise (some added or removed as well).
 */
function renameStatements(type: string, source: readonly string[], target: readonly string[]): string[] {
  if (source.length !== target.length) return [];
  const renames = target.flatMap((label, i) => (label === source[i] ? [] : [[label, source[i]!] as const]));
  if (renames.some(([from, to]) => source.includes(from) || target.includes(to))) return [];
  return renames.map(([from, to]) => `ALTER TYPE ${type} RENAME VALUE ${literal(from)} TO ${literal(to)}`);
}

/** What the target lacks for a table's change (lacking). */
interface Lacking {
  readonly missing: string[];
  readonly renamed: boolean;
  readonly inPlace: boolean;
  /** The RENAME VALUE statements that make the renamed types' labels the source's, where renames alone do. */
  readonly renames: string[];
}

/**
 * What the target lacks of the types the source's table uses, that the watch makes there: types,
 * and enum labels added, as a message names them. `renamed`: the target has a label the source has
 * not too (RENAME VALUE, which the watch does not follow, or a type made again: heldUntilMade);
 * `inPlace`: such a type lacks a label and keeps the OID `recordedOid` gives it (recorded when the
 * target's type last matched it): renamed in place, never made again.
 */
async function lacking(
  source: pg.Client,
  target: pg.Client,
  table: string,
  recordedOid: (type: string) => string | undefined,
): Promise<Lacking> {
  const { rows: types } = await source.query<{ schema: string; name: string; oid: string; labels: string[] }>(SOURCE_TYPES_SQL, [table]);
  if (types.length === 0) return { missing: [], renamed: false, inPlace: false, renames: [] };
  const names = types.map((t) => qualified(t.schema, t.name));
  const { rows: there } = await target.query<{ present: boolean; labels: string[] }>(TARGET_TYPES_SQL, [names]);
  let [renamed, inPlace] = [false, false];
  const renames: string[] = [];
  const missing = types.flatMap((t, i) => {
    const have = there[i];
    const shown = displayName(t.schema, t.name);
    if (!have?.present) return [`type ${shown}`];
    const added = t.labels.filter((l) => !have.labels.includes(l));
    if (have.labels.some((l) => !t.labels.includes(l))) {
      renamed = true;
      if (added.length > 0 && recordedOid(names[i]!) === t.oid) inPlace = true;
      renames.push(...renameStatements(names[i]!, t.labels, have.labels));
    }
    return added.map((l) => `label ${literal(l)} of ${shown}`);
  });
  return { missing, renamed, inPlace, renames };
}

/** How long a held change waits, and what it reads of the schema watch. */
export interface WatchHold {
  readonly deadline: number;
  readonly stopped: () => boolean;
  /** When the latest look of the watch at the database that has ended began (Date.now()). */
  readonly lookedSince: () => number;
  /** The source OID the control catalog records for an enum type (by qualified name), as the watch's latest comparison read it. */
  readonly recordedOid: (type: string) => string | undefined;
}

/**
 * Holds a change of `table` the target refused while the target lacks a type or an enum label the
 * source's table uses, until the schema watch has made them there ('made': try it again now), or
 * until the deadline or stopped ('unmade': stop as before). 'present' when nothing is missing at
 * the first look: the watch may have made it between the refusal and this look, or the refusal had
 * another cause, which a single try again tells apart. Labels missing while the target has others
 * the source has not: a label renamed in place, which the watch leaves to the user, or the type
 * made again with labels removed and added, whose labels the watch adds (flow/enumRemake.ts); they
 * are told apart by the type's OID on the source against the one the control catalog records for
 * it. Kept (renamed in place): `renamed` at once, or as soon as the watch's first comparison since
 * the runner started has handed the recorded OIDs over, with the renames that make the labels the
 * source's (the stop's fix). Otherwise they wait for one look begun after the refusal to end,
 * `renamed` if it did not make them. `tell` is given what is missing, at the first look that finds it.
 */
export async function heldUntilMade(
  servers: { readonly source: ServerSpec; readonly target: ServerSpec; readonly database: string },
  table: string,
  hold: WatchHold,
  tell: (missing: readonly string[]) => void,
): Promise<'made' | 'unmade' | 'present' | { readonly renamed: readonly string[] }> {
  const options = { database: servers.database, purpose: 'apply' } as const;
  const refusedAt = Date.now();
  return withSessionPair(servers.source, options, servers.target, options, async ({ source, target }) => {
    const first = await lacking(source, target, table, hold.recordedOid);
    if (first.missing.length === 0) return 'present';
    // a label renamed in place: no look makes it, so the stop comes now rather than a look later
    if (first.inPlace) return { renamed: first.renames };
    tell(first.missing);
    for (;;) {
      if (Date.now() > hold.deadline || hold.stopped()) return 'unmade';
      // read before the target: a look that ended before this read made what it makes by then
      const looked = hold.lookedSince() >= refusedAt;
      await new Promise((resolve) => setTimeout(resolve, WATCH_POLL_MS));
      const now = await lacking(source, target, table, hold.recordedOid);
      if (now.missing.length === 0) return 'made';
      // the watch's first comparison since the runner started may come while the change is held
      if (now.inPlace || (first.renamed && looked)) return { renamed: now.renames };
    }
  });
}
