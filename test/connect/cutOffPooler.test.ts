// A runner cut off from the servers (its lease lost, connect/cutOff.ts) must not point the user's
// PgBouncer anywhere any more: its successor may be doing so. The pooler's configuration file is
// rewritten by pgferry itself (switchover/pooler.ts pointDatabases), so the cut-off refuses that
// write as it refuses a session. Run in a process of its own (the cut is for good, for the whole
// process); the file is read back after each step.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const INI = `[databases]
shop = host=10.0.0.1 port=5432 dbname=shop

[pgbouncer]
listen_port = 6432
`;

/** In a process of its own: points shop at `first`, cuts the process off, then tries to point it at `second`. */
const SCRIPT = `
const { cutOffFromServers } = require(${JSON.stringify(path.resolve(__dirname, '../../provider/engine/connect/cutOff'))});
const { pointDatabases } = require(${JSON.stringify(path.resolve(__dirname, '../../provider/engine/switchover/pooler'))});
const [file] = process.argv.slice(1);
(async () => {
  const pooler = { host: '127.0.0.1', port: 6432, user: 'pgbouncer', configFile: file };
  await pointDatabases(pooler, new Map([['shop', { host: '10.0.0.2', port: '5433' }]]));
  cutOffFromServers(new Error('the runner lost its lease (a test)'));
  const refused = await pointDatabases(pooler, new Map([['shop', { host: '10.0.0.3', port: '5434' }]])).then(() => 'written', (e) => e.code + ': ' + e.message);
  console.log(JSON.stringify({ refused }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe("the cut-off and the pooler's configuration file", () => {
  it('a process cut off from the servers rewrites the file no more: refused, the file as before the cut, no temporary file left', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-cutoff-pooler-'));
    try {
      const file = path.join(dir, 'pgbouncer.ini');
      await fs.writeFile(file, INI, { mode: 0o640 });
      const { stdout } = await promisify(execFile)(process.execPath, ['-e', SCRIPT, file]);
      const { refused } = JSON.parse(stdout) as { refused: string };
      assert.match(refused, /^RUNNER_CUT_OFF: this runner reaches no server any more: the runner lost its lease \(a test\)$/);
      assert.equal(
        await fs.readFile(file, 'utf8'),
        INI.replace('host=10.0.0.1 port=5432', 'host=10.0.0.2 port=5433'),
        'the write before the cut only',
      );
      assert.deepEqual(await fs.readdir(dir), ['pgbouncer.ini']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
