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
// and each reference as the server prints it. A default's text is never parsed.
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
 * A column's default with each reference to a paired sequence of the target (`mates`, by the
 * target's OID) spelled as the source's sequence's. Every reference is replaced in one pass, so a
 * pair whose names are swapped between the servers reads right.
 */
function drawingFromMates(t: SchemaObject, mates: ReadonlyMap<string, SchemaObject>): SchemaObject {
  const def = t.props.default;
  if (t.kind !== 'column' || typeof def !== 'string' || !t.drawsFrom) return t;
  const spelled = new Map<string, string>();
  for (const d of t.drawsFrom) {
    const mate = mates.get(d.objectId);
    if (mate?.reference !== undefined) spelled.set(d.reference, mate.reference);
  }
  if (spelled.size === 0) return t;
  const longestFirst = [...spelled.keys()].sort((a, b) => b.length - a.length);
  const now = def.replace(new RegExp(longestFirst.map(escaped).join('|'), 'g'), (ref) => spelled.get(ref)!);
  return now === def ? t : { ...t, props: { ...t.props, default: now } };
}

/**
 * The target's objects with each sequence a column owns named as the source's sequence that column
 * owns, and each default drawing from it naming the source's; and the pairs, as deliberate differences.
 */
export function pairOwnedSequences(
  source: readonly SchemaObject[],
  target: readonly SchemaObject[],
): { readonly target: SchemaObject[]; readonly expected: ExpectedDifference[] } {
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
  if (mates.size === 0) return { target: [...target], expected };
  return { target: paired.map((t) => drawingFromMates(t, mates)), expected };
}
