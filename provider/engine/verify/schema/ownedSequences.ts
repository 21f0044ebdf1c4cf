// A sequence a column owns (serial) is its column's, whatever each server named it: a fix pgferry
// prints may give it another name where the one the other server has is taken (a fall-back's table
// of the window, switchover/windowTables.ts), and PostgreSQL picks another itself in that case. A
// fall-back's schema check pairs such sequences by their column, as the sequence values are paired
// (catalog/queries.ts SEQUENCE_OWNER): the target's is compared under the source's name, and each
// default drawing from it is read as drawing from the source's. The names differ on purpose: the
// check lists it, it is no difference. (While streaming, a name that differs is the source's
// rename, which the schema follow makes on the target: the names are compared as they are then.)
//
// Everything here is the catalog's (catalog.ts): the owning column as pg_depend names it (schema,
// table and column, never a printed text, which quotes a keyword one way on one major and another
// way on the next), the sequences a default draws from by the OIDs its pg_attrdef row depends on,
// and each reference as the server prints it. A default's text is never parsed. A default is compared
// in the source's names, but a difference shows each server's own text, and its fix names the
// sequences as the target does: the statement runs there, where the source's names may not exist.
import type { ExpectedDifference } from '../../core/model';
import type { SchemaObject } from './catalog';
import { describeObject } from './fixes';

/** The column that owns a sequence, as one key: schema, table and column; undefined for a free-standing one. */
const ownerKey = (o: SchemaObject): string | undefined => (o.kind === 'sequence' && o.ownedBy ? o.ownedBy.join('\0') : undefined);

/** Kinds whose name a sequence cannot take in their schema: relations, and types (a sequence's row type is one). */
const NAMES_A_RELATION = new Set([
  'table',
  'view',
  'materialized view',
  'sequence',
  'foreign table',
  'enum type',
  'composite type',
  'domain',
  'range type',
  'base type',
]);

/** A regular expression source matching `text` literally. */
const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A column's default with each reference to a sequence of `spelled` (by its OID on the column's
 * server) spelled as the mate's on the other server; undefined where it names none. Every reference
 * is replaced in one pass, so a pair whose names are swapped between the servers reads right.
 */
function respelled(c: SchemaObject, spelled: ReadonlyMap<string, string>): string | undefined {
  const def = c.props.default;
  if (c.kind !== 'column' || typeof def !== 'string' || !c.drawsFrom) return undefined;
  const references = new Map<string, string>();
  for (const d of c.drawsFrom) {
    const mate = spelled.get(d.objectId);
    if (mate !== undefined) references.set(d.reference, mate);
  }
  if (references.size === 0) return undefined;
  const longestFirst = [...references.keys()].sort((a, b) => b.length - a.length);
  const now = def.replace(new RegExp(longestFirst.map(escaped).join('|'), 'g'), (ref) => references.get(ref)!);
  return now === def ? undefined : now;
}

/**
 * The target's column compared with its default naming the source's sequences (`toSource`, by the
 * target's OID), and shown as the target prints it.
 */
function drawingFromMates(t: SchemaObject, toSource: ReadonlyMap<string, string>): SchemaObject {
  const now = respelled(t, toSource);
  return now === undefined ? t : { ...t, props: { ...t.props, default: now }, asPrinted: { default: t.props.default ?? null } };
}

/**
 * The source's column with its default as the target would name the paired sequences (`toTarget`,
 * by the source's OID): the text a fix sets there, where the source's names are not the target's.
 */
function spelledForTarget(o: SchemaObject, toTarget: ReadonlyMap<string, string>): SchemaObject {
  const now = respelled(o, toTarget);
  return now === undefined ? o : { ...o, asOnTarget: { default: now } };
}

/**
 * The target's objects with each sequence a column owns named as the source's sequence that column
 * owns, and each default drawing from it compared as naming the source's (shown as the target prints
 * it); the source's objects with each default drawing from a paired sequence spelled as the target
 * names it, for a fix run there; and the pairs, as deliberate differences.
 */
export function pairOwnedSequences(
  source: readonly SchemaObject[],
  target: readonly SchemaObject[],
): { readonly source: SchemaObject[]; readonly target: SchemaObject[]; readonly expected: ExpectedDifference[] } {
  const sourceOwned = new Map(source.flatMap((o) => (ownerKey(o) === undefined ? [] : [[ownerKey(o)!, o] as const])));
  const mates = new Map<string, SchemaObject>(); // the target's sequence's OID -> the source's, where the names differ
  const expected: ExpectedDifference[] = [];
  // a name the target gives to a relation of its own is not taken for another: both are compared as they are
  const targetNames = new Set(target.filter((t) => NAMES_A_RELATION.has(t.kind)).map((t) => `${t.schema}\0${t.name}`));
  const paired = target.map((t) => {
    const key = ownerKey(t);
    const mate = key === undefined ? undefined : sourceOwned.get(key);
    if (!mate || mate.schema !== t.schema || mate.name === t.name || targetNames.has(`${mate.schema}\0${mate.name}`)) return t;
    mates.set(t.objectId, mate);
    const owner = typeof t.props['owned by'] === 'string' ? t.props['owned by'] : '';
    expected.push({
      object: describeObject(mate),
      reason: `named ${describeObject(t).replace(/^sequence /, '')} on the target: a sequence its column ${owner} owns, paired by that column`,
    });
    return { ...t, name: mate.name, ...(mate.reference !== undefined ? { reference: mate.reference } : {}) };
  });
  if (mates.size === 0) return { source: [...source], target: [...target], expected };
  const toSource = new Map<string, string>(); // the target's sequence's OID -> the source's reference
  const toTarget = new Map<string, string>(); // the source's sequence's OID -> the target's reference
  for (const t of target) {
    const mate = mates.get(t.objectId);
    if (mate?.reference === undefined || t.reference === undefined) continue;
    toSource.set(t.objectId, mate.reference);
    toTarget.set(mate.objectId, t.reference);
  }
  return {
    source: source.map((o) => spelledForTarget(o, toTarget)),
    target: paired.map((t) => drawingFromMates(t, toSource)),
    expected,
  };
}
