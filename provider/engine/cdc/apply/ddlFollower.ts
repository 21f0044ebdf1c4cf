// The apply session's following of the source's event-trigger DDL messages (ddlFollow.ts): a
// table's indexes and constraints made the source's at the command's exact place among the rows,
// sent in the open transaction as the shape follow sends its changes (targetDdl.ts).
import type pg from 'pg';
import { displayName, qualified } from '../../connect/quote';
import { formatLsn } from '../../core/lsn';
import type { TargetDdl } from './targetDdl';
import type { SessionConnections } from './sessionConnections';
import type { ApplyState } from './applyState';
import type { SessionConfig } from './sessionConfig';
import { readFilterPlan, type FilterPlan } from '../../filter/plan';
import { compileFilters, treatmentOf, type CompiledFilters } from '../../filter/filters';
import { tablePartsSql } from '../prepare/eventTrigger';
import { parseDdlMessage, type DdlFollowing, type TableParts } from './ddlFollow';
import { sourceTableWords } from '../../core/streamWords';

/** The event trigger's DDL messages followed, on the session's connections, beside the shape follow. */
export class DdlFollower {
  /** What moves, read at the first DDL message (followDdl): the relations of then, by OID. */
  private filterPlan: FilterPlan | undefined;
  /** The filters by name: a table made on the source since the plan was read, or the target's namesake of one. */
  private filters: CompiledFilters | undefined;

  constructor(
    private readonly config: SessionConfig,
    private readonly state: ApplyState,
    private readonly connections: SessionConnections,
    /** What the session sends to change the target's tables in its open transaction, the shape follow's too. */
    private readonly ddl: TargetDdl,
  ) {}

  /**
   * Step: a DDL message of the source's event trigger (ddlFollow.ts). The target table's indexes
   * and constraints are made the source's as they were at the command, in the open transaction,
   * after the rows before it: every row written before it on the source is on the target, none
   * after it. The source checked its constraints at each statement's end, so the deferred ones are
   * checked here first (an ALTER TABLE refuses a table with checks pending), and deferred again after.
   * A table the target does not have (left out, or created since and not there yet) is left to the
   * table watch and the schema watch. A table the filters leave out (or move as rows only) is never
   * followed, judged by the plan's OIDs and by name at each message, on both servers: one the source
   * made since the plan was read under such a name is not the migration's, and the target's table of
   * that name is someone else's, left as they made it.
   */
  async followDdl(following: DdlFollowing, content: Uint8Array, lsn: bigint): Promise<void> {
    const message = parseDdlMessage(content);
    if (!message) return;
    const filter = (this.filterPlan ??= await readFilterPlan(await this.connections.sourceSession(), following.filters));
    const filters = (this.filters ??= compileFilters(following.filters));
    const treated = (schema: string | null, name: string | null) =>
      schema === null || name === null ? 'moves' : treatmentOf(filters, schema, name);
    const leftOut = (oid: string | undefined, schema: string | null, name: string | null) =>
      (oid !== undefined && filter.leftOut.has(oid)) || treated(schema, name) === 'left-out';
    const notFollowed = (oid: string | undefined, schema: string | null, name: string | null) =>
      leftOut(oid, schema, name) || (oid !== undefined && filter.dataOnly.has(oid)) || treated(schema, name) === 'data-only';
    if (message.event === 'drop' && message.type === 'table') {
      // tableDropsAndRenames: follow drops the target's table itself once the apply is past the drop
      // (flow/tableDropsFollow.ts): nothing for the user to do
      if (leftOut(message.oid, message.schema, message.name) || this.config.followTableRenames) return;
      // told at its exact place, rather than at the table watch's next look; what to do with the
      // target's table stays the user's choice (the cutover's schema check stops on it)
      const { words } = this.config;
      const check = words.direction === 'forward' ? "the cutover's" : "the fall-back's";
      this.state.onNotFollowed?.(
        `${sourceTableWords(words, message.identity)} was dropped at ${words.direction === 'forward' ? 'source' : 'its'} position ${formatLsn(lsn)} (told by the event trigger); its changes end there, and ${check} schema check stops until ${words.target} matches (drop it on ${words.target}, or create it again on ${words.source})`,
      );
      return;
    }
    let source: TableParts | undefined;
    let target: TableParts | undefined;
    await this.ddl.settled();
    const onTarget = this.connections.target;
    if (message.event === 'end') {
      if (!message.table) return;
      source = message.table;
      if (notFollowed(source.oid, source.schema, source.name)) return;
      target = await readTargetParts(onTarget, 'pg_catalog.to_regclass($1)', qualified(source.schema, source.name));
    } else {
      if (message.type !== 'index' || !message.schema || !message.name) return;
      const index = message.name;
      target = await readTargetParts(
        onTarget,
        '(SELECT x.indrelid FROM pg_catalog.pg_index x WHERE x.indexrelid = pg_catalog.to_regclass($1))',
        qualified(message.schema, index),
      );
      if (target && notFollowed(undefined, target.schema, target.name)) return;
      if (target) source = { ...target, parts: target.parts.filter((p) => !(p.kind === 'index' && p.name === index)) };
    }
    if (!source || !target) return;
    // A table being resynchronised has its shape from the copy too, as its rows: one created on the
    // target for it (a table the source made while streaming, pg_dump -t) is the source's of a later
    // moment than this message (a partition's key then already attached to its parent's, which the
    // message's parts still count as the partition's own). Its parts are left to the schema watch,
    // which compares them once the apply has passed where it saw them.
    if (this.state.tracker.resyncing.has(qualified(target.schema, target.name))) return;
    const { statements, followed } = await following.plan(source, target, message.event === 'end');
    if (statements.length === 0) return;
    await this.ddl.send(target, ['SET CONSTRAINTS ALL IMMEDIATE', ...statements, 'SET CONSTRAINTS ALL DEFERRED']);
    const command = message.event === 'end' ? message.tag : `DROP ${message.type.toUpperCase()}`;
    this.state.onFollowed?.(
      `${sourceTableWords(this.config.words, displayName(target.schema, target.name))} changed while streaming (${command}), followed on ${this.config.words.target} at its exact position in the stream: ${followed.join(', ')}`,
    );
  }
}

/** A target table's indexes and constraints (tablePartsSql), the table given by `rel` over $1; undefined: no such table. */
async function readTargetParts(target: pg.Client, rel: string, name: string): Promise<TableParts | undefined> {
  const { rows } = await target.query<{ parts: TableParts }>(`SELECT (${tablePartsSql(rel)}) AS parts`, [name]);
  return rows[0]?.parts ?? undefined;
}
