// What changed between two relation messages for the same table: nothing, columns added at the
// end, or anything else (the apply follows a column dropped, renamed or retyped from the source's
// catalog, cdc/apply/shapeFollow.ts, or stops and says what).
import type { RelationColumn } from './pgoutput';
// the kernel's printing helper, which imports nothing: a name in a description prints as every message prints it
import { displayIdent, displayName } from '../../core/printedName';

export interface RelationShape {
  readonly schema: string;
  readonly name: string;
  readonly columns: readonly RelationColumn[];
}

export type SchemaChange =
  | { readonly kind: 'none' }
  | { readonly kind: 'added'; readonly columns: readonly RelationColumn[] }
  /**
   * `table`: the table itself was renamed or moved, from `from`, with `columns` what changed of its
   * columns besides (followed with tableDropsAndRenames: follow); otherwise its columns changed.
   */
  | {
      readonly kind: 'unsupported';
      readonly description: string;
      readonly table?: true;
      readonly from?: { readonly schema: string; readonly name: string };
      readonly columns?: SchemaChange;
    };

export function diffRelation(previous: RelationShape, next: RelationShape): SchemaChange {
  if (previous.schema !== next.schema || previous.name !== next.name) {
    const from = { schema: previous.schema, name: previous.name };
    const columns = diffRelation({ ...previous, schema: next.schema, name: next.name }, next);
    return { kind: 'unsupported', description: `table renamed to ${displayName(next.schema, next.name)}`, table: true, from, columns };
  }
  const nextByName = new Map(next.columns.map((c) => [c.name, c]));
  for (const column of previous.columns) {
    const now = nextByName.get(column.name);
    if (!now) return { kind: 'unsupported', description: `column ${displayIdent(column.name)} was dropped or renamed` };
    if (now.typeOid !== column.typeOid || now.typeMod !== column.typeMod) {
      return { kind: 'unsupported', description: `column ${displayIdent(column.name)} changed type` };
    }
  }
  const kept = next.columns.slice(0, previous.columns.length);
  if (kept.some((c, i) => c.name !== previous.columns[i]!.name)) {
    return { kind: 'unsupported', description: 'columns were reordered' };
  }
  const added = next.columns.slice(previous.columns.length);
  return added.length > 0 ? { kind: 'added', columns: added } : { kind: 'none' };
}
