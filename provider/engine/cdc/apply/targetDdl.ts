// The DDL an apply session sends to the target in its open transaction, through the statement
// pipeline, before the rows that need it: the shape follow's (shapeFollower.ts and the parts it is
// composed of) and the event trigger's DDL messages' (ddlFollower.ts). A read of the target's
// catalog on the apply's connection waits until what was sent has run (settled), or it would read
// the shape from before it.
import { displayName, qualified } from '../../connect/quote';
import type { QualifiedName } from '../../core/names';
import type { SessionConnections } from './sessionConnections';

/** The table (or type) a DDL statement changes: quoted as SQL for its stop's field, printed for its message. */
export function ddlTarget(table: QualifiedName): { readonly target: string; readonly printed: string } {
  return { target: qualified(table.schema, table.name), printed: displayName(table.schema, table.name) };
}

/** What a session sent to change the target's tables in its open transaction, and the wait for it to run. */
export class TargetDdl {
  /** A change of shape was sent in the pipeline since it last settled: the target's catalog is read after it runs. */
  private sent = false;

  constructor(private readonly connections: SessionConnections) {}

  /** Whether something was sent since it last settled: a catalog read waits for it then (settled). */
  get pending(): boolean {
    return this.sent;
  }

  /**
   * Sends a change of a table's shape in the open transaction, before the rows that need it;
   * remembered so that the next read of the target's catalog waits for it (settled).
   */
  async send(table: QualifiedName, statements: readonly string[]): Promise<void> {
    this.connections.forgetTablesAhead();
    const named = ddlTarget(table);
    for (const text of statements) await this.connections.txn.exec({ op: 'ddl', ...named, text, params: [], rows: 0 });
    this.sent = true;
  }

  /** Everything planned is sent and has run on the target (the open transaction stays open). */
  async settled(): Promise<void> {
    await this.connections.txn.flush();
    await this.connections.txn.idle();
    this.sent = false;
  }
}
