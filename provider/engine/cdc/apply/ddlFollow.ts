// The apply's side of schemaChangeCapture: eventTrigger (cdc/prepare/eventTrigger.ts): the logical
// messages the source's event trigger writes with each DDL command, read where they stand among the
// rows. A command on a table, an index or a table constraint carries the table's indexes and
// constraints as they were at that moment; the apply makes the target table's the same, in its open
// transaction (ApplySession.followDdl), after every row written before the command and before every
// row written after it. That order is exact, so an object that can refuse a row (a unique index, a
// CHECK) needs no wait, and what is followed commits with the applied position: a runner killed
// before the commit follows it again from the same message, after it never. The statements come
// from the schema follow's own steps (verify/schema/partsFollow.ts, given to the applier by the
// online flow: that folder ranks above this one).
import type { TableFilters } from '../../input/patterns';

/** An index or a constraint of a table, as the server deparses it. */
export interface TablePart {
  readonly kind: 'index' | 'constraint';
  readonly name: string;
  /** Its OID on the server it was read on (text); absent from a message of a trigger installed before it was told. */
  readonly oid?: string;
  readonly definition: string;
  readonly 'foreign key'?: boolean;
}

/** A table's indexes and constraints at one moment (tablePartsSql). */
export interface TableParts {
  readonly schema: string;
  readonly name: string;
  /** The table's OID on the server it was read on (text). */
  readonly oid: string;
  readonly parts: readonly TablePart[];
}

/** One message of the event trigger. */
export type DdlMessage =
  | {
      readonly event: 'end';
      readonly tag: string;
      readonly type: string;
      readonly identity: string;
      /** The table the command touched, when it touched one. */
      readonly table: TableParts | null;
    }
  | {
      readonly event: 'drop';
      readonly type: string;
      readonly identity: string;
      readonly schema: string | null;
      readonly name: string | null;
      /** The object's OID on the source (text). */
      readonly oid: string;
    };

/** What a session needs to follow the messages: their prefix, what moves, and the plan of statements. */
export interface DdlFollowing {
  readonly prefix: string;
  /** The migration's filters: a table left out, or data-only, has its indexes and constraints left out too. */
  readonly filters: TableFilters;
  /**
   * The statements that make the target table's parts the source's, with what each follows (for the
   * event). `seen`: `source` is the source's own, as the message carried it (its parts are then
   * known to the migration, so their drop may be followed later); false when it is derived from the
   * target's (an index's drop, whose message carries no table).
   */
  readonly plan: (
    source: TableParts,
    target: TableParts,
    seen: boolean,
  ) => Promise<{ readonly statements: readonly string[]; readonly followed: readonly string[] }>;
}

/** The message's JSON; undefined for one this build does not know (a newer function's), which the schema watch covers. */
export function parseDdlMessage(content: Uint8Array): DdlMessage | undefined {
  try {
    const m = JSON.parse(Buffer.from(content).toString('utf8')) as Partial<DdlMessage> | null;
    if (m?.event === 'end' || m?.event === 'drop') return m as DdlMessage;
  } catch {
    // not JSON: not one of ours
  }
  return undefined;
}
