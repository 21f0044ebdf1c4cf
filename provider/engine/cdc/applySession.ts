// One apply session: a replication stream from the source and one connection to the target
// database, applying decoded changes in commit order until stopped, cut over, or broken.
//
// Exactly once, and why it holds:
// * Statements run inside an open target transaction, which is committed ONLY right after a
//   source COMMIT has been fully applied, never inside a source transaction. A 200k-row source
//   transaction therefore streams into the target in many statements but one target transaction,
//   and memory holds only the planner's open group and the bounded queue.
// * Each target commit carries the end LSN of the last source transaction it contains, recorded in
//   the same transaction (replication origin or progress table): data and position commit together
//   (for the origin, only because its setup is sent with the COMMIT: see progress.ts).
// * The slot's flush position is confirmed to the source only after that commit returned (with
//   synchronous_commit = on, so it is durable), so the source keeps everything not yet committed.
// * On start the session reads the recorded LSN P, streams from P, and skips every transaction whose
//   commit record starts before P: commit records do not overlap, so those are exactly the ones
//   already applied (their end ≤ P) and no later one is skipped.
// A SIGKILL anywhere loses the open target transaction and nothing else; it is streamed again.
import type pg from 'pg';
import { closeSession, openSession } from '../connect/session';
import { qualified } from '../connect/quote';
import { isRetryable } from '../connect/sqlstate';
import { PgferryError } from '../errors';
import type { ServerSpec } from '../input/migrationSpec';
import { maxLsn } from './lsn';
import { ChangeNormalizer, type ChangeEvent, type Relation } from './normalizer';
import { decodePgoutput } from './pgoutput';
import { BatchPlanner, type PlannerLimits } from './planner';
import { openAppliedPosition, type AppliedPosition, type PositionKey } from './appliedPosition';
import { truncateStatement, type Statement, type TargetTable } from './statements';
import { RecordQueue } from './recordQueue';
import { ReplicationStream } from './stream';
import { StatementPipeline } from './statementPipeline';
import { addColumnSql, compareColumns, resolveTargetTable, sourceColumnDefinitions } from './targetTables';

export interface SessionConfig {
  readonly source: ServerSpec;
  readonly target: ServerSpec;
  readonly database: string;
  readonly slot: string;
  readonly publication: string;
  readonly progressKey: PositionKey;
  readonly cutoverPrefix: string;
  /** Use the progress table even where origins are permitted. */
  readonly preferProgressTable: boolean;
  /** Position to stream from when nothing was recorded yet (the slot's consistent point). */
  readonly initialLsn: bigint;
  readonly queueBudgetBytes: number;
  readonly limits: PlannerLimits;
  /** A target transaction commits at the first source commit after this many rows or milliseconds. */
  readonly commitRows: number;
  readonly commitMs: number;
}

/** What outlives a session: counters, positions and the relation shapes seen. */
export interface ApplyState {
  inserts: number;
  updates: number;
  deletes: number;
  /** End LSN of the last source transaction committed on the target. */
  appliedLsn: bigint;
  /** Confirmed to the slot: appliedLsn, or further when idle (keepalive position). */
  confirmedLsn: bigint;
  receivedLsn: bigint;
  newestCommitMs: number;
  appliedCommitMs: number;
  progressMode?: 'origin' | 'table';
  relations: ReadonlyMap<number, Relation>;
  /** Cutover marker content to stop at; undefined: none requested. */
  markerToken?: string;
  /**
   * Sources before PG14 cannot stream logical messages: stop once everything committed before this
   * source WAL position is applied (a keepalive at or past it proves nothing earlier is pending).
   */
  stopAtLsn?: bigint;
  /** Largest number of bytes the in-memory queue held (the memory bound, observable). */
  peakQueuedBytes: number;
  /** Warnings to surface once (e.g. triggers would fire on the target). */
  warnings: string[];
}

export type SessionEnd = 'cutover' | 'stopped';

/** Statements sent to the target and not yet finished (each holds at most PlannerLimits.maxBytes of parameters). */
const MAX_IN_FLIGHT = 4;

/**
 * Update and delete groups from this many rows on go through a staging table (see
 * stagedStatements): below it the extra COPY costs more than the parameters it saves.
 */
const STAGE_MIN_ROWS = 100;

/** Whether the session may create its staging tables (TEMPORARY on the database; PUBLIC has it by default). */
async function mayCreateTempTables(target: pg.Client): Promise<boolean> {
  const { rows } = await target.query<{ ok: boolean }>("SELECT has_database_privilege(current_database(), 'TEMPORARY') AS ok");
  return rows[0]?.ok === true;
}

/** Queue items handled between two yields to the event loop (see the apply loop). */
const YIELD_EVERY = 32;

export class SchemaChangeError extends PgferryError {}

function applyError(statement: Statement, error: unknown): Error {
  if (isRetryable(error)) return error as Error;
  return new PgferryError(
    'CDC_APPLY',
    `applying ${statement.op} to ${statement.target} on the target failed: ${(error as Error).message}`,
    {
      category: 'target',
      cause: error,
    },
  );
}

/**
 * The apply session: the pinned settings (no inherited timeout: a target transaction may wait idle
 * while a large source transaction streams in; a migrated database may default to read-only), and
 * durable commits, since confirmed positions must survive a crash of the target.
 */
function openApplySession(config: SessionConfig): Promise<pg.Client> {
  return openSession(config.target, {
    database: config.database,
    purpose: 'apply',
    writable: true,
    settings: { synchronous_commit: 'on' },
  });
}

/** True when session_replication_role = replica took effect. */
async function prepareTarget(target: pg.Client, state: ApplyState): Promise<boolean> {
  try {
    // As PostgreSQL's own apply worker: no user triggers, FK checks done on the source.
    await target.query('SET session_replication_role = replica');
    return true;
  } catch {
    const note =
      'session_replication_role = replica is not permitted on the target: triggers and foreign keys fire during apply, and changes are applied in strict commit order (slower)';
    if (!state.warnings.includes(note)) state.warnings.push(note);
    return false;
  }
}

export async function runSession(config: SessionConfig, state: ApplyState, isStopped: () => boolean): Promise<SessionEnd> {
  const target = await openApplySession(config);
  let targetError: Error | undefined;
  target.on('error', (e) => (targetError = e));
  let stream: ReplicationStream | undefined;
  let source: pg.Client | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  /** Lets the target connection go cleanly: what is in flight finishes, the progress is disarmed. */
  let release: (() => Promise<void>) | undefined;
  try {
    const replicaRole = await prepareTarget(target, state);
    const progress: AppliedPosition = await openAppliedPosition(target, config.progressKey, config.preferProgressTable);
    state.progressMode = progress.mode;
    const recorded = await progress.read();
    const startLsn = recorded > 0n ? recorded : config.initialLsn;
    state.appliedLsn = maxLsn(state.appliedLsn, startLsn);
    state.confirmedLsn = maxLsn(state.confirmedLsn, startLsn);
    const skipBelow = startLsn;
    const normalizer = new ChangeNormalizer(state.relations);
    state.relations = normalizer.knownRelations();
    const queue = new RecordQueue(
      config.queueBudgetBytes,
      () => stream?.pause(),
      () => stream?.resume(),
    );
    stream = await ReplicationStream.start(
      config.source,
      config.database,
      { slot: config.slot, publication: config.publication, startLsn },
      {
        keepalive: (walEnd, replyRequested) => {
          state.receivedLsn = maxLsn(state.receivedLsn, walEnd);
          if (replyRequested && state.confirmedLsn > 0n) stream?.sendStatus(state.confirmedLsn, state.receivedLsn);
          queue.pushKeepalive(walEnd);
        },
        xlog: (bytes, start, walEnd) => {
          if (walEnd > state.receivedLsn) state.receivedLsn = walEnd;
          // Queued as bytes and decoded by the consumer: decoded rows then live only from decoding to
          // their statement, young enough for cheap garbage collection.
          queue.pushXlog(bytes, start);
          if (queue.bytes > state.peakQueuedBytes) state.peakQueuedBytes = queue.bytes;
        },
      },
    );
    const live = stream;
    live.ended.catch((e: Error) => queue.fail(e));
    statusTimer = setInterval(() => {
      if (state.confirmedLsn > 0n) live.sendStatus(state.confirmedLsn, state.receivedLsn);
    }, 10_000);

    // Reordering across tables is safe only when no foreign key or trigger looks across them.
    const planner = new BatchPlanner({
      ...config.limits,
      perTable: (config.limits.perTable ?? true) && replicaRole,
      stageMinRows: (await mayCreateTempTables(target)) ? (config.limits.stageMinRows ?? STAGE_MIN_ROWS) : undefined,
    });
    const staged = new Set<string>();
    const tables = new Map<number, TargetTable>();
    const pending = { insert: 0, update: 0, delete: 0 };
    let inTxn = false;
    let skipping = false;
    let open = false;
    let batchRows = 0;
    let batchStartedAt = 0;
    let lastEnd = startLsn;
    let lastCommitMs = 0;
    let markerSeen = false;

    const pipeline = new StatementPipeline(target, MAX_IN_FLIGHT);
    release = async () => {
      await pipeline.idle().catch(() => undefined);
      await progress.disarm();
    };
    const begin = async (): Promise<void> => {
      if (open) return;
      open = true;
      batchStartedAt = Date.now();
      await pipeline.send({ text: 'BEGIN' }, (error) => error as Error);
    };
    const exec = async (statement: Statement): Promise<void> => {
      if (targetError) throw targetError;
      await begin();
      if (statement.requires && !staged.has(statement.requires.key)) {
        staged.add(statement.requires.key);
        await pipeline.send({ text: statement.requires.sql }, (error) => applyError(statement, error));
      }
      await pipeline.send(statement, (error) => applyError(statement, error));
    };
    const flush = async (): Promise<void> => {
      for (const s of planner.flush()) await exec(s);
    };
    /**
     * Queues the progress record and COMMIT of the open batch without waiting for them: the next
     * batch is planned while the target commits. What the batch covers becomes applied, and is
     * confirmed to the slot, only once the COMMIT has returned.
     */
    const commit = async (): Promise<void> => {
      if (!open) return;
      await flush();
      const statements = progress.commitStatements(lastEnd, lastCommitMs);
      const committing = statements.pop()!; // the one answering COMMIT
      for (const statement of statements) await pipeline.send(statement, (error) => error as Error);
      const end = lastEnd;
      const commitMs = lastCommitMs;
      const counts = { ...pending };
      open = false;
      batchRows = 0;
      pending.insert = pending.update = pending.delete = 0;
      await pipeline.send(
        committing,
        (error) => error as Error,
        () => {
          state.inserts += counts.insert;
          state.updates += counts.update;
          state.deletes += counts.delete;
          state.appliedLsn = maxLsn(state.appliedLsn, end);
          state.appliedCommitMs = Math.max(state.appliedCommitMs, commitMs);
          state.confirmedLsn = maxLsn(state.confirmedLsn, end);
          live.sendStatus(state.confirmedLsn, state.receivedLsn);
        },
      );
    };
    /** Commits the open batch and waits until the target has committed everything sent. */
    const settle = async (): Promise<void> => {
      await commit();
      await pipeline.idle();
    };
    const onRelation = async (relation: Relation, change: ChangeEvent & { kind: 'relation' }): Promise<void> => {
      const stopWith = (description: string): never => {
        throw new SchemaChangeError(
          'CDC_SCHEMA_CHANGE',
          `source table ${qualified(relation.schema, relation.name)} changed while streaming: ${description}; streaming stopped`,
          { category: 'source', fix: 'only added columns are followed: make the same change on the target and restart the migration' },
        );
      };
      if (change.change.kind === 'unsupported') stopWith(change.change.description);
      // pgoutput re-sends a Relation message after every relcache invalidation on the source (a
      // VACUUM or ANALYZE is enough): an unchanged shape needs no new look at the target. The
      // bench traced up to 0.8 s of such catalog round trips before the first batch of a backlog.
      if (change.change.kind === 'none' && tables.has(relation.oid)) return;
      const { missing, extra } = await compareColumns(target, relation);
      if (extra.length > 0) stopWith(`column ${JSON.stringify(extra[0])} was dropped or renamed`);
      if (missing.length > 0) {
        await flush();
        source ??= await openSession(config.source, { database: config.database, purpose: 'cdc catalog' });
        for (const column of await sourceColumnDefinitions(source, relation.oid, missing)) {
          await exec({
            op: 'ddl',
            target: qualified(relation.schema, relation.name),
            text: addColumnSql(relation.schema, relation.name, column),
            params: [],
            rows: 0,
          });
        }
      }
      tables.set(relation.oid, await resolveTargetTable(target, relation));
    };

    let sinceYield = 0;
    for (;;) {
      if (isStopped()) return 'stopped';
      // While items are queued, each next() resolves at once and this loop runs as one long chain
      // of microtasks: the target's replies would wait until the queue ran dry, and the target
      // would idle although the next statement is ready. Yielding to the event loop now and then
      // lets finished statements hand over to the next one while this loop goes on planning.
      if (++sinceYield >= YIELD_EVERY && pipeline.inFlight > 0) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      // a queued record is taken without a promise; only an empty queue is waited for
      const next = queue.take() ?? (await queue.next(open && !inTxn ? Math.max(1, config.commitMs - (Date.now() - batchStartedAt)) : 500));
      const item = next?.kind === 'xlog' ? normalizer.push(decodePgoutput(next.bytes, next.start, next.end)) : next;
      if (next && !item) continue; // a pgoutput message with nothing to apply (type, origin)
      if (!item) {
        if (open && !inTxn) await commit();
        pipeline.check();
        // waiting for a stop position: ask the server for a keepalive carrying its current position
        if (state.stopAtLsn !== undefined) live.sendStatus(state.confirmedLsn, state.receivedLsn, true);
        continue;
      }
      switch (item.kind) {
        case 'keepalive':
          if (inTxn) break;
          // the slot may only move past what the target has committed
          await settle();
          state.appliedCommitMs = Math.max(state.appliedCommitMs, lastCommitMs);
          if (state.stopAtLsn !== undefined && item.walEnd >= state.stopAtLsn) return 'cutover';
          // Idle and everything committed: the slot may move past WAL that held nothing for us.
          if (item.walEnd > state.confirmedLsn) {
            state.confirmedLsn = item.walEnd;
            live.sendStatus(state.confirmedLsn, state.receivedLsn);
          }
          break;
        case 'begin':
          inTxn = true;
          skipping = item.finalLsn < skipBelow;
          state.newestCommitMs = Math.max(state.newestCommitMs, item.commitTimeMs);
          break;
        case 'relation':
          await onRelation(item.relation, item);
          break;
        case 'row': {
          if (skipping) break;
          const table = tables.get(item.relation.oid) ?? (await resolveTargetTable(target, item.relation));
          tables.set(item.relation.oid, table);
          // indexed: a for-of would allocate an iterator for every row, and most rows return none
          const before = planner.add({ op: item.op, table, identity: item.identity, values: item.values });
          for (let i = 0; i < before.length; i++) await exec(before[i]!);
          if (!open) await begin();
          pending[item.op] += 1;
          batchRows += 1;
          break;
        }
        case 'truncate': {
          if (skipping) break;
          const targets = await Promise.all(item.relations.map(async (r) => tables.get(r.oid) ?? resolveTargetTable(target, r)));
          await flush();
          await exec(truncateStatement(targets, item.cascade, item.restartIdentity));
          break;
        }
        case 'message':
          if (
            !skipping &&
            item.prefix === config.cutoverPrefix &&
            state.markerToken !== undefined &&
            Buffer.from(item.content).toString('utf8') === state.markerToken
          ) {
            markerSeen = true;
          }
          break;
        case 'commit':
          inTxn = false;
          if (skipping) {
            skipping = false;
            break;
          }
          lastEnd = item.endLsn;
          lastCommitMs = item.commitTimeMs;
          if (markerSeen || (state.stopAtLsn !== undefined && item.endLsn >= state.stopAtLsn)) {
            if (open) await settle();
            else {
              await pipeline.idle();
              state.appliedLsn = maxLsn(state.appliedLsn, lastEnd);
              state.appliedCommitMs = Math.max(state.appliedCommitMs, lastCommitMs);
            }
            return 'cutover';
          }
          if (!open) {
            // Nothing of this transaction reached the target: it counts as applied once all before
            // it is (now, or at the next keepalive if a commit is still in flight).
            if (pipeline.inFlight === 0) state.appliedCommitMs = Math.max(state.appliedCommitMs, lastCommitMs);
            break;
          }
          if (batchRows >= config.commitRows || Date.now() - batchStartedAt >= config.commitMs || queue.isEmpty) await commit();
          break;
      }
    }
  } finally {
    if (statusTimer) clearInterval(statusTimer);
    await stream?.close();
    await closeSession(source);
    // bounded: a target that stopped answering must not hold the session open
    if (release) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([release().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2_000)))]);
      clearTimeout(timer);
    }
    await closeSession(target);
  }
}
