// A sequence a column owns (serial) is its column's, whatever each server named it: a fix pgferry
// prints may give it another name where the one the other server has is taken (a fall-back's table
// of the window, switchover/windowTables.ts), and PostgreSQL picks another itself in that case. A
// fall-back's schema check pairs such sequences by their column, as the sequence values are paired
// (catalog/queries.ts SEQUENCE_OWNER): the target's is compared under the source's name, and the
// owning column's default naming it is read as naming the source's. The names differ on purpose:
// the check lists it, it is no difference. (While streaming, a name that differs is the source's
// rename, which the schema follow makes on the target: the names are compared as they are then.)
import type { ExpectedDifference } from '../../core/model';
import type { SchemaObject } from './catalog';
import { describeObject } from './fixes';

/** The parts of a qualified name as a regclass prints it (`public.seq`, `"My".seq`); undefined when it does not parse. */
function nameParts(text: string): string[] | undefined {
  const parts: string[] = [];
  let rest = text;
  for (;;) {
    const quoted = /^"((?:[^"]|"")*)"/.exec(rest);
    const bare = quoted ? undefined : /^[^."]+/.exec(rest);
    if (!quoted && !bare) return undefined;
    parts.push(quoted ? quoted[1]!.replace(/""/g, '"') : bare![0]);
    rest = rest.slice((quoted ?? bare)![0].length);
    if (rest === '') return parts;
    if (!rest.startsWith('.')) return undefined;
    rest = rest.slice(1);
  }
}

/** Each regclass constant of a default's expression (`'public.seq'::regclass`), with the schema and name it names. */
function regclassConstants(expr: string): { text: string; schema: string; name: string }[] {
  return [...expr.matchAll(/'((?:[^']|'')*)'::regclass/g)].flatMap((m) => {
    const parts = nameParts(m[1]!.replace(/''/g, "'"));
    return parts?.length === 2 ? [{ text: m[0], schema: parts[0]!, name: parts[1]! }] : [];
  });
}

/** The column a sequence's `owned by` names, as the catalog prints it, or undefined for a free-standing one. */
const ownerOf = (o: SchemaObject): string | undefined =>
  o.kind === 'sequence' && typeof o.props['owned by'] === 'string' ? o.props['owned by'] : undefined;

/** A column's `owned by` text (catalog.ts: schema, table and column, each as %I prints it). */
const columnOwner = (o: SchemaObject): string | undefined =>
  o.kind === 'column' && o.relation !== null ? `${quoteLike(o.schema)}.${quoteLike(o.relation)}.${quoteLike(o.name)}` : undefined;

/** As format's %I prints a name: bare where it is a plain lower-case name, else double-quoted (keywords aside, which no pairing needs). */
const quoteLike = (name: string): string => (/^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`);

/**
 * The target's objects with each sequence a column owns named as the source's sequence its column
 * owns, and that column's default naming it so; and the pairs, as deliberate differences.
 */
export function pairOwnedSequences(
  source: readonly SchemaObject[],
  target: readonly SchemaObject[],
): { readonly target: SchemaObject[]; readonly expected: ExpectedDifference[] } {
  const sourceOwned = new Map(source.flatMap((o) => (ownerOf(o) === undefined ? [] : [[ownerOf(o)!, o] as const])));
  const renamed = new Map<string, SchemaObject>(); // owner column -> the source's sequence, where the names differ
  const expected: ExpectedDifference[] = [];
  const paired = target.map((t) => {
    const owner = ownerOf(t);
    const mate = owner === undefined ? undefined : sourceOwned.get(owner);
    if (!mate || (mate.schema === t.schema && mate.name === t.name) || mate.schema !== t.schema) return t;
    renamed.set(owner!, mate);
    expected.push({
      object: describeObject(mate),
      reason: `named ${describeObject(t).replace(/^sequence /, '')} on the target: a sequence its column ${owner!} owns, paired by that column`,
    });
    return { ...t, name: mate.name };
  });
  if (renamed.size === 0) return { target: [...target], expected };
  const sourceColumns = new Map(source.flatMap((o) => (columnOwner(o) === undefined ? [] : [[columnOwner(o)!, o] as const])));
  const targetNames = new Map(target.flatMap((t) => (ownerOf(t) === undefined ? [] : [[ownerOf(t)!, t] as const])));
  return {
    target: paired.map((t) => {
      const column = columnOwner(t);
      const mate = column === undefined ? undefined : renamed.get(column);
      const theirs = column === undefined ? undefined : targetNames.get(column);
      const def = t.props.default;
      if (!mate || !theirs || typeof def !== 'string') return t;
      const sourceDefault = sourceColumns.get(column!)?.props.default;
      const spelled =
        typeof sourceDefault === 'string'
          ? regclassConstants(sourceDefault).find((c) => c.schema === mate.schema && c.name === mate.name)
          : undefined;
      if (!spelled) return t;
      let now = def;
      for (const c of regclassConstants(def))
        if (c.schema === theirs.schema && c.name === theirs.name) now = now.split(c.text).join(spelled.text);
      return { ...t, props: { ...t.props, default: now } };
    }),
    expected,
  };
}
