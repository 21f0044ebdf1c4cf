#!/usr/bin/env node
// `npm run faults -- --trials 50 --seed S`: the fault campaign. Starts a source and a target
// cluster and a fault proxy in front of each, builds the fixture once, runs the trials one after
// another (each from its own seed, so `--replay SEED` runs one again), prints a line per trial
// and a summary, and writes a JSON report. Exits 1 when a trial failed. `--trials N` means N
// trials in which the fault really happened: a trial whose phase was never reached or whose fault
// did nothing is reported as such and another is drawn in its place. `--help` lists the options.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, stopAllClusters } from '../test/support';
import { FAULT_KINDS, type FaultKind } from './faults';
import { buildTemplates, SIZES, thumbType, type FixtureSize } from './fixture';
import type { TrialResult } from './outcome';
import { ALL_PHASES, type Phase } from './phases';
import { FaultProxy } from '../test/support/faultProxy';
import { summarize, summaryLines, trialDetail, trialLine, type CampaignSummary } from './report';
import { drawTrials } from './draws';
import { schemaChangesNamed } from './schemaChanges';
import { PARALLEL_APPLY_SHARE, runTrial, type CampaignServers } from './trial';
import { FALLBACK_SHARE, forcedAgentRefusal } from './trialDraw';
import { BYSTANDER_SHARE, bystanderKindsNamed } from './bystander';
import { isPoolerStep, POOLER_SHARE } from './poolerTrial';
import { WINDOW_CHANGE_SHARE, windowAnswerNamed, windowChangeNamed } from './windowChange';

export interface CampaignOptions {
  /** Trials whose fault really happened (more are drawn for those whose fault did not). */
  readonly trials: number;
  readonly seed: number;
  /** Run exactly these trial seeds instead of deriving them from `seed`. */
  readonly replay?: readonly number[];
  readonly size: keyof typeof SIZES;
  readonly fault?: FaultKind;
  readonly phase?: Phase;
  /** Fence the writers at every cutover (true) or none (false), instead of each trial's draw. */
  readonly fence?: boolean;
  /** The application's schema change while streaming: `always`, `never`, a name from SCHEMA_CHANGES, or drawn (half the trials). */
  readonly schemaChange?: string;
  /** The share of drawn phases at the reverse stream and the fall-back (0 replays seeds drawn before they came). */
  readonly fallbackShare?: number;
  /** The bystanders: `always`, `never`, kinds from BYSTANDER_KINDS, or drawn (bystander.ts). */
  readonly bystander?: string;
  /** The share of trials with a bystander when drawn (0 replays seeds as before the bystander came). */
  readonly bystanderShare?: number;
  /**
   * A PgBouncer in front of the source at cutover phases (and at fall-back phases when not drawn):
   * `always`, `never`, a step of POOLER_STEPS or FALLBACK_POOLER_STEPS, or drawn (poolerTrial.ts).
   */
  readonly pooler?: string;
  /** The share of cutover-phase trials behind a pooler when drawn (0 replays seeds as before the pooler came). */
  readonly poolerShare?: number;
  /** Target sessions applying each stream in every trial (applySessions), instead of each trial's draw. */
  readonly applySessions?: number;
  /** The share of trials applying with several sessions when drawn (0 replays seeds as before parallel apply came). */
  readonly parallelApplyShare?: number;
  /** The application's column or table made in a fallback window: `always`, `never`, column, table, both, or drawn (windowChange.ts). */
  readonly windowChange?: string;
  /** The user's answer to the fall-back's stop on it: fix or close, or drawn. */
  readonly windowAnswer?: string;
  /** The share of fallback trials with such a change when drawn (0 replays seeds as before it came). */
  readonly windowChangeShare?: number;
  readonly walBoundMiB: number;
  readonly deadlineSeconds: number;
  readonly keep: boolean;
  readonly log: (line: string) => void;
  /** Called after each trial (the command rewrites its report, so a long run can be read while it goes). */
  readonly onTrial?: (result: TrialResult, all: readonly TrialResult[]) => void;
}

export interface CampaignResult {
  readonly options: Omit<CampaignOptions, 'log'>;
  readonly summary: CampaignSummary;
  readonly trials: readonly TrialResult[];
  /** Fewer than `trials` trials had their fault happen within the draws allowed. */
  readonly short: boolean;
}

function replayCommand(o: CampaignOptions, seed: number): string {
  const extra = [
    o.size !== 'default' ? `--size ${o.size}` : '',
    o.fault ? `--fault ${o.fault}` : '',
    o.phase ? `--phase ${o.phase}` : '',
    o.fence === undefined ? '' : `--fence ${o.fence ? 'always' : 'never'}`,
    o.schemaChange ? `--schema-change ${o.schemaChange}` : '',
    o.fallbackShare !== undefined && o.fallbackShare !== FALLBACK_SHARE ? `--fallback-share ${o.fallbackShare}` : '',
    o.bystander ? `--bystander ${o.bystander}` : '',
    o.bystanderShare !== undefined && o.bystanderShare !== BYSTANDER_SHARE ? `--bystander-share ${o.bystanderShare}` : '',
    o.pooler ? `--pooler ${o.pooler}` : '',
    o.poolerShare !== undefined && o.poolerShare !== POOLER_SHARE ? `--pooler-share ${o.poolerShare}` : '',
    o.applySessions !== undefined ? `--apply-sessions ${o.applySessions}` : '',
    o.parallelApplyShare !== undefined && o.parallelApplyShare !== PARALLEL_APPLY_SHARE
      ? `--parallel-apply-share ${o.parallelApplyShare}`
      : '',
    o.windowChange ? `--window-change ${o.windowChange}` : '',
    o.windowAnswer ? `--window-answer ${o.windowAnswer}` : '',
    o.windowChangeShare !== undefined && o.windowChangeShare !== WINDOW_CHANGE_SHARE ? `--window-change-share ${o.windowChangeShare}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `npm run faults -- --replay ${seed}${extra ? ` ${extra}` : ''}`;
}

/** The servers, proxies and fixture of a campaign (the CI suite opens one for its trials). */
export interface OpenCampaign {
  readonly servers: CampaignServers;
  readonly size: FixtureSize;
  /** Distinguishes this campaign's names from an earlier one's on the same servers. */
  readonly tag: string;
  close(keep?: boolean): Promise<void>;
}

/**
 * The campaign's servers are durable as users run them (a test server's defaults trade durability
 * for speed, provider/localpg/cluster.ts): what a restart takes back, and how long recovery takes,
 * must be what a user's server would do.
 */
const DURABLE: Readonly<Record<string, string>> = {
  fsync: 'on',
  synchronous_commit: 'on',
  full_page_writes: 'on',
  wal_init_zero: 'on',
};

/**
 * `durable: false` turns fsync off and keeps the rest of DURABLE: commits wait for their WAL as on a
 * user's server, but nothing waits for the disk, whose syncs are most of a trial's waiting on a
 * loaded machine. Only for trials that restart no server (what a restart takes back is what fsync
 * decides): runTrial refuses a server fault on such servers.
 */
export async function openCampaign(
  sizeName: keyof typeof SIZES,
  log: (line: string) => void,
  options: { readonly durable?: boolean } = {},
): Promise<OpenCampaign> {
  const started = Date.now();
  const size: FixtureSize = SIZES[sizeName];
  const durable = options.durable ?? true;
  const settings = durable ? DURABLE : { ...DURABLE, fsync: 'off' };
  const [source, target] = await Promise.all([startCluster({ label: 'fsrc', settings }), startCluster({ label: 'fdst', settings })]);
  const proxies = { source: new FaultProxy('source', source.port), target: new FaultProxy('target', target.port) };
  const close = async (keep = false): Promise<void> => {
    await Promise.all([proxies.source.close().catch(() => undefined), proxies.target.close().catch(() => undefined)]);
    if (!keep) await Promise.all([source.stop(), target.stop()]);
  };
  try {
    await Promise.all([proxies.source.start(), proxies.target.start()]);
    log(`servers: source :${source.port} (proxy :${proxies.source.port}), target :${target.port} (proxy :${proxies.target.port})`);
    const thumb = await thumbType([source, target]);
    await buildTemplates(source, size, thumb);
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    log(
      `fixture "${sizeName}" built (${size.bigRows} rows in the split table, large objects in attachments.blob oid and .thumb ${thumb}) in ${seconds} s`,
    );
  } catch (error) {
    await close();
    throw error;
  }
  return { servers: { source, target, proxies, durable }, size, tag: (Date.now() % 1_000_000).toString(36), close };
}

export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const campaign = await openCampaign(o.size, o.log);
  const all: TrialResult[] = [];
  try {
    const drawn = await drawTrials(o, async (index, seed) => {
      const result = await runTrial(campaign.servers, {
        index,
        seed,
        size: campaign.size,
        tag: campaign.tag,
        fault: o.fault,
        phase: o.phase,
        walBoundBytes: o.walBoundMiB * 1024 * 1024,
        deadlineMs: o.deadlineSeconds * 1000,
        keep: o.keep,
        ...(o.fence === undefined ? {} : { fence: o.fence }),
        ...(o.schemaChange === undefined ? {} : { schemaChange: o.schemaChange }),
        ...(o.fallbackShare === undefined ? {} : { fallbackShare: o.fallbackShare }),
        ...(o.bystander === undefined ? {} : { bystander: o.bystander }),
        ...(o.bystanderShare === undefined ? {} : { bystanderShare: o.bystanderShare }),
        ...(o.pooler === undefined ? {} : { pooler: o.pooler }),
        ...(o.poolerShare === undefined ? {} : { poolerShare: o.poolerShare }),
        ...(o.applySessions === undefined ? {} : { applySessions: o.applySessions }),
        ...(o.parallelApplyShare === undefined ? {} : { parallelApplyShare: o.parallelApplyShare }),
        ...(o.windowChange === undefined ? {} : { windowChange: o.windowChange }),
        ...(o.windowAnswer === undefined ? {} : { windowAnswer: o.windowAnswer }),
        ...(o.windowChangeShare === undefined ? {} : { windowChangeShare: o.windowChangeShare }),
      });
      all.push(result);
      o.onTrial?.(result, all);
      o.log(trialLine(result));
      for (const line of trialDetail(result, replayCommand(o, seed))) o.log(line);
      return result;
    });
    if (drawn.short) {
      const faulted = drawn.results.filter((r) => r.faulted).length;
      o.log(`gave up after ${drawn.results.length} draws: only ${faulted} of ${o.trials} trials had their fault happen`);
    }
    const { log: _log, onTrial: _onTrial, ...options } = o;
    return { options, summary: summarize(all, (Date.now() - started) / 1000), trials: all, short: drawn.short };
  } finally {
    await campaign.close(o.keep);
  }
}

/** A `--NAME-share` value: a number from 0 to 1, or undefined when not given. */
function shareOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const share = Number(value);
  if (!(share >= 0 && share <= 1)) throw new Error(`--${name}: a number from 0 to 1, got "${value}"`);
  return share;
}

/** One option of the command: what it takes and its default, as `--help` prints them. */
interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** What follows the option (empty for a switch). */
  readonly takes: string;
  readonly what: string;
  /** The default as said to the user. */
  readonly byDefault: string;
  /** The default parseArgs fills in. */
  readonly given?: string | boolean;
}

const share = (what: string, value: number): Pick<OptionSpec, 'type' | 'takes' | 'what' | 'byDefault'> => ({
  type: 'string',
  takes: '0..1',
  what,
  byDefault: String(value),
});

/** Every option of `npm run faults`, in the order `--help` lists them. */
const OPTIONS = {
  trials: { type: 'string', takes: 'N', what: 'trials whose fault really happened', byDefault: '50', given: '50' },
  seed: { type: 'string', takes: 'N', what: "the campaign's seed (trial seeds derive from it)", byDefault: 'random' },
  replay: { type: 'string', takes: 'SEED[,SEED...]', what: 'run exactly these trial seeds', byDefault: 'none' },
  size: { type: 'string', takes: Object.keys(SIZES).join('|'), what: "the fixture's size", byDefault: 'default', given: 'default' },
  fault: { type: 'string', takes: 'KIND', what: `every trial's fault: ${FAULT_KINDS.join(', ')}`, byDefault: 'drawn' },
  phase: { type: 'string', takes: 'PHASE', what: `every trial's phase: ${ALL_PHASES.join(', ')}`, byDefault: 'drawn' },
  fence: { type: 'string', takes: 'always|never', what: 'fence the writers at every cutover, or at none', byDefault: 'drawn' },
  'schema-change': {
    type: 'string',
    takes: 'always|never|NAME[,NAME...]',
    what: "the application's schema changes while streaming (faults/schemaChanges.ts)",
    byDefault: 'drawn in half the trials',
  },
  'fallback-share': share('the share of drawn phases in a fallback window', FALLBACK_SHARE),
  bystander: { type: 'string', takes: 'always|never|KIND[,KIND...]', what: 'the bystanders (faults/bystander.ts)', byDefault: 'drawn' },
  'bystander-share': share('the share of trials with a bystander', BYSTANDER_SHARE),
  pooler: {
    type: 'string',
    takes: 'always|never|STEP',
    what: 'a PgBouncer in front of the source, the runner killed at a step (faults/poolerTrial.ts)',
    byDefault: 'drawn at cutover phases',
  },
  'pooler-share': share('the share of cutover-phase trials behind a pooler', POOLER_SHARE),
  'apply-sessions': { type: 'string', takes: '1..16', what: 'target sessions applying each stream', byDefault: 'drawn' },
  'parallel-apply-share': share('the share of trials applying with several sessions', PARALLEL_APPLY_SHARE),
  'window-change': {
    type: 'string',
    takes: 'always|never|column|table|both',
    what: "the application's column or table made in a fallback window",
    byDefault: 'drawn',
  },
  'window-answer': { type: 'string', takes: 'fix|close', what: "the user's answer to the fall-back's stop on it", byDefault: 'drawn' },
  'window-change-share': share('the share of fallback trials with such a change', WINDOW_CHANGE_SHARE),
  'wal-bound-mib': { type: 'string', takes: 'N', what: 'source WAL a trial may retain, in MiB', byDefault: '256', given: '256' },
  'deadline-seconds': { type: 'string', takes: 'N', what: "a trial's deadline", byDefault: '900', given: '900' },
  keep: { type: 'boolean', takes: '', what: "keep the servers and the trials' databases", byDefault: 'off', given: false },
  out: { type: 'string', takes: 'FILE', what: 'the JSON report', byDefault: 'bench/results/DATE-faults-HHMM.json' },
  help: { type: 'boolean', short: 'h', takes: '', what: 'print these options and exit', byDefault: 'off' },
} as const satisfies Readonly<Record<string, OptionSpec>>;

/** `--help`: one line per option, what it takes, what it does and its default. */
export function campaignUsage(): string[] {
  const entries = Object.entries(OPTIONS) as [string, OptionSpec][];
  const heads = entries.map(([name, o]) => `${o.short ? `-${o.short}, ` : ''}--${name}${o.takes ? ` ${o.takes}` : ''}`);
  const width = Math.max(...heads.map((h) => h.length));
  return [
    'usage: npm run faults -- [OPTION...]',
    ...entries.map(([, o], i) => `  ${heads[i]!.padEnd(width)}  ${o.what} (default: ${o.byDefault})`),
  ];
}

/**
 * parseArgs' own refusals in one line naming what was wrong and what is allowed (its messages run
 * over several sentences and know nothing of this command's options).
 */
function argsError(error: unknown): Error {
  const { code, message } = error as { code?: string; message: string };
  const allowed = `allowed: ${Object.keys(OPTIONS)
    .map((n) => `--${n}`)
    .join(', ')} (--help says what each takes)`;
  const named = /'([^']+)'/.exec(message)?.[1] ?? '';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new Error(`unknown option "${named}"; ${allowed}`);
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
    return new Error(`unexpected argument "${named}": every value follows its option; ${allowed}`);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return new Error(`${message.split('.')[0]} (--help says what each option takes)`);
  return error as Error;
}

type ParsedValues = { -readonly [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

function parseValues(argv: readonly string[]): ParsedValues {
  const config = Object.fromEntries(
    Object.entries(OPTIONS).map(([name, o]: [string, OptionSpec]) => [
      name,
      { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.given === undefined ? {} : { default: o.given }) },
    ]),
  ) as { [K in keyof typeof OPTIONS]: { type: (typeof OPTIONS)[K]['type'] } };
  try {
    return parseArgs({ args: [...argv], strict: true, options: config }).values as ParsedValues;
  } catch (error) {
    throw argsError(error);
  }
}

/** The command line: `--help`, or the campaign's options, each checked (a bad one throws one line naming it). */
export function parseCampaignArgs(
  argv: readonly string[],
): { readonly help: true } | { readonly help: false; readonly options: CampaignOptions & { out?: string } } {
  const values = parseValues(argv);
  if (values.help) return { help: true };
  return { help: false, options: checkedOptions(values) };
}

function checkedOptions(values: ParsedValues): CampaignOptions & { out?: string } {
  const int = (v: string | undefined, what: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${what}: must be a non-negative integer, got "${v}"`);
    return n;
  };
  if (!(values.size! in SIZES)) throw new Error(`--size: one of ${Object.keys(SIZES).join(', ')}`);
  if (values.fault && !(FAULT_KINDS as readonly string[]).includes(values.fault))
    throw new Error(`--fault: one of ${FAULT_KINDS.join(', ')}`);
  if (values.fence && values.fence !== 'always' && values.fence !== 'never') throw new Error('--fence: always or never');
  if (values.phase && !(ALL_PHASES as readonly string[]).includes(values.phase))
    throw new Error(`--phase: one of ${ALL_PHASES.join(', ')}`);
  const applySessions = values['apply-sessions'] === undefined ? undefined : Number(values['apply-sessions']);
  if (applySessions !== undefined && !(Number.isInteger(applySessions) && applySessions >= 1 && applySessions <= 16))
    throw new Error(`--apply-sessions: a whole number from 1 to 16, got "${values['apply-sessions']}"`);
  const pooler = values.pooler;
  if (pooler !== undefined && pooler !== 'always' && pooler !== 'never' && !isPoolerStep(pooler))
    throw new Error(`--pooler: always, never or a step of faults/poolerTrial.ts (cutover-pooler-paused ...), got "${pooler}"`);
  const agents = forcedAgentRefusal(values.fault as FaultKind | undefined, values.phase as Phase | undefined, pooler);
  if (agents) throw new Error(agents);
  const bystander = values.bystander;
  if (bystander && bystander !== 'always' && bystander !== 'never') bystanderKindsNamed(bystander);
  const schemaChange = values['schema-change'];
  if (schemaChange && schemaChange !== 'always' && schemaChange !== 'never') schemaChangesNamed(schemaChange);
  const windowChange = values['window-change'];
  if (windowChange && windowChange !== 'always' && windowChange !== 'never') windowChangeNamed(windowChange);
  const windowAnswer = values['window-answer'];
  if (windowAnswer !== undefined) windowAnswerNamed(windowAnswer);
  return {
    trials: int(values.trials, 'trials'),
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : int(values.seed, 'seed'),
    replay: values.replay?.split(',').map((s) => int(s, 'replay')),
    size: values.size as keyof typeof SIZES,
    fault: values.fault as FaultKind | undefined,
    phase: values.phase as Phase | undefined,
    fence: values.fence === undefined ? undefined : values.fence === 'always',
    schemaChange,
    ...sharesGiven(values),
    ...(bystander === undefined ? {} : { bystander }),
    ...(pooler === undefined ? {} : { pooler }),
    ...(applySessions === undefined ? {} : { applySessions }),
    ...(windowChange === undefined ? {} : { windowChange }),
    ...(windowAnswer === undefined ? {} : { windowAnswer }),
    walBoundMiB: int(values['wal-bound-mib'], 'wal-bound-mib'),
    deadlineSeconds: int(values['deadline-seconds'], 'deadline-seconds'),
    keep: values.keep!,
    out: values.out,
    log: (line) => console.log(line),
  };
}

/** The `--NAME-share` options given, each checked. */
function sharesGiven(values: ParsedValues): Partial<CampaignOptions> {
  const given = (name: keyof ParsedValues & `${string}-share`): number | undefined => shareOption(values[name] as string | undefined, name);
  const entries = [
    ['fallbackShare', given('fallback-share')],
    ['bystanderShare', given('bystander-share')],
    ['poolerShare', given('pooler-share')],
    ['parallelApplyShare', given('parallel-apply-share')],
    ['windowChangeShare', given('window-change-share')],
  ] as const;
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined));
}

function defaultReportPath(): string {
  const now = new Date();
  const day = now.toISOString().slice(0, 10);
  const time = now.toISOString().slice(11, 16).replace(':', '');
  return path.resolve(__dirname, '../../bench/results', `${day}-faults-${time}.json`);
}

async function main(): Promise<number> {
  const parsed = parseCampaignArgs(process.argv.slice(2));
  if (parsed.help) {
    for (const line of campaignUsage()) console.log(line);
    return 0;
  }
  const o = parsed.options;
  o.log(`fault campaign: ${o.replay ? `replay of ${o.replay.join(', ')}` : `${o.trials} trials, seed ${o.seed}`}, size ${o.size}`);
  const out = o.out ?? defaultReportPath();
  mkdirSync(path.dirname(out), { recursive: true });
  const started = Date.now();
  const write = (report: unknown): void => writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  const { log: _log, out: _out, ...options } = o;
  const result = await runCampaign({
    ...o,
    onTrial: (_r, all) => write({ options, partial: true, summary: summarize(all, (Date.now() - started) / 1000), trials: all }),
  });
  for (const line of summaryLines(result.summary)) o.log(line);
  write(result);
  o.log(`report: ${out}`);
  const failed = (result.summary.outcomes.failed ?? 0) + (result.summary.withoutFault.failed ?? 0);
  return failed > 0 || result.short ? 1 : 0;
}

if (require.main === module) {
  // Interrupted: the servers go with the campaign (runners left behind then fail and exit).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stopAllClusters().finally(() => process.exit(130)));
  }
  main().then(
    async (code) => {
      await stopAllClusters();
      process.exit(code);
    },
    async (error: unknown) => {
      console.error(`faults: ${(error as Error).message}`);
      await stopAllClusters();
      process.exit(2);
    },
  );
}
