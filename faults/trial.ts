// One trial: fresh source databases from the templates, the seeded workload, `pgferry create`
// through the proxies, the fault injected when its phase's trigger matches, the user's recovery
// (resume when `show` says the runner is dead, the cutover once changes stream and the fault is
// over), then the judge, the leftover checks, the outcome, and the clean-up.
import { FINAL_STATES, type MigrationStatus, get } from '../provider/engine';
import { CatalogConnection } from '../provider/engine/internal';
import { serverSpec, type Cluster } from '../test/support';
import { TrialAgents } from './agents';
import { ArmedFault, describeFault, isAgentFault, type FaultContext, type FaultKind, type FaultPlan } from './faults';
import { drawPhaseAndFault } from './trialDraw';
import { createTrialDatabases, dropDatabases, type FixtureSize } from './fixture';
import { judgeDatabase, SEQUENCE_CRASH_SLACK } from './judge';
import { fenceProblems, findLeftovers, liftFences, readFences, removeLeftovers } from './leftovers';
import { TrialMonitor } from './monitor';
import { classify, type TrialResult } from './outcome';
import { isFallBackStep, isFallbackPhase, phaseTrigger, STREAMING_PHASES, type Phase } from './phases';
import { driveFallback, judgeFallback, TRIAL_FALLBACK_WINDOW, type FallbackDriveArgs } from './fallbackTrial';
import { runnerProcesses, runners, signalGroup, trialProcesses } from './processes';
import { makeRng, type Rng } from './rng';
import { PHASE_WAIT_MS, POLL_MS, RunnerWatch, STUCK_MS, TrialUser } from './user';
import { CampaignWorkload } from './campaignWorkload';
import { drawPooler, POOLED_TABLE, POOLER_SHARE, TrialPooler } from './poolerTrial';
import { drawSchemaRelease, SchemaChangeUser } from './schemaChanges';
import { BYSTANDER_SHARE, BystanderActor, drawBystanders } from './bystander';
import { BYSTANDER_MARK } from './bystanderMark';
import type { BystanderObjects } from './judge';
import type { FaultProxy } from '../test/support/faultProxy';
import { drawWindowChange, WINDOW_CHANGE_SHARE, WindowChangeActor } from './windowChange';

export interface CampaignServers {
  readonly source: Cluster;
  readonly target: Cluster;
  readonly proxies: { readonly source: FaultProxy; readonly target: FaultProxy };
  /** fsync on: what a restart takes back is what a user's server would give back (campaign.ts openCampaign). */
  readonly durable: boolean;
}

export interface TrialOptions {
  readonly index: number;
  readonly seed: number;
  readonly size: FixtureSize;
  /** Distinguishes this campaign's names from an earlier one's on the same servers. */
  readonly tag: string;
  readonly fault?: FaultKind;
  readonly phase?: Phase;
  readonly walBoundBytes: number;
  readonly deadlineMs: number;
  /** Keep the trial's databases (to look at a failure). */
  readonly keep?: boolean;
  /** Fence the writers at the cutover (true) or not (false), instead of the trial's draw. */
  readonly fence?: boolean;
  /** The application's schema change while streaming: a name from SCHEMA_CHANGES, `always`, `never`, or drawn. */
  readonly schemaChange?: string;
  /** The share of drawn phases taken from FALLBACK_PHASES (default FALLBACK_SHARE; 0 replays a seed drawn before they came). */
  readonly fallbackShare?: number;
  /** The bystanders: a list of BYSTANDER_KINDS, `always`, `never`, or drawn (bystander.ts). */
  readonly bystander?: string;
  /** The share of trials with a bystander when drawn (default BYSTANDER_SHARE; 0 replays a seed as before they came). */
  readonly bystanderShare?: number;
  /** A PgBouncer in front of the source: `never`, `always`, a step of POOLER_STEPS or FALLBACK_POOLER_STEPS, or drawn (poolerTrial.ts). */
  readonly pooler?: string;
  /** The share of trials at a forward cutover phase behind a pooler when drawn (default POOLER_SHARE; 0 replays a seed as before it came). */
  readonly poolerShare?: number;
  /** Target sessions applying each stream (the spec's applySessions), instead of the trial's draw. */
  readonly applySessions?: number;
  /** The application's schema change in a fallback window: column, table, both, `always`, `never`, or drawn (windowChange.ts). */
  readonly windowChange?: string;
  /** The user's answer to the fall-back's stop on it: fix or close, or drawn. */
  readonly windowAnswer?: string;
  /** The share of fallback trials with such a change when drawn (default WINDOW_CHANGE_SHARE; 0 replays a seed as before it came). */
  readonly windowChangeShare?: number;
  /** The share of trials applying with several sessions when drawn (default PARALLEL_APPLY_SHARE; 0 replays a seed as before it came). */
  readonly parallelApplyShare?: number;
}

/**
 * The share of trials whose streams apply with several target sessions (parallel apply, issue 65),
 * two to four of them. Drawn from a fork of its own, so a seed keeps every other draw.
 */
export const PARALLEL_APPLY_SHARE = 0.3;

/** The trial's applySessions: forced, or drawn (1 outside the drawn share). */
function drawApplySessions(rng: Rng, share: number, forced?: number): number {
  const on = rng.chance(share);
  const sessions = rng.int(2, 4);
  return forced ?? (on ? sessions : 1);
}

/** The faults that restart a server: only on durable servers, whose restart gives back what a user's would. */
const RESTART_FAULTS: ReadonlySet<FaultKind> = new Set<FaultKind>(['source-restart', 'target-restart']);

/** Changes keep streaming at least this long before the user cuts over. */
const STREAMING_BEFORE_CUTOVER_MS = 2500;
/**
 * The share of trials at the other cutover phases whose cutover fences the writers too. The fence
 * changes what the rest of the cutover meets: the application keeps writing into the cutover (so
 * the marker, the drain and the sequences race the fence's ended sessions rather than a stopped
 * workload), a resumed cutover finds its fence recorded and fences again without the probe, and a
 * Succeeded database must keep its fence whatever step a fault hit. A third, so two thirds of those
 * trials still cover the cutover without a fence, which stays the default.
 */
const FENCED_SHARE_AT_OTHER_CUTOVER_PHASES = 1 / 3;

/** Whether a trial's cutover fences the writers: always at cutover-fence, a third of the time at the other cutover steps. */
function drawFence(phase: Phase, rng: Rng, forced?: boolean): boolean {
  // a fallback window needs the old source fenced (docs/fallback.md)
  if (phase === 'cutover-fence' || isFallbackPhase(phase)) return true;
  const drawn = phase.startsWith('cutover') && rng.chance(FENCED_SHARE_AT_OTHER_CUTOVER_PHASES);
  return forced ?? drawn;
}

const PROGRESS_SQL = `
SELECT (SELECT coalesce(max(id), 0) FROM pgferry.event WHERE migration = $1)::text || '/' ||
       (SELECT coalesce(sum(bytes), 0) + coalesce(sum(parts_done), 0) FROM pgferry.migration_table WHERE migration = $1)::text AS p`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function signature(status: MigrationStatus, extra: string): string {
  const dbs = status.databases.map((d) => `${d.state}:${d.rowsCopied}:${d.tables.completed}:${d.inserts + d.updates + d.deletes}`);
  return `${status.state}/${status.subState}/${status.message ?? ''}/${dbs.join(',')}/${extra}`;
}

function emptyResult(opts: TrialOptions, plan: FaultPlan, phase: string, fault = describeFault(plan)): TrialResult {
  return {
    index: opts.index,
    seed: opts.seed,
    fault,
    faultKind: plan.kind,
    phase,
    fired: false,
    faulted: false,
    outcome: 'failed',
    reasons: [],
    totalMs: 0,
    lostRows: 0,
    extraRows: 0,
    changedRows: 0,
    rowsCompared: 0,
    resumes: 0,
    actions: [],
    judgements: [],
  };
}

export async function runTrial(servers: CampaignServers, opts: TrialOptions): Promise<TrialResult> {
  const started = Date.now();
  const rng = makeRng(opts.seed);
  const { phase, plan, poolerShare } = drawPhaseAndFault(rng, { ...opts, poolerShare: opts.poolerShare ?? POOLER_SHARE });
  const fallback = isFallbackPhase(phase);
  if (RESTART_FAULTS.has(plan.kind) && !servers.durable)
    throw new Error(`fault ${plan.kind} restarts a server: it needs the campaign's durable servers (fsync on), not durable: false`);
  const trigger = phaseTrigger(phase, opts.size);
  const matchAt = rng.fork('match').int(1, trigger.maxMatch);
  const databases: [string, string] = [`ft_${opts.tag}_${opts.index}_a`, `ft_${opts.tag}_${opts.index}_b`];
  // behind a pooler, the runner killed at its step instead of the drawn fault: at a cutover phase,
  // a step of the cutover; at a fall-back phase (only when --pooler asks), a step of the fall-back
  const poolerDraw =
    phase.startsWith('cutover') || fallback ? drawPooler(rng.fork('pooler'), databases, poolerShare, opts.pooler, fallback) : undefined;
  const fenceWriters = !poolerDraw && drawFence(phase, rng.fork('fence'), opts.fence);
  const schemaChange = drawSchemaRelease(rng.fork('schema'), opts.schemaChange);
  const bystanderDraws = drawBystanders(
    rng.fork('bystander'),
    { fenced: fenceWriters, fallback, fallsBack: isFallBackStep(phase) },
    opts.bystanderShare ?? BYSTANDER_SHARE,
    opts.bystander,
  );
  const windowDraw = drawWindowChange(
    rng.fork('window change'),
    { fallback, fallsBack: isFallBackStep(phase) },
    opts.windowChangeShare ?? WINDOW_CHANGE_SHARE,
    opts.windowChange,
    opts.windowAnswer,
  );
  const applySessions = drawApplySessions(rng.fork('apply sessions'), opts.parallelApplyShare ?? PARALLEL_APPLY_SHARE, opts.applySessions);
  const name = `ft-${opts.tag}-${opts.index}`;
  const clusters = { source: servers.source, target: servers.target };
  const result = poolerDraw
    ? emptyResult(
        opts,
        plan,
        `pooler ${poolerDraw.step}:${poolerDraw.database}`,
        `runner killed at ${poolerDraw.step} (failpoint), behind a PgBouncer`,
      )
    : emptyResult(opts, plan, `${phase}#${matchAt}`);
  if (fenceWriters) result.fenceWriters = true;
  if (applySessions > 1) result.applySessions = applySessions;
  if (schemaChange)
    result.schemaChange = {
      name: schemaChange.changes.map((c) => c.name).join('+'),
      at: [schemaChange.delayMs, ...schemaChange.gapsMs.slice(0, schemaChange.changes.length - 1)],
      made: false,
      fixesRun: [],
    };
  await createTrialDatabases(servers.source, databases);
  const pooler = poolerDraw && (await TrialPooler.start(poolerDraw, clusters, servers.proxies.source.port, databases));
  const bystander = bystanderDraws.length > 0 ? new BystanderActor(bystanderDraws, clusters, databases, result, opts.seed) : undefined;
  const windowChange = windowDraw && new WindowChangeActor(windowDraw, clusters, databases, result);
  const store = new CatalogConnection(serverSpec(servers.target));
  const killed = new Set<number>();
  const ctx: FaultContext = {
    killed,
    proxies: servers.proxies,
    clusters,
    runnerPid: async () => {
      // Looked for a few times: one scan of /proc in 24 missed a runner that was there.
      for (let attempt = 0; attempt < 10; attempt++) {
        const live = runners(await trialProcesses(name)).filter((p) => p.state !== 'T');
        const recorded = (await get(store, name).catch(() => undefined))?.runner?.pid;
        const pid = (live.find((p) => p.pid === recorded) ?? live[live.length - 1])?.pid;
        if (pid !== undefined) return pid;
        await sleep(200);
      }
      return undefined;
    },
    otherRunnerStarted: async (pid, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const recorded = (await get(store, name).catch(() => undefined))?.runner;
        if (recorded && recorded.pid !== pid && recorded.alive) return true;
        await sleep(500);
      }
      return false;
    },
  };
  // a trial of runtime agents: two agents run the migration, and the fault lands on one of them
  const ports = { sourcePort: servers.proxies.source.port, targetPort: servers.proxies.target.port };
  const agents = isAgentFault(plan.kind) && !poolerDraw ? new TrialAgents({ name, databases, ...ports }, clusters) : undefined;
  if (agents) ctx.agentOf = (pid) => agents.agentOf(pid);
  const fault = new ArmedFault(plan, trigger, matchAt, servers.proxies[trigger.server], ctx);
  const workload = new CampaignWorkload(servers.source, databases, opts.size, rng.fork('workload'));
  const monitor = new TrialMonitor(name, databases, clusters, servers.proxies.target, servers.proxies.source, killed, workload.startedAt);
  result.origin = workload.startedAt;
  const user = new TrialUser(
    {
      name,
      databases,
      ...ports,
      splitBytes: 2 * 1024 * 1024,
      ...(agents ? { runtime: 'agents' as const } : {}),
      ...(fenceWriters ? { fenceWriters } : {}),
      ...(applySessions > 1 ? { applySessions } : {}),
      ...(fallback ? { fallbackWindow: TRIAL_FALLBACK_WINDOW } : {}),
      ...(bystander && bystander.excludedTables().length > 0 ? { excludeTables: bystander.excludedTables() } : {}),
      ...(pooler ? { pooler: pooler.input(), failpoints: pooler.failpoints() } : {}),
    },
    clusters,
  );
  let stuck: string | undefined;
  const deadline = started + opts.deadlineMs;
  const inWindow: FallbackDriveArgs = {
    ...{ name, store, user, fault, phase, clusters, databases, size: opts.size, rng, result, deadline, bystander, pooled: !!pooler },
    windowChange,
    workloadStartedAt: workload.startedAt,
  };
  try {
    await bystander?.beforeCreate();
    workload.start();
    monitor.start();
    await agents?.start();
    await pooler?.startWriting();
    await user.create();
    const schema = schemaChange ? new SchemaChangeUser(schemaChange, databases, clusters, user, result) : undefined;
    stuck = await drive({ name, store, user, fault, phase, workload, result, fenceWriters, schema, bystander, deadline, pooled: !!pooler });
    // the read-write client writes through the cutover only: the migration's end (or the trial's) stops it
    await bystander?.stopWriting();
    if (fallback && !stuck && result.finalState === 'Succeeded') {
      // the application has moved to the new server: it writes there in the window (fallbackTrial.ts)
      await workload.stop();
      stuck = await driveFallback(inWindow);
    }
  } finally {
    fault.disarm();
    await bystander?.stopWriting();
    result.workload = await workload.stop();
    await settle(fault, clusters, name, result);
    if (agents) await stopAgents(agents, name, result);
    result.monitor = await monitor.stop();
  }
  try {
    const bystanders: BystanderObjects | undefined = bystander && {
      mark: BYSTANDER_MARK,
      largeObjects: bystander.largeObjects(),
    };
    const judged =
      fallback && result.fallback?.fellBack
        ? judgeFallback(inWindow, bystanders)
        : judge(
            servers,
            { name, store, databases, fenceWriters, bystanders, rows: result.fallback?.closed === undefined, pooled: !!pooler },
            result,
            plan,
          );
    await judged.catch((error: Error) => result.reasons.push(`the judge could not compare: ${error.message}`));
    await pooler?.judge(result.reasons).catch((error: Error) => result.reasons.push(`the pooler's judge failed: ${error.message}`));
    // what the bystander made is read back from the servers whatever the migration's end
    await bystander?.judge(result, stuck).catch((error: Error) => result.reasons.push(`the bystander's judge failed: ${error.message}`));
  } finally {
    await pooler?.stop().catch(() => undefined);
    // behind a pooler the fault is the failpoint: it happened when the runner died and was resumed
    result.fired = pooler ? result.resumes > 0 : fault.fired;
    result.faulted = pooler ? result.resumes > 0 : fault.injected?.happened === true;
    if (fault.firedAt !== undefined && fault.overAt !== undefined) {
      result.faultWindow = { from: fault.firedAt - workload.startedAt, to: fault.overAt - workload.startedAt };
    }
    result.faultDetail =
      [fault.injected?.detail, fault.error && `injection failed: ${fault.error}`].filter(Boolean).join('; ') || undefined;
    result.actions = user.actions;
    result.outcome = classify(result, { walBoundBytes: opts.walBoundBytes, stuck });
    if (result.finalState !== 'Succeeded') result.recoveryMs = undefined; // only a finished migration recovered
    result.totalMs = Date.now() - started;
    await store.close();
    user.dispose();
    if (result.leftovers) await removeLeftovers(clusters, result.leftovers);
    // a database cut over with its writers fenced stays read-only by design: lifted before it is dropped or looked at
    await liftFences(servers.source, name, databases);
    if (!opts.keep) {
      await dropDatabases(servers.source, databases).catch(() => undefined);
      await dropDatabases(servers.target, databases).catch(() => undefined);
    }
  }
  return result;
}

interface DriveArgs {
  readonly name: string;
  readonly store: CatalogConnection;
  readonly user: TrialUser;
  readonly fault: ArmedFault;
  readonly phase: Phase;
  readonly workload: CampaignWorkload;
  readonly result: TrialResult;
  /** The cutover fences the writers: the application writes on through it (the fence stops it). */
  readonly fenceWriters: boolean;
  /** The application's schema change while streaming, and the user's answers to what it stops. */
  readonly schema: SchemaChangeUser | undefined;
  /** Another actor making or writing what pgferry does not own (bystander.ts). */
  readonly bystander: BystanderActor | undefined;
  readonly deadline: number;
  /** Behind a pooler: the failpoint is the fault, the drawn one is never armed. */
  readonly pooled: boolean;
}

/** The user's loop: returns undefined at a final state, or why the trial is stuck. */
async function drive(a: DriveArgs): Promise<string | undefined> {
  const { name, store, user, fault, result } = a;
  const runner = new RunnerWatch(user, result);
  let lastSignature = '';
  let lastProgress = Date.now();
  let signatureAtOver: string | undefined;
  let streamingSince: number | undefined;
  let cutoverRequests = 0;
  let cutoverStarted = false;
  let lastCutoverRequest = 0;
  let messageAtRequest: string | undefined;
  for (;;) {
    await sleep(POLL_MS);
    const now = Date.now();
    if (now > a.deadline) return `not finished within the trial deadline (last progress ${((now - lastProgress) / 1000).toFixed(0)} s ago)`;
    let status: MigrationStatus | undefined;
    let extra: string;
    try {
      status = await get(store, name);
      extra = (await store.query<{ p: string }>(PROGRESS_SQL, [name]))[0]?.p ?? '';
    } catch {
      continue; // the target may be restarting or full: the user's `show` fails too
    }
    if (!status) {
      if (now - lastProgress > STUCK_MS) return 'the migration never appeared in the catalog';
      continue;
    }
    const sig = signature(status, extra);
    if (sig !== lastSignature) {
      lastSignature = sig;
      lastProgress = now;
    }
    if (fault.overAt !== undefined && result.recoveryMs === undefined) {
      signatureAtOver ??= sig;
      const moving = status.state === 'Succeeded' || (!FINAL_STATES.has(status.state) && status.runner?.alive === true);
      if (sig !== signatureAtOver && moving) result.recoveryMs = now - fault.overAt;
    }
    if (FINAL_STATES.has(status.state)) {
      result.finalState = status.state;
      result.message = status.message;
      return undefined;
    }
    const faultBusy = fault.fired && fault.overAt === undefined;
    if (!faultBusy && now - lastProgress > STUCK_MS)
      return `stuck at ${status.state}/${status.subState} for ${STUCK_MS / 1000} s: ${status.message ?? ''}`;
    if (a.schema?.canceled) continue; // the user gave up: the cancel runs to its end
    const resumed = await runner.look(status.runner?.alive, now);
    if (typeof resumed === 'object') return resumed.failure;
    if (resumed) continue;
    if (status.subState === 'CompletingMigration') cutoverStarted = true;
    // a cutover that stopped between two polls leaves its reason: seen as started and stopped
    if (a.schema?.changed && cutoverRequests > 0 && status.message && status.message !== messageAtRequest) cutoverStarted = true;
    const streaming = status.state === 'WaitingForUserAction' && status.subState === 'WaitingForCutoverTrigger';
    streamingSince = streaming ? (streamingSince ?? now) : undefined;
    // the application's release: made once streaming, then changes stream on a while before the cutover
    if (a.schema && (await a.schema.onPoll(status, streaming && status.runner?.alive === true))) {
      streamingSince = undefined;
      lastProgress = Date.now();
      continue;
    }
    // the bystander acts while streaming at its drawn moment: the cutover waits for it
    if (a.bystander && (await a.bystander.onPoll(streaming && status.runner?.alive === true))) {
      streamingSince = undefined;
      lastProgress = Date.now();
      continue;
    }
    if (!streaming || !status.runner?.alive || now - streamingSince! < STREAMING_BEFORE_CUTOVER_MS) continue;
    const faultDone =
      fault.overAt !== undefined || (!fault.fired && (!STREAMING_PHASES.includes(a.phase) || now - streamingSince! > PHASE_WAIT_MS));
    if (!faultDone) continue;
    // Asked already: ask again only if a started cutover stopped (back to streaming), or after a minute.
    if (cutoverRequests > 0 && !cutoverStarted && now - lastCutoverRequest < 60_000) continue;
    if (cutoverRequests > 0 && a.schema?.changed) {
      // a stop the schema change explains: the user fixes what was printed, or cancels
      if (!(await a.schema.cutoverStopped(status))) continue;
      if (cutoverRequests >= 4) return `cutover stopped ${cutoverRequests} times after a schema change: ${status.message ?? ''}`;
    } else {
      if (cutoverRequests >= 2) return `cutover stopped twice: ${status.message ?? ''}`;
      if (cutoverRequests === 1 && status.message) result.reasons.push(`first cutover stopped: ${status.message}`);
    }
    // Without a fence the user stops the application before the cutover, as the README asks; with
    // one, the application writes on and the fence stops it (what the fence is for).
    if (a.fenceWriters) a.workload.fenceRequested();
    else await a.workload.stop();
    if (!a.pooled) fault.arm('cutover');
    a.schema?.cutoverRequested();
    a.bystander?.cutoverRequested();
    messageAtRequest = status.message;
    const answer = await user.cutover();
    if (answer.code === 0) {
      cutoverRequests += 1;
      cutoverStarted = false;
      lastCutoverRequest = Date.now();
    }
  }
}

/** After the end: the fault taken away, servers up, no runner left alive (killed if one is). */
async function settle(fault: ArmedFault, clusters: { source: Cluster; target: Cluster }, name: string, result: TrialResult): Promise<void> {
  // Injecting can outlast the migration (filling the target's connections takes seconds).
  await Promise.race([fault.finished, sleep(120_000)]);
  for (const c of [clusters.source, clusters.target]) {
    const up = await c.query('SELECT 1').then(
      () => true,
      () => false,
    );
    if (!up) await c.start().catch(() => undefined);
  }
  const deadline = Date.now() + 30_000;
  let left = runners(await trialProcesses(name));
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(500);
    left = runners(await trialProcesses(name));
  }
  if (left.length > 0 && result.finalState) {
    result.reasons.push(
      `runner process(es) ${left.map((p) => `${p.pid} (${p.state})`).join(', ')} still alive 30 s after ${result.finalState}`,
    );
  }
  for (const p of left) signalGroup(p.pid, 'SIGKILL');
}

/**
 * The agents stopped, and every runner process of theirs gone with them: a spare runner lives as
 * long as its agent, not longer, whether the agent stopped cleanly or was SIGKILLed (its lifeline
 * closes). One left alive is an orphan holding nothing, still a failure.
 */
async function stopAgents(agents: TrialAgents, name: string, result: TrialResult): Promise<void> {
  await agents.stop();
  const deadline = Date.now() + 30_000;
  let left = runnerProcesses(await trialProcesses(name));
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(500);
    left = runnerProcesses(await trialProcesses(name));
  }
  if (left.length > 0) {
    const who = left.map((p) => `${p.pid} (${p.state}, parent ${p.ppid}, ${p.command.slice(-40)})`).join(', ');
    result.reasons.push(`runner process(es) ${who} still alive 30 s after their agents stopped`);
  }
  for (const p of left) signalGroup(p.pid, 'SIGKILL');
}

interface JudgeArgs {
  readonly name: string;
  readonly store: CatalogConnection;
  readonly databases: readonly string[];
  readonly fenceWriters: boolean;
  readonly bystanders: BystanderObjects | undefined;
  /** Compare the rows: not after the user closed a fallback window, which leaves the old source behind on purpose. */
  readonly rows: boolean;
  /** Behind a pooler: the application's table is judged by the pooler's judge (it writes on the target after the switch). */
  readonly pooled: boolean;
}

async function judge(servers: CampaignServers, a: JudgeArgs, result: TrialResult, plan: FaultPlan): Promise<void> {
  const clusters = { source: servers.source, target: servers.target };
  const { databases } = a;
  if (result.finalState) {
    result.leftovers = await findLeftovers(clusters, databases);
    const status = await get(a.store, a.name);
    // a database whose window fell back (beside another the user closed) has its fence lifted on the old source
    const fellBack = new Set((status?.databases ?? []).filter((d) => d.fallback?.state === 'FellBack').map((d) => d.database));
    const states = new Map((status?.databases ?? []).map((d) => [d.database, fellBack.has(d.database) ? 'FellBack' : (d.state as string)]));
    result.fences = await readFences(clusters, a.name, databases, states);
    for (const p of fenceProblems(result.fences, a.fenceWriters)) result.reasons.push(`writer fence: ${p}`);
  }
  if (result.finalState !== 'Succeeded' || !a.rows) return;
  for (const db of databases) {
    const sequenceSlack = plan.kind === 'source-restart' ? SEQUENCE_CRASH_SLACK : 0;
    const j = await judgeDatabase(servers.source, servers.target, db, {
      sequenceSlack,
      bystanders: a.bystanders,
      ...(a.pooled ? { rowsJudgedApart: [POOLED_TABLE] } : {}),
    });
    result.judgements.push(j);
    result.rowsCompared += j.rowsCompared;
    result.largeObjectsCompared = (result.largeObjectsCompared ?? 0) + j.largeObjectsCompared;
    for (const t of j.tables) {
      result.lostRows += t.lost;
      result.extraRows += t.extra;
      result.changedRows += t.changed;
    }
  }
}
