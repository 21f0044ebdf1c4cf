// The dump entries a filtered migration does not restore: every entry of a relation or schema the
// filters leave out and everything the dump says depends on it (indexes, constraints, owned
// sequences, comments, grants ...), and the post-data of data-only tables (their indexes, keys,
// triggers, rules and policies), the extensions nothing that moves needs, and the large objects
// when they stay behind. Validation has already refused what moves and needs any of these.
import type { UnsupportedObject } from '../catalog/unsupported';
import type { FilterPlan } from '../filter/plan';
import type { TocEntry } from './dumpRestore';
import { selectLeftBehind } from './leftBehindPlan';

/** pg_class and pg_namespace: the same OIDs on every PostgreSQL version. */
const PG_CLASS = '1259';
const PG_NAMESPACE = '2615';
const PG_EXTENSION = '3079';

/** Post-data entry types that belong to a table rather than hold it. */
const TABLE_POST_DATA = new Set(['INDEX', 'CONSTRAINT', 'FK CONSTRAINT', 'TRIGGER', 'RULE', 'POLICY', 'ROW SECURITY', 'INDEX ATTACH']);

const root = (catalogOid: string, objectOid: string): UnsupportedObject => ({
  catalogOid,
  objectOid,
  kind: 'filtered',
  description: objectOid,
  needs: 'a filter',
  holdsData: false,
});

/** Pure: dump IDs not restored under the plan (empty when nothing is filtered). */
export function filteredDumpIds(toc: readonly TocEntry[], plan: FilterPlan): ReadonlySet<number> {
  if (!plan.active) return new Set();
  const roots = [
    ...[...plan.leftOut].map((oid) => root(PG_CLASS, oid)),
    ...[...plan.leftOutSchemas].map((oid) => root(PG_NAMESPACE, oid)),
    ...[...plan.leftOutExtensions].map((oid) => root(PG_EXTENSION, oid)),
  ];
  // pg_dump writes each large object's metadata (lo_create, owner, grants) before the data
  if (!plan.largeObjectsMove) {
    for (const e of toc) if (e.desc === 'BLOB' && e.catalogOid !== '0') roots.push(root(e.catalogOid, e.objectOid));
  }
  const tableIds = new Set(toc.filter((e) => e.catalogOid === PG_CLASS && plan.dataOnly.has(e.objectOid)).map((e) => e.dumpId));
  for (const e of toc) {
    // An entry of no object of its own (catalog 0) cannot be named as a root; none of these types is one.
    if (e.catalogOid !== '0' && TABLE_POST_DATA.has(e.desc) && e.dependsOn.some((d) => tableIds.has(d))) {
      roots.push(root(e.catalogOid, e.objectOid));
    }
  }
  return selectLeftBehind(toc, roots).dumpIds;
}
