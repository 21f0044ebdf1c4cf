// `npm run bench -- ...` options (bench/args.ts): each option, the defaults --quick changes, and
// every bad input as one line naming the option with exit code 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseBenchArgs, UsageError, type BenchArgs } from '../../bench/args';

const CPU_JOBS = Math.max(2, Math.min(8, os.cpus().length));
const DEFAULTS: BenchArgs = {
  quick: false,
  jobs: CPU_JOBS,
  rounds: 2,
  offline: true,
  online: true,
  cutover: true,
  fallback: true,
  pooler: true,
  poolerScales: undefined,
  scale: 20,
  wideRows: 500_000,
  pgferrySplitMb: undefined,
  fsyncOff: false,
  tuned: false,
  nativeWithoutOptions: false,
  onlineSeconds: undefined,
  tools: ['pgferry', 'pgcopydb', 'pgcopydb-split', 'pg_dump+pg_restore'],
  warmUp: true,
};

const OPTION_CASES: { args: string[]; want: Partial<BenchArgs> }[] = [
  { args: ['--quick'], want: { quick: true, rounds: 1, scale: 2, wideRows: 50_000, warmUp: false } },
  { args: ['--no-warm-up'], want: { warmUp: false } },
  { args: ['--jobs', '5'], want: { jobs: 5 } },
  { args: ['--jobs=3'], want: { jobs: 3 } },
  { args: ['--rounds', '4'], want: { rounds: 4 } },
  { args: ['--quick', '--rounds', '3'], want: { quick: true, rounds: 3, scale: 2, wideRows: 50_000, warmUp: false } },
  { args: ['--only', 'offline'], want: { online: false, cutover: false, fallback: false, pooler: false } },
  { args: ['--only', 'online'], want: { offline: false } },
  { args: ['--only', 'cutover'], want: { offline: false, online: false, fallback: false, pooler: false } },
  { args: ['--only', 'fallback'], want: { offline: false, online: false, cutover: false, pooler: false } },
  { args: ['--only', 'pooler'], want: { offline: false, online: false, cutover: false, fallback: false } },
  { args: ['--skip-online'], want: { online: false, cutover: false, fallback: false, pooler: false } },
  { args: ['--scale', '1', '--wide-rows', '1000'], want: { scale: 1, wideRows: 1000 } },
  { args: ['--quick', '--scale', '7'], want: { quick: true, rounds: 1, scale: 7, wideRows: 50_000, warmUp: false } },
  { args: ['--online-seconds', '5'], want: { onlineSeconds: 5 } },
  { args: ['--fsync-off'], want: { fsyncOff: true } },
  { args: ['--tuned'], want: { tuned: true } },
  { args: ['--native-without-options'], want: { nativeWithoutOptions: true } },
  { args: ['--tuned', '--fsync-off'], want: { tuned: true, fsyncOff: true } },
  { args: ['--skip', 'cutover,fallback,pooler'], want: { cutover: false, fallback: false, pooler: false } },
  { args: ['--skip', 'offline'], want: { offline: false } },
  { args: ['--only', 'online', '--skip', 'pooler'], want: { offline: false, pooler: false } },
  { args: ['--only', 'online', '--skip', 'online'], want: { offline: false, online: false } },
  { args: ['--tools', 'pgcopydb-split,pgcopydb'], want: { tools: ['pgcopydb-split', 'pgcopydb'] } },
  { args: ['--pgferry-split-mb', '64'], want: { pgferrySplitMb: 64 } },
  { args: ['--tools', 'pgcopydb,pgferry'], want: { tools: ['pgcopydb', 'pgferry'] } },
  {
    args: ['--only', 'pooler', '--pooler-scales', '25,250'],
    want: { offline: false, online: false, cutover: false, fallback: false, poolerScales: [25, 250] },
  },
];

const BAD_CASES: { title: string; args: string[]; line: string }[] = [
  { title: 'an unknown option', args: ['--bogus'], line: 'unknown option --bogus' },
  { title: 'a positional argument', args: ['offline'], line: 'unknown option offline' },
  { title: '--jobs without a value', args: ['--jobs'], line: '--jobs needs a value' },
  { title: '--jobs 0', args: ['--jobs', '0'], line: '--jobs must be a positive integer, got 0' },
  { title: '--rounds not a number', args: ['--rounds', 'two'], line: '--rounds must be a positive integer, got two' },
  { title: '--scale not an integer', args: ['--scale', '1.5'], line: '--scale must be a positive integer, got 1.5' },
  { title: '--wide-rows negative', args: ['--wide-rows', '-3'], line: '--wide-rows must be a positive integer, got -3' },
  { title: '--online-seconds empty', args: ['--online-seconds', ''], line: '--online-seconds must be a positive integer, got ' },
  {
    title: '--pgferry-split-mb a word',
    args: ['--pgferry-split-mb', 'big'],
    line: '--pgferry-split-mb must be a positive integer, got big',
  },
  {
    title: '--only something else',
    args: ['--only', 'both'],
    line: '--only must be offline or online or cutover or fallback or pooler, got both',
  },
  { title: '--only without a value', args: ['--only'], line: '--only needs a value' },
  {
    title: '--tools naming an unknown tool',
    args: ['--tools', 'pgferry,pgloader'],
    line: '--tools must name tools among pgferry, pgcopydb, pgcopydb-split, pg_dump+pg_restore, got pgferry,pgloader',
  },
  {
    title: '--skip naming an unknown benchmark',
    args: ['--skip', 'cutover,drain'],
    line: '--skip must name benchmarks among offline, online, cutover, fallback, pooler, got cutover,drain',
  },
  { title: '--skip naming a benchmark twice', args: ['--skip', 'pooler,pooler'], line: '--skip names a benchmark twice: pooler,pooler' },
  { title: '--skip without a value', args: ['--skip'], line: '--skip needs a value' },
  {
    title: '--pooler-scales not whole numbers',
    args: ['--pooler-scales', '25,2.5'],
    line: '--pooler-scales must be positive whole numbers, comma-separated, got 25,2.5',
  },
  { title: '--tools naming a tool twice', args: ['--tools', 'pgferry,pgferry'], line: '--tools names a tool twice: pgferry,pgferry' },
];

const BENCH = path.join(__dirname, '..', '..', 'bench', 'run.js');

describe('bench options (bench/args.ts)', () => {
  it('without options: the full dataset, two rounds, both benchmarks, jobs from the CPUs', () => {
    assert.deepEqual(parseBenchArgs([]), DEFAULTS);
  });

  for (const c of OPTION_CASES) {
    it(`takes ${c.args.join(' ')}`, () => {
      assert.deepEqual(parseBenchArgs(c.args), { ...DEFAULTS, ...c.want });
    });
  }

  for (const c of BAD_CASES) {
    it(`refuses ${c.title} with one line naming the option`, () => {
      assert.throws(
        () => parseBenchArgs(c.args),
        (error: unknown) => error instanceof UsageError && error.message === c.line,
      );
    });
  }

  it('--help gives the generated help listing every option', () => {
    const { help } = parseBenchArgs(['--help']);
    for (const flag of [
      '--quick',
      '--jobs',
      '--rounds',
      '--only',
      '--skip-online',
      '--scale',
      '--wide-rows',
      '--online-seconds',
      '--fsync-off',
      '--tuned',
      '--native-without-options',
      '--skip',
      '--pgferry-split-mb',
      '--pooler-scales',
    ]) {
      assert.ok(help?.includes(flag), `help lists ${flag}:\n${help}`);
    }
  });

  it('npm run bench -- --bogus exits 2 with one line naming the option, and --help exits 0', () => {
    const bogus = spawnSync(process.execPath, [BENCH, '--bogus'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(bogus.status, 2, bogus.stderr);
    assert.equal(bogus.stdout, '');
    const lines = bogus.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, bogus.stderr);
    assert.match(lines[0]!, /unknown option --bogus/);
    const help = spawnSync(process.execPath, [BENCH, '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /--online-seconds <S>/);
  });
});
