// The types the planner and the apply hand to each other, in one place: the target table changes
// are written to (apply/targetTables.ts) and the statements planned for it (planner.ts,
// statements.ts). The stream's relations and change events are the decoder's
// (decode/changeEvents.ts); an apply session's configuration is the apply's (apply/sessionConfig.ts).
import type { TextShape } from './recordText';
import type { RowOp } from '../decode/changeEvents';
import type { Tuple } from '../decode/tuple';
import type { QualifiedName } from '../../core/names';

// ---- the target ----

export interface TargetColumn {
  readonly name: string;
  /** SQL type to cast the text value to, e.g. `numeric`, `character(5)`, `"public"."mood"`. */
  readonly cast: string;
  readonly isKey: boolean;
  /**
   * The equality operator a streamed old value is compared with, schema-qualified
   * (`OPERATOR("public".=)`, cdc/plan/equality.ts): of the target's unique index on a key column, else
   * of the type's default btree or hash operator class. Undefined when the type has none (json,
   * xml, point, box, a composite holding json ...): the text forms are compared instead.
   */
  readonly equality?: string;
  /** The column's text form is a function of its value (no VOLATILE input or output function): comparing it is exact. */
  readonly stableText: boolean;
  /** GENERATED ALWAYS AS IDENTITY on the target: an UPDATE may not set it (only to DEFAULT). */
  readonly identityAlways?: boolean;
  /**
   * Streamed, and written nowhere: the target has no such column and none is added (the reverse
   * stream's column the new server alone has, which a fall-back keeps there: ApplyState.carriedBack).
   */
  readonly leftOut?: boolean;
}

export interface TargetTable {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  readonly columns: readonly TargetColumn[];
  /**
   * Rows are found by all their old values, one row per statement: a REPLICA IDENTITY FULL table
   * without a usable unique index on the target (a FULL table with one is matched by that index,
   * whose columns are then its key columns: apply/targetTables.ts chooseMatch).
   */
  readonly identityFull: boolean;
  /** The table's OID on the target (the server the stream writes), as its catalog read it. */
  readonly targetOid?: number;
  /** Partitioned on the target: TRUNCATE without ONLY. */
  readonly partitioned: boolean;
  /** A partition on the target when resolved: its Relation messages follow the source's partition tree (partitionTree.ts). */
  readonly partition?: boolean;
  /** Row-level security is enabled on the target table: COPY FROM may be refused, INSERT is used. */
  readonly rowSecurity?: boolean;
  /**
   * Applied without replica role, the target's foreign keys act: a row the source deleted by ON
   * DELETE CASCADE is already gone when its own delete arrives (cascadedDeletes), one re-keyed by
   * ON UPDATE CASCADE, SET NULL or SET DEFAULT no longer has its old key (cascadedUpdates). Such
   * deletes or updates may find fewer rows than they carry.
   */
  readonly cascadedDeletes?: boolean;
  readonly cascadedUpdates?: boolean;
  /**
   * Per column, how its text on the target nests composites (plan/recordText.ts): a value written
   * before an attribute was added is given it, NULL. Only when a column's type reaches a composite.
   */
  readonly textShapes?: readonly (TextShape | undefined)[];
}

// ---- planned statements ----

/** A row change the planner groups (a RowEvent with its target table resolved). */
export interface RowChange {
  readonly op: RowOp;
  readonly table: TargetTable;
  readonly identity?: Tuple;
  readonly values?: Tuple;
}

export interface PlannerLimits {
  /** One open group per table (see planner.ts); false keeps one global order. */
  readonly perTable?: boolean;
  /** Rows per statement. */
  readonly maxRows: number;
  /** Parameters per statement (the protocol allows 65,535). */
  readonly maxParams: number;
  /** Bytes of row data per statement, and held in all open groups together. */
  readonly maxBytes: number;
  /**
   * Update and delete groups of at least this many rows go through a staging table filled by COPY
   * (stagedStatements); smaller ones, or all when undefined, are one statement with parameters.
   */
  readonly stageMinRows?: number;
}

export type Param = string | null;

/**
 * A table a TRUNCATE names: its schema and name, and its OID on the server the stream writes where
 * it was read, by which a refused TRUNCATE's stop reads the foreign keys that reference it.
 */
interface TruncatedTable extends QualifiedName {
  readonly targetOid?: number;
}

export interface Statement {
  readonly op: RowOp | 'truncate' | 'ddl';
  /** The table(s) it changes, quoted as SQL: the stop's field, which the stop records as its table. */
  readonly target: string;
  /** The same table(s) as messages print them (core/printedName.ts displayName): what a stop's message names. */
  readonly printed: string;
  /** A TRUNCATE's tables, for its stop (apply/truncateRefusal.ts). */
  readonly tables?: readonly TruncatedTable[];
  readonly text: string;
  readonly params: readonly Param[];
  readonly rows: number;
  /**
   * The rows the server must report loaded (COPY) or changed (INSERT, UPDATE, DELETE): a row ops
   * statement that changed fewer or more rows than it carried (after the planner superseded some)
   * means the target has diverged from the source, and the stream stops (apply/statementPipeline.ts).
   */
  readonly affects?: number;
  /** Fewer rows than `affects` are expected too (see TargetTable.cascadedDeletes). */
  readonly mayAffectFewer?: boolean;
  /** Set for COPY ... FROM STDIN (`text`): the rows in COPY's text format, sent as its data. */
  readonly copyData?: Buffer;
  /** SQL this statement needs run once per target session before it (its staging table). */
  readonly requires?: { readonly key: string; readonly sql: string };
}

/** A session's temporary table that stages one statement shape's rows (see stagedStatements). */
export interface StageTable {
  /** Unique within the session. */
  readonly name: string;
}
