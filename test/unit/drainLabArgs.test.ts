// bench/drainLab options (bench/drainLabArgs.ts): each option, the defaults, and every bad input as
// one line naming the option with exit code 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseDrainLabArgs, UsageError, type DrainLabArgs } from '../../bench/drainLabArgs';

const DEFAULTS: DrainLabArgs = { scale: 10, tx: 5000, clients: 4, native: true, pgferry: true, fsyncOff: false };

const OPTION_CASES: { args: string[]; want: Partial<DrainLabArgs> }[] = [
  { args: ['--scale', '20'], want: { scale: 20 } },
  { args: ['--scale=3'], want: { scale: 3 } },
  { args: ['--tx', '100'], want: { tx: 100 } },
  { args: ['--clients', '8'], want: { clients: 8 } },
  { args: ['--only', 'pgferry'], want: { native: false } },
  { args: ['--only', 'native'], want: { pgferry: false } },
  { args: ['--fsync-off'], want: { fsyncOff: true } },
  { args: ['--scale', '2', '--tx', '50', '--clients', '1', '--fsync-off'], want: { scale: 2, tx: 50, clients: 1, fsyncOff: true } },
];

const BAD_CASES: { title: string; args: string[]; line: string }[] = [
  { title: 'an unknown option', args: ['--bogus'], line: 'unknown option --bogus' },
  { title: 'a positional argument', args: ['native'], line: 'unknown option native' },
  { title: '--scale without a value', args: ['--scale'], line: '--scale needs a value' },
  { title: '--scale 0', args: ['--scale', '0'], line: '--scale must be a positive integer, got 0' },
  { title: '--tx not a number', args: ['--tx', 'many'], line: '--tx must be a positive integer, got many' },
  { title: '--clients not an integer', args: ['--clients', '1.5'], line: '--clients must be a positive integer, got 1.5' },
  { title: '--only something else', args: ['--only', 'both'], line: '--only must be pgferry or native, got both' },
  { title: '--only without a value', args: ['--only'], line: '--only needs a value' },
];

const DRAIN_LAB = path.join(__dirname, '..', '..', 'bench', 'drainLab.js');

describe('drainLab options (bench/drainLabArgs.ts)', () => {
  it('without options: scale 10, 4 clients of 5000 transactions, both consumers', () => {
    assert.deepEqual(parseDrainLabArgs([]), DEFAULTS);
  });

  for (const c of OPTION_CASES) {
    it(`takes ${c.args.join(' ')}`, () => {
      assert.deepEqual(parseDrainLabArgs(c.args), { ...DEFAULTS, ...c.want });
    });
  }

  for (const c of BAD_CASES) {
    it(`refuses ${c.title} with one line naming the option`, () => {
      assert.throws(
        () => parseDrainLabArgs(c.args),
        (error: unknown) => error instanceof UsageError && error.message === c.line,
      );
    });
  }

  it('--help gives the generated help listing every option', () => {
    const { help } = parseDrainLabArgs(['--help']);
    for (const flag of ['--scale', '--tx', '--clients', '--only', '--fsync-off']) {
      assert.ok(help?.includes(flag), `help lists ${flag}:\n${help}`);
    }
  });

  it('node dist/bench/drainLab.js --bogus exits 2 with one line naming the option, and --help exits 0', () => {
    const bogus = spawnSync(process.execPath, [DRAIN_LAB, '--bogus'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(bogus.status, 2, bogus.stderr);
    assert.equal(bogus.stdout, '');
    const lines = bogus.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, bogus.stderr);
    assert.match(lines[0]!, /unknown option --bogus/);
    const help = spawnSync(process.execPath, [DRAIN_LAB, '--help'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /--clients <N>/);
  });
});
