// What the schema copy leaves behind under skipUnsupportedObjects: the TOC entries of the objects
// the target user cannot create and of everything that depends on them (pg_depend on the source,
// then the dump's own dependencies, which also carry ACL and COMMENT entries), each listed with
// the script pg_restore would have run.
import type { LeftBehindObject, UnsupportedObject } from '../catalog/unsupported';
import { entryScripts, type EntryScript, type PgToolPaths, type TocEntry } from './dumpRestore';

export interface SchemaLeftBehind {
  /** Dump IDs that are not restored. */
  readonly dumpIds: ReadonlySet<number>;
  /** Source OIDs of the objects left behind (pgferry's own index builds skip them too). */
  readonly objectOids: ReadonlySet<string>;
  /** One per object (ACL, COMMENT ... entries go with their object), each with its script as definition. */
  readonly objects: readonly LeftBehindObject[];
}

/** TOC entry types that hold a table's rows: such an entry cannot be left behind. */
const TABLE_DESCS = new Set(['TABLE', 'FOREIGN TABLE']);

interface Selection {
  readonly dumpIds: ReadonlySet<number>;
  /** Entries of their own (catalogOid ≠ 0), in TOC order, with the unsupported object each is. */
  readonly owners: readonly { readonly entry: TocEntry; readonly object?: UnsupportedObject; readonly needs?: string }[];
  /** Dump ID of an owner → the entries that go with it (ACL, COMMENT, SECURITY LABEL ...). */
  readonly attached: ReadonlyMap<number, readonly TocEntry[]>;
}

/**
 * Pure: the entries matching an unsupported object (by catalog and object OID), then every entry
 * that depends on a selected one, to a fixed point. An entry without an object of its own (an ACL,
 * a COMMENT) goes with the first selected entry it depends on.
 */
export function selectLeftBehind(toc: readonly TocEntry[], unsupported: readonly UnsupportedObject[]): Selection {
  const byKey = new Map(unsupported.map((o) => [`${o.catalogOid}/${o.objectOid}`, o]));
  const byId = new Map(toc.map((e) => [e.dumpId, e]));
  /** Selected dump ID → the dump ID it was selected through (itself when it matched an object). */
  const through = new Map<number, number>();
  for (const e of toc) if (byKey.has(`${e.catalogOid}/${e.objectOid}`)) through.set(e.dumpId, e.dumpId);
  for (let grew = through.size > 0; grew;) {
    grew = false;
    for (const e of toc) {
      if (through.has(e.dumpId)) continue;
      const parent = e.dependsOn.find((d) => through.has(d));
      if (parent === undefined) continue;
      through.set(e.dumpId, parent);
      grew = true;
    }
  }
  // One owner per object: a second entry of it (MATERIALIZED VIEW DATA after MATERIALIZED VIEW)
  // goes with the first, as do the entries of no object of their own.
  const ownerByKey = new Map<string, number>();
  const ownerOf = (id: number): number => {
    let current = id;
    while (byId.get(current)?.catalogOid === '0' && through.get(current) !== current) current = through.get(current)!;
    return ownerByKey.get(keyOf(byId.get(current))) ?? current;
  };
  const owners: Selection['owners'][number][] = [];
  const attached = new Map<number, TocEntry[]>();
  for (const e of toc) {
    if (!through.has(e.dumpId)) continue;
    const key = keyOf(e);
    if (e.catalogOid !== '0' && !ownerByKey.has(key)) {
      ownerByKey.set(key, e.dumpId);
      const object = byKey.get(key);
      // An entry found through the dump's dependencies is left out for what its parent needs.
      const parentObject = byKey.get(keyOf(byId.get(rootOf(e.dumpId, through))));
      owners.push({ entry: e, ...(object ? { object } : {}), ...(parentObject ? { needs: parentObject.needs } : {}) });
    } else {
      const owner = ownerOf(e.dumpId);
      attached.set(owner, [...(attached.get(owner) ?? []), e]);
    }
  }
  return { dumpIds: new Set(through.keys()), owners, attached };
}

function keyOf(entry: TocEntry | undefined): string {
  return entry ? `${entry.catalogOid}/${entry.objectOid}` : '';
}

/** Follows `through` back to the entry that matched an object. */
function rootOf(id: number, through: ReadonlyMap<number, number>): number {
  let current = id;
  for (let hops = 0; through.get(current) !== current && hops < through.size; hops++) current = through.get(current)!;
  return current;
}

/** An entry the catalog query did not name, described from its script header. */
function describedEntry(entry: TocEntry, script: EntryScript | undefined, needs: string | undefined): LeftBehindObject {
  const type = (script?.type || entry.desc).toLowerCase();
  const schema = script && script.schema !== '-' ? `${script.schema}.` : '';
  return {
    catalogOid: entry.catalogOid,
    objectOid: entry.objectOid,
    kind: type,
    description: `${type} ${schema}${script?.name ?? entry.objectOid}`,
    needs: needs ?? 'an object the target user cannot create',
    holdsData: TABLE_DESCS.has(entry.desc),
  };
}

/** Plans what one database's schema copy leaves behind, with each object's script from the dump. */
export async function planLeftBehind(
  tools: PgToolPaths,
  file: string,
  toc: readonly TocEntry[],
  unsupported: readonly UnsupportedObject[],
): Promise<SchemaLeftBehind> {
  const selection = selectLeftBehind(toc, unsupported);
  const scripts = await entryScripts(
    tools,
    file,
    toc.filter((e) => selection.dumpIds.has(e.dumpId)),
  );
  const objects = selection.owners.map(({ entry, object, needs }): LeftBehindObject => {
    const withIt = selection.attached.get(entry.dumpId) ?? [];
    const sql = [entry, ...withIt].map((e) => scripts.get(e.dumpId)?.sql ?? '').filter(Boolean);
    const base = object ?? describedEntry(entry, scripts.get(entry.dumpId), needs);
    return {
      ...base,
      holdsData: base.holdsData || TABLE_DESCS.has(entry.desc),
      ...(sql.length ? { definition: sql.join('\n\n') } : {}),
      ...(withIt.length ? { attached: withIt.map((e) => e.desc) } : {}),
    };
  });
  // A table the catalog names but the dump does not tie to a left-out entry must still stop the copy.
  const listed = new Set(objects.map((o) => `${o.catalogOid}/${o.objectOid}`));
  const tables = unsupported.filter((o) => o.holdsData && !listed.has(`${o.catalogOid}/${o.objectOid}`));
  return {
    dumpIds: selection.dumpIds,
    objectOids: new Set(objects.map((o) => o.objectOid)),
    objects: [...objects, ...tables],
  };
}
