// A change of a streamed table's shape, followed on the target at the relation message that first
// carries it (issue 49): columns dropped, renamed, retyped (where the target cannot derive the
// values, by copying the table again at a pin), NOT NULL dropped. Pure: decided from the relation message, the target's columns and the source's
// own catalog (pg_attribute, by attnum: a rename keeps its attnum, a column dropped and added again
// gets a new one), never guessed from names alone. What cannot be decided or derived is a stop,
// with the statement and the fix, as before.
import type { TypesToMake } from './typesToMake';
import { displayIdent, ident, qualified } from '../../connect/quote';
import { retypeUsing } from '../../connect/retypeUsing';
import type { RelationColumn } from '../decode/pgoutput';
import { FORWARD_STREAM_WORDS, type StreamWords } from '../../core/streamWords';

/** One column of the source table now (pg_attribute), dropped ones included. */
export interface SourceAttribute {
  readonly attnum: number;
  readonly name: string;
  readonly dropped: boolean;
  /** A generated column: pgoutput does not stream it (before PostgreSQL 18). */
  readonly generated: boolean;
  readonly typeOid: number;
  readonly typeMod: number;
  /** format_type: the source catalog's own SQL for the type. */
  readonly type: string;
  readonly notNull: boolean;
  /** A generated column's expression (pg_get_expr): generatedFollow.ts gives the target the same. */
  readonly expression?: string;
}

/** One streamed (not generated) column of the target table, in its order. */
export interface TargetAttribute {
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod: number;
  /** format_type on the target: compared with the source's for types that are not built in. */
  readonly type: string;
  readonly notNull: boolean;
  /** A default or an identity: an INSERT that does not name the column still gives it a value. */
  readonly hasDefault?: boolean;
}

/** OIDs below this are built in and identical on every server (FirstNormalObjectId). */
const FIRST_NORMAL_OID = 16384;

/** Built-in types by OID and modifier; others (their OIDs differ between servers) by their qualified name. */
function sameType(target: TargetAttribute, source: SourceAttribute): boolean {
  if (target.typeOid < FIRST_NORMAL_OID && source.typeOid < FIRST_NORMAL_OID)
    return target.typeOid === source.typeOid && target.typeMod === source.typeMod;
  return target.type === source.type;
}

export type ShapePlan =
  | {
      readonly kind: 'follow';
      /** Statements run on the target, in order, before any row of the new shape. */
      readonly statements: readonly string[];
      /** Columns the source added: added by addColumnPlan (sourceColumns.ts) after these statements. */
      readonly added: readonly string[];
      /** Each streamed column's source attnum: recorded for the next change. */
      readonly attnums: ReadonlyMap<string, number>;
      /** What was followed, for the event: `column "a" renamed to "b"` ... */
      readonly followed: readonly string[];
      /**
       * Columns dropped and added again under their name (in `added` too): the stream cannot say
       * where among the rows that happened (readdedColumns), so the table is copied again at a pin.
       */
      readonly readded: readonly string[];
      /**
       * Columns retyped to values the target cannot derive (a narrowing, another type, a USING
       * only the source ran): the target table is emptied and retyped to the source's type, and
       * copied again at a pin, as for `readded`.
       */
      readonly underived: readonly string[];
      /**
       * The change could not be decided from the stream and the catalog (the catalog moved on
       * again): the target table was emptied and given the source's columns as they are now, and
       * is copied again at a pin; why, for the resync's record.
       */
      readonly reshaped?: string;
      /** Target columns pgferry did not make and the source never had (targetOnlyColumns): kept as they are. */
      readonly kept: readonly string[];
    }
  | {
      readonly kind: 'stop';
      readonly description: string;
      readonly fix: string;
      /** The fix names the source's types (a column retyped): the stop waits for the target to have them (shapeStops.ts typesAwaitedBy). */
      readonly typesOf?: true;
    };

/** OIDs of the built-in types whose widening keeps every value as it was (identical on every server). */
const INT2 = 21;
const INT4 = 23;
const INT8 = 20;
const TEXT = 25;
const VARCHAR = 1043;
const NUMERIC = 1700;
const PRECISION_TYPES = new Set([1114 /* timestamp */, 1184 /* timestamptz */, 1083 /* time */, 1266 /* timetz */]);

const INT_WIDTH = new Map([
  [INT2, 2],
  [INT4, 4],
  [INT8, 8],
]);

/**
 * Pure: whether ALTER COLUMN ... TYPE from `from` to `to` keeps every value, so that the target's
 * own conversion gives what the source's gave (an ALTER TYPE without USING): integers widened,
 * varchar lengthened or made text, numeric given more integer digits and no fewer decimals,
 * timestamps and times given more fractional digits. Anything else (a narrowing, another type, a
 * USING the catalog does not keep) is not derived.
 */
export function derivableRetype(from: { typeOid: number; typeMod: number }, to: { typeOid: number; typeMod: number }): boolean {
  const a = INT_WIDTH.get(from.typeOid);
  const b = INT_WIDTH.get(to.typeOid);
  if (a !== undefined && b !== undefined) return b >= a;
  if (from.typeOid === VARCHAR || from.typeOid === TEXT) {
    if (to.typeOid === TEXT) return true;
    if (to.typeOid !== VARCHAR) return false;
    if (to.typeMod < 0) return true;
    return from.typeOid === VARCHAR && from.typeMod >= 0 && to.typeMod >= from.typeMod;
  }
  if (from.typeOid === NUMERIC && to.typeOid === NUMERIC) {
    if (to.typeMod < 0) return true;
    if (from.typeMod < 0) return false;
    const p = (m: number) => ((m - 4) >> 16) & 0xffff;
    const s = (m: number) => (m - 4) & 0xffff;
    return s(to.typeMod) >= s(from.typeMod) && p(to.typeMod) - s(to.typeMod) >= p(from.typeMod) - s(from.typeMod);
  }
  if (PRECISION_TYPES.has(from.typeOid) && to.typeOid === from.typeOid) {
    if (to.typeMod < 0) return true;
    return from.typeMod >= 0 && to.typeMod >= from.typeMod;
  }
  return false;
}

// a column as the prose of a stop or a follow prints it (bare where plain), never as SQL
const q = displayIdent;

interface ShapeOptions {
  readonly dropNotNull: boolean;
  /** The table can be copied again at a pin (a control catalog records the request): a retype not derivable is followed by one. */
  readonly resync?: boolean;
  /**
   * The table's columns the migration's known objects hold (control/knownObjects.ts: restored by
   * the copy, seen on the source, added by the apply), by name, with the source attnum each was
   * known with. Given, a target column neither streamed, recorded nor known is the target's own
   * (targetOnlyColumns) and kept; undefined (no record to tell by), every target column is taken as
   * the source's, as before the record existed.
   */
  readonly known?: ReadonlyMap<string, number | null>;
  /** How a stop names the two servers (default: the source and the target): the stream's direction. */
  readonly words?: StreamWords;
  /**
   * The types a retype's fix needs that the server it runs on lacks (typesToMake.ts): made first in
   * the printed fix, so that it runs there as printed (the reverse stream's, which no watch waits for).
   */
  readonly typesFirst?: TypesToMake;
}

/**
 * The fix of a change of type the other server cannot derive. Forward, a table copied again gives
 * the values; nothing copies a table back to the old source, so there the window is closed.
 */
function underivedFix(words: StreamWords, change: string): string {
  const then =
    words.direction === 'forward'
      ? 'the table must be copied again (a resync of the table, or restart the migration)'
      : `the ${words.stream} cannot follow it: close the window (\`pgferry update --close-fallback\`)`;
  return `make the same change on ${words.target} (${change} as on ${words.source}) and resume; if the values cannot be derived there, ${then}`;
}

/**
 * The stop of a retype the other server cannot derive, where the table is not copied again: the
 * fix's ALTER COLUMN ... TYPE with the USING that runs there (connect/retypeUsing.ts).
 */
function underivedStop(words: StreamWords, name: string, column: TargetAttribute, now: SourceAttribute, types?: TypesToMake): ShapePlan {
  const retype = `ALTER TABLE ${name} ALTER COLUMN ${ident(now.name)} TYPE ${now.type}${retypeUsing(now.name, column.type, now.type)}`;
  const made = types?.unprinted.length ? `, after making ${types.unprinted.join(', ')} there as on ${words.source}` : '';
  return {
    kind: 'stop',
    description: `column ${q(now.name)} changed type to ${now.type}, a change whose values ${words.target} cannot derive (a narrowing, another type, or a USING expression only ${words.source} ran)`,
    fix: underivedFix(words, [...(types?.statements ?? []), retype].join('; ') + made),
    typesOf: true,
  };
}

/**
 * Pure: the target columns pgferry did not make and the source never had: not streamed, in no
 * attnum record of this runner (`recorded`: every name a recorded shape had), and not among the
 * migration's known objects (`known`). A DBA's column made on the target while streaming is one;
 * a column the source dropped is not (the copy restored it, or the apply added it, and either
 * recorded it). None without the known objects: nothing to tell by.
 */
export function targetOnlyColumns(
  target: readonly { readonly name: string }[],
  streamed: ReadonlySet<string>,
  recorded: ReadonlySet<string>,
  known: ReadonlyMap<string, number | null> | undefined,
): string[] {
  if (!known) return [];
  return target.filter((c) => !streamed.has(c.name) && !recorded.has(c.name) && !known.has(c.name)).map((c) => c.name);
}

/**
 * Pure: the stop for a column kept on the target (targetOnlyColumns) that is NOT NULL without a
 * default: the stream's INSERTs, which do not name it, would fail. Nothing is dropped: the user
 * gives it a default or lets it be NULL, and resumes. Undefined when every kept column takes an
 * INSERT that does not name it.
 */
export function keptColumnStop(
  schema: string,
  table: string,
  target: readonly TargetAttribute[],
  kept: readonly string[],
  { source: from, target: on }: StreamWords = FORWARD_STREAM_WORDS,
): { readonly description: string; readonly fix: string } | undefined {
  const blocking = target.find((c) => kept.includes(c.name) && c.notNull && c.hasDefault === false);
  if (!blocking) return undefined;
  const name = qualified(schema, table);
  const column = ident(blocking.name);
  return {
    description: `column ${q(blocking.name)} was made on ${on} alone (not by pgferry, not on ${from}) and is NOT NULL without a default, so the rows the stream inserts, which do not carry it, cannot be written; pgferry keeps it and does not drop it`,
    fix: `give it a default (ALTER TABLE ${name} ALTER COLUMN ${column} SET DEFAULT ...) or allow NULL (ALTER TABLE ${name} ALTER COLUMN ${column} DROP NOT NULL) on ${on} and resume`,
  };
}

/**
 * Pure: how the target table `target` (its streamed columns, in order) becomes the shape the
 * relation message `streamed` carries, decided by the source's catalog now (`source`).
 *
 * The source's catalog may already be past the message (the apply runs behind the source): its
 * live streamed columns must then still be the message's, name and type, or nothing is decided
 * (a stop). Each target column is the source column of its attnum: `recorded` (the attnums seen
 * with the previous shape), else the attnum of the streamed column of the same name. A target
 * column whose attnum is now a dropped one was dropped; whose attnum carries another name, renamed;
 * another type, retyped (derivableRetype, or a stop). A target column with no known attnum is
 * dropped only when no new streamed column could be it renamed; otherwise a stop. Streamed columns
 * no target column is were added (addColumnPlan).
 */
export function planShapeFollow(
  schema: string,
  table: string,
  streamed: readonly Pick<RelationColumn, 'name' | 'typeOid' | 'typeMod'>[],
  source: readonly SourceAttribute[],
  target: readonly TargetAttribute[],
  recorded: ReadonlyMap<string, number> | undefined,
  options: ShapeOptions = { dropNotNull: true },
): ShapePlan {
  const name = qualified(schema, table);
  const alter = `ALTER TABLE ${name}`;
  const words = options.words ?? FORWARD_STREAM_WORDS;
  const stop = (description: string, fix: string): ShapePlan => ({ kind: 'stop', description, fix });
  const kept = targetOnlyColumns(target, new Set(streamed.map((c) => c.name)), new Set(recorded?.keys() ?? []), options.known);
  const blocked = keptColumnStop(schema, table, target, kept, words);
  if (blocked) return stop(blocked.description, blocked.fix);
  // the target's own columns are no part of the change: never dropped, renamed or retyped; and
  // the table is not copied again at a pin, which would empty them (the stop, as without a resync)
  const own = target.filter((c) => !kept.includes(c.name));
  const plan = planOwnColumns(alter, name, streamed, source, own, recorded, kept.length > 0 ? { ...options, resync: false } : options);
  if (plan.kind === 'stop') return plan;
  if (plan.readded.length > 0 && kept.length > 0)
    return stop(
      `column ${plan.readded.map((c) => q(c)).join(', ')} was dropped and added again under its name, which only a copy of the table again follows, and that would empty ${kept.map((k) => q(k)).join(', ')}, made on ${words.target} alone`,
      `drop and add the column again on ${words.target} as on ${words.source}, fill it from ${words.source}, and resume; pgferry keeps what ${words.target} alone has and does not copy the table again over it`,
    );
  return { ...plan, kept };
}

/** planShapeFollow over the target's columns that are the source's (the kept ones left out). */
function planOwnColumns(
  alter: string,
  name: string,
  streamed: readonly Pick<RelationColumn, 'name' | 'typeOid' | 'typeMod'>[],
  source: readonly SourceAttribute[],
  target: readonly TargetAttribute[],
  recorded: ReadonlyMap<string, number> | undefined,
  options: ShapeOptions,
): ShapePlan {
  const stop = (description: string, fix: string): ShapePlan => ({ kind: 'stop', description, fix });
  const words = options.words ?? FORWARD_STREAM_WORDS;
  const sameChangeFix = `make the same change on ${words.target} and resume`;
  const live = [...source].filter((a) => !a.dropped && !a.generated).sort((x, y) => x.attnum - y.attnum);
  const agrees =
    live.length === streamed.length &&
    live.every((a, i) => a.name === streamed[i]!.name && a.typeOid === streamed[i]!.typeOid && a.typeMod === streamed[i]!.typeMod);
  if (!agrees) return planMovedOn(alter, name, streamed, source, target, recorded, options);
  const byAttnum = new Map(source.map((a) => [a.attnum, a]));
  const streamedAttnum = new Map(live.map((a) => [a.name, a.attnum]));
  const news = new Set(live.map((a) => a.attnum));
  const claimed = new Set<number>();
  // the known objects' attnum last: a runner that did not see the change (stopped meanwhile) still
  // tells a column the source dropped by the attnum it was restored or added with
  const mapped: { column: TargetAttribute; attnum: number | undefined }[] = target.map((column) => ({
    column,
    attnum: recorded?.get(column.name) ?? streamedAttnum.get(column.name) ?? options.known?.get(column.name) ?? undefined,
  }));
  for (const m of mapped) if (m.attnum !== undefined && news.has(m.attnum)) claimed.add(m.attnum);
  const unclaimed = live.filter((a) => !claimed.has(a.attnum));
  const drops: string[] = [];
  const renames: { from: string; to: string }[] = [];
  const retypes: { column: string; to: SourceAttribute; from: TargetAttribute }[] = [];
  const underived: { column: string; to: SourceAttribute }[] = [];
  const notNullDrops: string[] = [];
  for (const { column, attnum } of mapped) {
    if (attnum === undefined) {
      if (unclaimed.length > 0) {
        const why = `column ${q(column.name)} is gone and ${q(unclaimed[0]!.name)} is new, and pgferry does not know which column of ${words.source} the one on ${words.target} was (a rename or a drop and an add)`;
        return options.resync ? reshapeForResync(alter, target, live, why) : stop(why, sameChangeFix);
      }
      drops.push(column.name);
      continue;
    }
    const now = byAttnum.get(attnum);
    if (!now || now.dropped || !news.has(attnum)) {
      if (now && !now.dropped && now.generated) return stop(`column ${q(column.name)} became a generated column`, sameChangeFix);
      drops.push(column.name);
      continue;
    }
    if (now.name !== column.name) renames.push({ from: column.name, to: now.name });
    if (!sameType(column, now)) {
      if (!derivableRetype(column, now) && options.resync) underived.push({ column: now.name, to: now });
      else if (!derivableRetype(column, now)) return underivedStop(words, name, column, now, options.typesFirst);
      else retypes.push({ column: now.name, to: now, from: column });
    }
    if (options.dropNotNull && column.notNull && !now.notNull) notNullDrops.push(now.name);
  }
  const targetNames = new Set(target.map((c) => c.name));
  const mappedAttnums = new Set(mapped.flatMap((m) => (m.attnum === undefined ? [] : [m.attnum])));
  const added = live.filter((a) => !mappedAttnums.has(a.attnum)).map((a) => a.name);
  for (const a of added) {
    if (targetNames.has(a) && !drops.includes(a) && !renames.some((r) => r.from === a))
      return stop(`column ${q(a)} was dropped and added again`, sameChangeFix);
  }
  const { statements, followed } = statementsOf(alter, targetNames, { drops, renames, retypes, notNullDrops, added, underived });
  const readded = added.filter((a) => drops.includes(a));
  return {
    kind: 'follow',
    statements,
    added,
    attnums: streamedAttnum,
    followed,
    readded,
    underived: underived.map((u) => u.column),
    kept: [],
  };
}

/** The source's catalog has moved past the message: aligned by the recorded attnums (alignShape), or undecided. */
function planMovedOn(
  alter: string,
  name: string,
  streamed: readonly Pick<RelationColumn, 'name' | 'typeOid' | 'typeMod'>[],
  source: readonly SourceAttribute[],
  target: readonly TargetAttribute[],
  recorded: ReadonlyMap<string, number> | undefined,
  options: ShapeOptions,
): ShapePlan {
  const aligned = recorded && target.every((c) => recorded.has(c.name)) ? alignShape(streamed, source, target, recorded) : undefined;
  const words = options.words ?? FORWARD_STREAM_WORDS;
  if (aligned)
    return planAligned(alter, name, streamed, target, aligned, readdedColumns(recorded, source), source, options.resync === true, words);
  const why = `its columns changed, and ${words.source}'s catalog has changed again since, so pgferry cannot tell a rename from a drop and an add`;
  const live = [...source].filter((a) => !a.dropped && !a.generated).sort((x, y) => x.attnum - y.attnum);
  return options.resync
    ? reshapeForResync(alter, target, live, why)
    : { kind: 'stop', description: why, fix: `make the same change on ${words.target} and resume` };
}

/**
 * A change the stream and the catalog cannot decide, where the table can be copied again at a pin:
 * the target table is emptied (its rows come back with the copy, its changes skipped until the
 * pin) and given the source's live columns as they are now, by name: the others dropped, a type
 * or NOT NULL that differs set (`USING NULL`: no row is left to convert), the missing ones added.
 * Nothing is guessed about which column became which: every value comes from the source again.
 * Defaults are the schema watch's to follow.
 */
function reshapeForResync(alter: string, target: readonly TargetAttribute[], live: readonly SourceAttribute[], why: string): ShapePlan {
  const statements = [`DELETE FROM ${alter.slice('ALTER TABLE '.length)}`];
  const wanted = new Map(live.map((a) => [a.name, a]));
  for (const c of target) if (!wanted.has(c.name)) statements.push(`${alter} DROP COLUMN ${ident(c.name)}`);
  for (const a of live) {
    const c = target.find((t) => t.name === a.name);
    if (!c) {
      statements.push(`${alter} ADD COLUMN ${ident(a.name)} ${a.type}${a.notNull ? ' NOT NULL' : ''}`);
      continue;
    }
    if (!sameType(c, a)) statements.push(`${alter} ALTER COLUMN ${ident(a.name)} TYPE ${a.type} USING NULL`);
    if (c.notNull !== a.notNull) statements.push(`${alter} ALTER COLUMN ${ident(a.name)} ${a.notNull ? 'SET' : 'DROP'} NOT NULL`);
  }
  return {
    kind: 'follow',
    statements,
    added: [],
    attnums: new Map(live.map((a) => [a.name, a.attnum])),
    followed: [`${why}: the table given the source's columns and copied again at a pinned position`],
    readded: [],
    underived: [],
    reshaped: why,
    kept: [],
  };
}

/**
 * Pure: the columns the source dropped and added again under their name since the attnums were
 * recorded: the recorded attnum is dropped in the catalog now and a live column of the same name
 * has another. pgoutput's relation message may be the same before and after (same name, type and
 * place), and one that differs may have been sent for an earlier change: which rows came before
 * the drop is not in the stream. A row streamed before it carries the old column's value, while the
 * source gave every row there at the drop the new column's default; so the apply cannot order it
 * with the rows, and the table is copied again at a pin instead (ShapePlan.readded).
 */
export function readdedColumns(recorded: ReadonlyMap<string, number> | undefined, source: readonly SourceAttribute[]): string[] {
  if (!recorded) return [];
  const byAttnum = new Map(source.map((a) => [a.attnum, a]));
  const out: string[] = [];
  for (const [name, attnum] of recorded) {
    const then = byAttnum.get(attnum);
    if (then !== undefined && !then.dropped) continue;
    if (source.some((a) => !a.dropped && !a.generated && a.name === name && a.attnum !== attnum)) out.push(name);
  }
  return out;
}

/**
 * The statements of a decided change, in an order the target takes: drops, renames, retypes, NOT
 * NULL. A retype not derivable empties the table first (it is copied again at a pin, its changes
 * skipped until then), so that the source's type is taken whatever the rows held; `USING NULL`
 * converts no value, and an empty table has none.
 */
function statementsOf(
  alter: string,
  targetNames: ReadonlySet<string>,
  change: {
    drops: readonly string[];
    renames: readonly { from: string; to: string }[];
    retypes: readonly { column: string; to: SourceAttribute }[];
    notNullDrops: readonly string[];
    added: readonly string[];
    underived?: readonly { column: string; to: SourceAttribute }[];
  },
): { statements: string[]; followed: string[] } {
  const { drops, renames, retypes, notNullDrops, added, underived = [] } = change;
  const statements: string[] = [];
  const followed: string[] = [];
  for (const d of drops) {
    statements.push(`${alter} DROP COLUMN ${ident(d)}`);
    followed.push(`column ${q(d)} dropped`);
  }
  // a rename onto a name another renamed column still holds (a swap) goes through a free name first
  const remaining = new Set([...targetNames].filter((n) => !drops.includes(n)));
  const clash = renames.some((r) => remaining.has(r.to) && r.to !== r.from);
  const steps = clash
    ? [
        ...renames.map((r, i) => ({ from: r.from, to: `pgferry rename ${i}` })),
        ...renames.map((r, i) => ({ from: `pgferry rename ${i}`, to: r.to })),
      ]
    : renames;
  for (const r of steps) statements.push(`${alter} RENAME COLUMN ${ident(r.from)} TO ${ident(r.to)}`);
  for (const r of renames) followed.push(`column ${q(r.from)} renamed to ${q(r.to)}`);
  for (const r of retypes) {
    statements.push(`${alter} ALTER COLUMN ${ident(r.column)} TYPE ${r.to.type}`);
    followed.push(`column ${q(r.column)} retyped to ${r.to.type}`);
  }
  // the table name is the ALTER's: `ALTER TABLE "s"."t"`
  if (underived.length > 0) statements.push(`DELETE FROM ${alter.slice('ALTER TABLE '.length)}`);
  for (const r of underived) {
    statements.push(`${alter} ALTER COLUMN ${ident(r.column)} TYPE ${r.to.type} USING NULL`);
    followed.push(
      `column ${q(r.column)} retyped to ${r.to.type}, values the target cannot derive: the table copied again at a pinned position`,
    );
  }
  for (const n of notNullDrops) {
    statements.push(`${alter} ALTER COLUMN ${ident(n)} DROP NOT NULL`);
    followed.push(`column ${q(n)} NOT NULL dropped`);
  }
  for (const a of added) followed.push(`column ${q(a)} added`);
  return { statements, followed };
}

/** What the alignment found: each target column's streamed column (or dropped before the message), and the streamed columns added. */
interface Alignment {
  /** Per target column, in order: the index of its streamed column, or -1 (dropped before the message). */
  readonly survivors: readonly number[];
  /** Index of the first added streamed column (the ones after it were added). */
  readonly addedFrom: number;
  readonly attnums: ReadonlyMap<string, number>;
}

/**
 * When the source's catalog has moved past the message: the message's columns are the target's
 * columns that still existed then, in attnum order, followed by the columns added since (an added
 * column's attnum is above every existing one). A target column still live in the catalog must be
 * among them; one dropped there may have been dropped before the message or after. Of the
 * alignments that fit, the one with the fewest renames, then the most names the catalog confirms,
 * is taken (a column dropped and added again under its name counts as a rename); two different
 * ones as good: undefined (a stop). A column judged dropped and added where it was renamed and
 * later dropped ends the same once that later drop arrives; one judged kept where it was dropped
 * and added again under its name keeps the target's old values, which the cutover's verification
 * of the table (read whole: its shape changed) finds.
 */
function alignShape(
  streamed: readonly Pick<RelationColumn, 'name'>[],
  source: readonly SourceAttribute[],
  target: readonly TargetAttribute[],
  recorded: ReadonlyMap<string, number>,
): Alignment | undefined {
  const byAttnum = new Map(source.map((a) => [a.attnum, a]));
  const attnumOf = target.map((c) => recorded.get(c.name)!);
  const alive = attnumOf.map((k) => {
    const a = byAttnum.get(k);
    return a !== undefined && !a.dropped;
  });
  const maxKnown = Math.max(0, ...recorded.values());
  const later = source.filter((a) => a.attnum > maxKnown).sort((x, y) => x.attnum - y.attnum);
  const laterLive = later.filter((a) => !a.dropped && !a.generated);
  const p = target.length;
  const n = streamed.length;
  interface Cell {
    readonly renames: number;
    readonly evidence: number;
    readonly ties: number;
    readonly from?: { i: number; j: number; matched: boolean };
  }
  const better = (a: Cell | undefined, b: Cell): boolean =>
    a === undefined || b.renames < a.renames || (b.renames === a.renames && b.evidence > a.evidence);
  const same = (a: Cell, b: Cell): boolean => a.renames === b.renames && a.evidence === b.evidence;
  // cell[i][j]: target columns 0..i aligned with streamed columns 0..j
  const cell: (Cell | undefined)[][] = Array.from({ length: p + 1 }, () => new Array<Cell | undefined>(n + 1).fill(undefined));
  cell[0]![0] = { renames: 0, evidence: 0, ties: 1 };
  const offer = (i: number, j: number, c: Cell): void => {
    const cur = cell[i]![j];
    if (cur && same(cur, c)) cell[i]![j] = { ...cur, ties: Math.min(2, cur.ties + c.ties) };
    else if (better(cur, c)) cell[i]![j] = c;
  };
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= n; j++) {
      const c = cell[i]![j];
      if (!c) continue;
      // dropped before the message: only a column the catalog has dropped
      if (!alive[i]) offer(i + 1, j, { renames: c.renames, evidence: c.evidence, ties: c.ties, from: { i, j, matched: false } });
      if (j < n) {
        const renamed = target[i]!.name !== streamed[j]!.name;
        const now = byAttnum.get(attnumOf[i]!);
        const confirmed = now !== undefined && !now.dropped && now.name === streamed[j]!.name ? 1 : 0;
        offer(i + 1, j + 1, {
          renames: c.renames + (renamed ? 1 : 0),
          evidence: c.evidence + confirmed,
          ties: c.ties,
          from: { i, j, matched: true },
        });
      }
    }
  }
  let best: { m: number; cell: Cell } | undefined;
  let tied = false;
  for (let m = 0; m <= n; m++) {
    const c = cell[p]![m];
    if (!c || n - m > later.length) continue;
    const added = streamed.slice(m);
    const confirmed = laterLive.length >= added.length && added.every((a, k) => laterLive[k]!.name === a.name) ? added.length : 0;
    // a column dropped and added again under its name is less likely than the same column kept
    const readded = added.filter((a) => target.some((t) => t.name === a.name)).length;
    const total: Cell = { ...c, renames: c.renames + readded, evidence: c.evidence + confirmed };
    if (best && same(best.cell, total)) tied = true;
    else if (better(best?.cell, total)) {
      best = { m, cell: total };
      tied = c.ties > 1;
    }
  }
  if (!best || tied) return undefined;
  const survivors = traceBack(cell, p, best.m);
  const attnums = new Map<string, number>();
  survivors.forEach((k, t) => k >= 0 && attnums.set(streamed[k]!.name, attnumOf[t]!));
  const added = streamed.slice(best.m);
  if (laterLive.length >= added.length && added.every((a, k) => laterLive[k]!.name === a.name))
    added.forEach((a, k) => attnums.set(a.name, laterLive[k]!.attnum));
  return { survivors, addedFrom: best.m, attnums };
}

/** Per target column, its streamed column in the alignment that ends at cell[p][m] (alignShape), or -1. */
function traceBack(
  cell: readonly (readonly ({ from?: { i: number; j: number; matched: boolean } } | undefined)[])[],
  p: number,
  m: number,
): number[] {
  const survivors = new Array<number>(p).fill(-1);
  let i = p;
  let j = m;
  while (i > 0) {
    const from = cell[i]![j]!.from!;
    if (from.matched) survivors[from.i] = from.j;
    i = from.i;
    j = from.j;
  }
  return survivors;
}

/** The statements of an alignment (alignShape): its drops, renames and derivable retypes, and the columns to add. */
function planAligned(
  alter: string,
  name: string,
  streamed: readonly Pick<RelationColumn, 'name' | 'typeOid' | 'typeMod'>[],
  target: readonly TargetAttribute[],
  aligned: Alignment,
  readdedNames: readonly string[],
  source: readonly SourceAttribute[],
  resync: boolean,
  words: StreamWords,
): ShapePlan {
  const drops: string[] = [];
  const attnums = new Map(aligned.attnums);
  const readdedKept: string[] = [];
  const renames: { from: string; to: string }[] = [];
  const retypes: { column: string; to: SourceAttribute }[] = [];
  for (const [t, k] of aligned.survivors.entries()) {
    const column = target[t]!;
    if (k < 0) {
      drops.push(column.name);
      continue;
    }
    const now = streamed[k]!;
    // kept by the alignment, dropped and added again by the catalog: dropped and added (readded)
    const again = source.find((a) => !a.dropped && !a.generated && a.name === column.name);
    if (now.name === column.name && readdedNames.includes(column.name) && again) {
      drops.push(column.name);
      readdedKept.push(column.name);
      attnums.set(column.name, again.attnum);
      continue;
    }
    if (now.name !== column.name) renames.push({ from: column.name, to: now.name });
    // a user type's oid is the server's own: only built-in types are compared by oid here
    const builtIn = now.typeOid < FIRST_NORMAL_OID && column.typeOid < FIRST_NORMAL_OID;
    if (builtIn && (now.typeOid !== column.typeOid || now.typeMod !== column.typeMod)) {
      const type = typeSql(now.typeOid, now.typeMod);
      // the values come from the source again where a copy at a pin can be asked for: the table
      // reshaped to the catalog's columns now, as when the catalog cannot decide at all
      if ((!type || !derivableRetype(column, now)) && resync)
        return reshapeForResync(
          alter,
          target,
          source.filter((a) => !a.dropped && !a.generated).sort((x, y) => x.attnum - y.attnum),
          `column ${q(now.name)} changed type, a change whose values the target cannot derive, and the source's catalog has changed again since`,
        );
      if (!type || !derivableRetype(column, now))
        return {
          kind: 'stop',
          description: `column ${q(now.name)} changed type, a change whose values ${words.target} cannot derive (a narrowing, another type, or a USING expression only ${words.source} ran)`,
          fix: underivedFix(words, `ALTER TABLE ${name} ALTER COLUMN ${ident(now.name)} TYPE ... USING ...`),
        };
      retypes.push({
        column: now.name,
        to: {
          attnum: 0,
          name: now.name,
          dropped: false,
          generated: false,
          typeOid: now.typeOid,
          typeMod: now.typeMod,
          type,
          notNull: false,
        },
      });
    }
  }
  const added = [...readdedKept, ...streamed.slice(aligned.addedFrom).map((c) => c.name)];
  const targetNames = new Set(target.map((c) => c.name));
  const { statements, followed } = statementsOf(alter, targetNames, { drops, renames, retypes, notNullDrops: [], added });
  const readded = added.filter((a) => drops.includes(a));
  return { kind: 'follow', statements, added, attnums, followed, readded, underived: [], kept: [] };
}

/** The SQL of a built-in type a derivable retype goes to (derivableRetype's types), as format_type prints it; undefined for others. */
function typeSql(typeOid: number, typeMod: number): string | undefined {
  const precision = (base: string, suffix = '') => (typeMod >= 0 ? `${base}(${typeMod})${suffix}` : `${base}${suffix}`);
  switch (typeOid) {
    case INT2:
      return 'smallint';
    case INT4:
      return 'integer';
    case INT8:
      return 'bigint';
    case TEXT:
      return 'text';
    case VARCHAR:
      return typeMod >= 0 ? `character varying(${typeMod - 4})` : 'character varying';
    case NUMERIC:
      return typeMod >= 0 ? `numeric(${((typeMod - 4) >> 16) & 0xffff},${(typeMod - 4) & 0xffff})` : 'numeric';
    case 1114:
      return precision('timestamp', ' without time zone');
    case 1184:
      return precision('timestamp', ' with time zone');
    case 1083:
      return precision('time', ' without time zone');
    case 1266:
      return precision('time', ' with time zone');
    default:
      return undefined;
  }
}
