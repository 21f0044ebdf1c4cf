// The apply session's following of NOT NULL at a re-sent relation message of an unchanged shape:
// a NOT NULL the source dropped is dropped on the target before the next row, and one the source
// set is set once the apply is past the point where every row the target holds is the source's
// after it (setLater says why that point, and not the message, is exact). The target's NOT
// NULL columns and the sets still to come live in the applier's state (ApplyState.targetNotNull,
// notNullSets), so a session started again keeps them. It works on the session's connections and
// target tables, given by the shape follow that composes it (shapeFollower.ts).
import { displayIdent, displayName, ident, qualified } from '../../connect/quote';
import { parseLsn } from '../../core/lsn';
import { sourceTableWords, type StreamWords } from '../../core/streamWords';
import { sourceAttributes } from './sourceColumns';
import type { SessionConnections } from './sessionConnections';
import type { ApplyState } from './applyState';
import type { TargetDdl } from './targetDdl';
import type { SourceAttribute } from './shapeFollow';
import type { TargetTable } from '../plan/types';
import type { Relation } from '../decode/changeEvents';

/** The source's WAL insert position (every record inserted so far ends at or before it; a standby's replayed end). */
const SOURCE_WAL_INSERT_SQL = `SELECT (CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
  ELSE pg_catalog.pg_current_wal_insert_lsn() END)::pg_catalog.text AS lsn`;

/** A session's NOT NULL changes followed, over its connections and target tables. */
export class NotNullFollower {
  constructor(
    private readonly state: ApplyState,
    private readonly connections: SessionConnections,
    private readonly ddl: TargetDdl,
    /** The session's target tables by relation OID (shapeFollower.ts): whether a table is partitioned, for the cutover's whole read. */
    private readonly tables: ReadonlyMap<number, TargetTable>,
    /** How its messages name the two servers: the stream's direction's words. */
    private readonly words: StreamWords,
  ) {}

  /**
   * A re-sent relation message of an unchanged shape: NOT NULL the source dropped is dropped on the
   * target before the next row; NOT NULL it set is set once the apply is past it (due). `leftOut`:
   * the streamed columns written nowhere (the new server's own, in the reverse stream), not on the
   * target at all.
   */
  async follow(
    relation: Relation,
    attributes: readonly SourceAttribute[],
    leftOut: ReadonlySet<string> | undefined,
    reshaped: () => void,
  ): Promise<void> {
    const notNull = this.state.targetNotNull?.get(relation.oid);
    if (!notNull) return;
    const streamed = new Set(relation.columns.map((c) => c.name).filter((c) => !leftOut?.has(c)));
    const set = attributes.filter((a) => !a.dropped && !a.generated && a.notNull && streamed.has(a.name) && !notNull.has(a.name));
    if (set.length > 0)
      await this.setLater(
        relation,
        set.map((a) => a.name),
      );
    const dropped = attributes.filter((a) => !a.dropped && !a.notNull && notNull.has(a.name)).map((a) => a.name);
    if (dropped.length === 0) return;
    const name = qualified(relation.schema, relation.name);
    await this.connections.txn.flush();
    await this.ddl.send(
      relation,
      dropped.map((column) => `ALTER TABLE ${name} ALTER COLUMN ${ident(column)} DROP NOT NULL`),
    );
    this.state.targetNotNull!.set(relation.oid, new Set([...notNull].filter((c) => !dropped.includes(c))));
    reshaped();
    this.state.onFollowed?.(
      `${sourceTableWords(this.words, displayName(relation.schema, relation.name))}: NOT NULL dropped on ${dropped.map((c) => displayIdent(c)).join(', ')}, followed on ${this.words.target} at its position in the stream`,
    );
  }

  /**
   * NOT NULL set on the source: set on the target at the first source transaction that commits at
   * or past the source's WAL insert position read after its catalog showed it (P). The source's SET
   * NOT NULL held ACCESS EXCLUSIVE on the table and committed before P, so every transaction that
   * wrote the table before it committed before it too: once the apply is past P the target's rows
   * are the source's after the change (none NULL), and every later row is one the source checked.
   * Set at the relation message instead, a row streamed before the change (a NULL updated away
   * before it) would be refused. The message may have been sent before the change: the catalog is
   * read when the apply reaches it.
   */
  private async setLater(relation: Relation, columns: readonly string[]): Promise<void> {
    const pending = this.state.notNullSets ?? [];
    const fresh = columns.filter((c) => !pending.some((p) => p.oid === relation.oid && p.column === c));
    if (fresh.length === 0) return;
    const source = await this.connections.sourceSession();
    const { rows } = await source.query<{ lsn: string }>(SOURCE_WAL_INSERT_SQL);
    const at = parseLsn(rows[0]!.lsn);
    // every BEGIN looks at the list while it is set (handle): set only with something in it
    this.state.notNullSets = [
      ...pending,
      ...fresh.map((column) => ({ oid: relation.oid, schema: relation.schema, table: relation.name, column, at })),
    ];
  }

  /** Before a source transaction that commits at `finalLsn`: the NOT NULL sets it is past (setLater). */
  async due(finalLsn: bigint): Promise<void> {
    const pending = this.state.notNullSets ?? [];
    const due = pending.filter((p) => p.at <= finalLsn);
    if (due.length === 0) return;
    this.state.notNullSets = pending.filter((p) => p.at > finalLsn);
    if (this.state.notNullSets.length === 0) this.state.notNullSets = undefined;
    for (const oid of new Set(due.map((p) => p.oid))) {
      const first = due.find((p) => p.oid === oid)!;
      const name = qualified(first.schema, first.table);
      // still NOT NULL on the source: a DROP NOT NULL since is followed at its own message, after this
      const source = await this.connections.sourceSession();
      const now = (await sourceAttributes(source, this.connections.sourceMajor, { relation: oid })).get(oid) ?? [];
      const notNull = new Set(this.state.targetNotNull?.get(oid) ?? []);
      const columns = due
        .filter((p) => p.oid === oid && !notNull.has(p.column))
        .map((p) => p.column)
        .filter((c) => now.some((a) => !a.dropped && a.name === c && a.notNull));
      if (columns.length === 0) continue;
      await this.connections.txn.flush();
      await this.ddl.send(
        { schema: first.schema, name: first.table },
        columns.map((column) => `ALTER TABLE ${name} ALTER COLUMN ${ident(column)} SET NOT NULL`),
      );
      for (const column of columns) notNull.add(column);
      this.state.targetNotNull?.set(oid, notNull);
      this.state.tracker.reshaped(name, this.tables.get(oid)?.partitioned);
      this.state.onFollowed?.(
        `${sourceTableWords(this.words, displayName(first.schema, first.table))}: NOT NULL set on ${columns.map((c) => displayIdent(c)).join(', ')}, followed on ${this.words.target} once the apply was past it`,
      );
    }
  }
}
