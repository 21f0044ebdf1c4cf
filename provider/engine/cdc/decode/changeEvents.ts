// The stream as the apply side reads it: a relation (a table as the stream describes it) and the
// change events the normaliser (normalizer.ts) makes of pgoutput's messages. Pure types.
import type { ReplicaIdentity, RelationColumn } from './pgoutput';
import type { SchemaChange } from './schemaChange';
import type { Tuple } from './tuple';

export interface Relation {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly replicaIdentity: ReplicaIdentity;
  readonly columns: readonly RelationColumn[];
  /** Per column: schema-qualified type name from the server's Type message (non-built-in types). */
  readonly typeNames: readonly ({ schema: string; name: string } | undefined)[];
}

/**
 * A type the source renamed or moved while streaming (same OID, another name in its Type message
 * than in the one before): its columns' values are written under its new name from here on.
 */
export interface TypeRename {
  readonly oid: number;
  readonly from: { readonly schema: string; readonly name: string };
  readonly to: { readonly schema: string; readonly name: string };
}

export type RowOp = 'insert' | 'update' | 'delete';

export type ChangeEvent =
  | { readonly kind: 'begin'; readonly finalLsn: bigint; readonly commitTimeMs: number; readonly xid: number }
  | { readonly kind: 'commit'; readonly commitLsn: bigint; readonly endLsn: bigint; readonly commitTimeMs: number }
  | {
      readonly kind: 'relation';
      readonly relation: Relation;
      readonly change: SchemaChange;
      readonly first: boolean;
      /** Types renamed on the source since their last Type message, told just before this relation message. */
      readonly renamedTypes?: readonly TypeRename[];
    }
  | RowEvent
  | { readonly kind: 'truncate'; readonly relations: readonly Relation[]; readonly cascade: boolean; readonly restartIdentity: boolean }
  | {
      readonly kind: 'message';
      readonly prefix: string;
      readonly content: Uint8Array;
      readonly transactional: boolean;
      readonly lsn: bigint;
    };

export interface RowEvent {
  readonly kind: 'row';
  readonly op: RowOp;
  readonly relation: Relation;
  /** Full-width tuple identifying the old row (key columns, or every column under FULL). */
  readonly identity?: Tuple;
  /** Whether `identity` is the whole old row (REPLICA IDENTITY FULL). */
  readonly identityIsRow: boolean;
  /** The new row (insert, update). */
  readonly values?: Tuple;
}
