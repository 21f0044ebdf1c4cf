// A change of a streamed table's shape, followed on the target at the relation message that first
// carries it (issue 49): columns dropped, renamed, retyped where the target can derive the values,
// NOT NULL dropped. Pure: decided from the relation message, the target's columns and the source's
// own catalog (pg_attribute, by attnum: a rename keeps its attnum, a column dropped and added again
// gets a new one), never guessed from names alone. What cannot be decided or derived is a stop,
// with the statement and the fix, as before.
import { ident, qualified } from '../../connect/quote';
import type { RelationColumn } from '../decode/pgoutput';

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
}

/** One streamed (not generated) column of the target table, in its order. */
export interface TargetAttribute {
  readonly name: string;
  readonly typeOid: number;
  readonly typeMod: number;
  /** format_type on the target: compared with the source's for types that are not built in. */
  readonly type: string;
  readonly notNull: boolean;
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
      /** Columns the source added: added by addColumnPlan (targetTables.ts) after these statements. */
      readonly added: readonly string[];
      /** Each streamed column's source attnum: recorded for the next change. */
      readonly attnums: ReadonlyMap<string, number>;
      /** What was followed, for the event: `column "a" renamed to "b"` ... */
      readonly followed: readonly string[];
    }
  | { readonly kind: 'stop'; readonly description: string; readonly fix: string };

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

const q = JSON.stringify;

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
  options: { dropNotNull: boolean } = { dropNotNull: true },
): ShapePlan {
  const name = qualified(schema, table);
  const alter = `ALTER TABLE ${name}`;
  const stop = (description: string, fix: string): ShapePlan => ({ kind: 'stop', description, fix });
  const sameChangeFix = 'make the same change on the target and resume';
  const live = [...source].filter((a) => !a.dropped && !a.generated).sort((x, y) => x.attnum - y.attnum);
  const agrees =
    live.length === streamed.length &&
    live.every((a, i) => a.name === streamed[i]!.name && a.typeOid === streamed[i]!.typeOid && a.typeMod === streamed[i]!.typeMod);
  if (!agrees) {
    return stop(
      "its columns changed, and the source's catalog has changed again since, so pgferry cannot tell a rename from a drop and an add",
      sameChangeFix,
    );
  }
  const byAttnum = new Map(source.map((a) => [a.attnum, a]));
  const streamedAttnum = new Map(live.map((a) => [a.name, a.attnum]));
  const news = new Set(live.map((a) => a.attnum));
  const claimed = new Set<number>();
  const mapped: { column: TargetAttribute; attnum: number | undefined }[] = target.map((column) => {
    const attnum = recorded?.get(column.name) ?? streamedAttnum.get(column.name);
    return { column, attnum };
  });
  for (const m of mapped) if (m.attnum !== undefined && news.has(m.attnum)) claimed.add(m.attnum);
  const unclaimed = live.filter((a) => !claimed.has(a.attnum));
  const drops: string[] = [];
  const renames: { from: string; to: string }[] = [];
  const retypes: { column: string; to: SourceAttribute; from: TargetAttribute }[] = [];
  const notNullDrops: string[] = [];
  for (const { column, attnum } of mapped) {
    if (attnum === undefined) {
      if (unclaimed.length > 0)
        return stop(
          `column ${q(column.name)} is gone and ${q(unclaimed[0]!.name)} is new, and pgferry does not know which source column the target's was (a rename or a drop and an add)`,
          sameChangeFix,
        );
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
      if (!derivableRetype(column, now))
        return stop(
          `column ${q(now.name)} changed type to ${now.type}, a change whose values the target cannot derive (a narrowing, another type, or a USING expression only the source ran)`,
          `make the same change on the target (ALTER TABLE ${name} ALTER COLUMN ${ident(now.name)} TYPE ${now.type} USING ... as on the source) and resume; if the values cannot be derived there, the table must be copied again (a resync of the table, or restart the migration)`,
        );
      retypes.push({ column: now.name, to: now, from: column });
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
  const { statements, followed } = statementsOf(alter, targetNames, { drops, renames, retypes, notNullDrops, added });
  return { kind: 'follow', statements, added, attnums: streamedAttnum, followed };
}

/** The statements of a decided change, in an order the target takes: drops, renames, retypes, NOT NULL. */
function statementsOf(
  alter: string,
  targetNames: ReadonlySet<string>,
  change: {
    drops: readonly string[];
    renames: readonly { from: string; to: string }[];
    retypes: readonly { column: string; to: SourceAttribute }[];
    notNullDrops: readonly string[];
    added: readonly string[];
  },
): { statements: string[]; followed: string[] } {
  const { drops, renames, retypes, notNullDrops, added } = change;
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
  for (const n of notNullDrops) {
    statements.push(`${alter} ALTER COLUMN ${ident(n)} DROP NOT NULL`);
    followed.push(`column ${q(n)} NOT NULL dropped`);
  }
  for (const a of added) followed.push(`column ${q(a)} added`);
  return { statements, followed };
}
