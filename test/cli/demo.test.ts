// `pgferry demo` as a user runs it: embedded servers, the lab's AdventureWorks sample, an offline
// and an online migration with cutover (through a PgBouncer), exit 0 and no password on the screen.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { runCli } from './helpers';

/**
 * Watches the demo's output for the console's address and reads the grid from it then, while the
 * online migration runs: the migrations the page would list, or the failure.
 */
function readConsoleWhileRunning(child: ChildProcess, seen: { grid?: Promise<string> }): void {
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const url = /console: (http:\/\/127\.0\.0\.1:\d+)\/#token=\S+/.exec(out)?.[1];
    if (url && !seen.grid) seen.grid = fetch(`${url}/api/migrations?filter=all`).then(async (r) => `${r.status} ${await r.text()}`);
  });
}

describe('pgferry demo (end to end)', function () {
  this.timeout(600_000);

  it('migrates the 68 AdventureWorks tables offline, then online with the tutorial row streamed and a shop writing through PgBouncer, and exits 0', async () => {
    const seen: { grid?: Promise<string> } = {};
    const result = await runCli(['demo'], {}, 540_000, (child) => readConsoleWhileRunning(child, seen));
    assert.equal(result.code, 0, `stderr: ${result.stderr}\nstdout: ${result.stdout.slice(-2000)}`);
    assert.match(result.stdout, /source: tables 68 humanresources\.department rows 16/);
    const succeeded = result.stdout.match(/state: Succeeded \/ Completed/g) ?? [];
    assert.equal(succeeded.length, 2, result.stdout);
    const copied = result.stdout.match(/adventureworks: Succeeded, tables 68\/68/g) ?? [];
    assert.equal(copied.length, 2, 'both runs report the 68 tables copied');
    assert.match(result.stdout, /verification: identical \(68 tables compared/);
    assert.match(result.stdout, /"departmentid":17,"name":"Logistics"/);
    assert.match(result.stdout, /humanresources\.department has 17 rows/);
    // the online part cut over through its PgBouncer, the shop writing through it across the cutover
    assert.match(result.stdout, /cutover: through the pooler: PgBouncer pauses/);
    assert.match(
      result.stdout,
      /application: \d+ carts written through the pooler on one connection, no error; its connection kept and now on the target/,
    );
    assert.match(result.stdout, /target: (\d+) of the \1 carts written through the pooler are there once each\n/);
    assert.doesNotMatch(result.stdout + result.stderr, /demo-shop-pw|demo-pooler-admin-pw/);
    assert.doesNotMatch(result.stdout + result.stderr, /postgres-test-pw/);
    // the console was reachable during the online part and listed both migrations
    assert.ok(seen.grid, `no console address in the output: ${result.stdout.slice(-2000)}`);
    const grid = await seen.grid;
    assert.match(grid, /^200 /);
    assert.match(grid, /"name":"offlinemigration"/);
    assert.match(grid, /"name":"onlinemigration","mode":"Online"/);
  });
});
