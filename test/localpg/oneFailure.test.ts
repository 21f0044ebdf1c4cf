// Issue 68: one failure, one report. A failed case's leftovers are told under it and not reported
// again by its suite's after-all check, while a passing case that leaves something still fails that
// check. A mocha process of its own runs test/localpg/fixtures/failingCase.ts with the JSON
// reporter, and its report is read back.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const DIST = path.join(__dirname, '..', '..');
const MOCHA = require.resolve('mocha/bin/mocha.js');

interface Report {
  readonly stats: { readonly passes: number; readonly failures: number };
  readonly failures: { readonly fullTitle: string; readonly err: { readonly message?: string } }[];
}

/** Runs the fixture file in a mocha process of its own; its JSON report and its standard output. */
async function runFixture(): Promise<{ report: Report; stdout: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-one-failure-'));
  try {
    const output = path.join(dir, 'report.json');
    const child = spawn(
      process.execPath,
      [
        MOCHA,
        '--no-config',
        '--timeout',
        '120000',
        '--require',
        path.join(DIST, 'test/support/hooks.js'),
        '--reporter',
        'json',
        '--reporter-option',
        `output=${output}`,
        path.join(DIST, 'test/localpg/fixtures/failingCase.js'),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const text = await fs.readFile(output, 'utf8').catch(() => '');
    assert.ok(text, `the fixture run (exit ${code}) wrote no report; stdout: ${stdout}; stderr: ${stderr}`);
    return { report: JSON.parse(text) as Report, stdout };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

describe('test support: one failure, one report', function () {
  this.timeout(300_000);

  it('a failing case leaving a slot is one failure; a passing case leaving a slot fails its after-all check, naming it', async () => {
    const { report, stdout } = await runFixture();
    const failed = report.failures.map((f) => `${f.fullTitle}: ${f.err.message ?? ''}`);
    assert.equal(report.stats.failures, 2, `two failures, not three:\n${failed.join('\n')}`);
    assert.equal(report.stats.passes, 2);
    const [theCase, theHook] = report.failures;
    assert.equal(theCase?.fullTitle, 'a failing case that leaves a slot fails, leaving a slot');
    assert.equal(theCase?.err.message, 'this case fails on purpose');
    assert.match(theHook?.fullTitle ?? '', /^a passing case that leaves a slot "after all" hook/);
    assert.match(theHook?.err.message ?? '', /the suite left behind: source: replication slot left_by_passing_case$/);
    // what the failed case left was read on its server and told under it
    assert.match(stdout, /the failed test left behind \(not reported again after all\): source: replication slot left_by_failing_case/);
  });
});
