// Issue 14's campaign, seed 2260759369: the source restarted (immediate, as a crash) just after the
// cutover dropped the publication there, and the publication came back: the server ran with
// synchronous_commit off, so the drop's commit was not yet on disk, while the target already
// recorded the database as released. pgferry's writable sessions now commit durably whatever the
// server's default (connect/session.ts), keeping a stricter setting and a session's own choice.
import assert from 'node:assert/strict';
import { withSession } from '../../provider/engine/connect/session';
import { serverSpec, startCluster, type Cluster } from '../support';

describe("safety: pgferry's own commits are durable on a server that defaults to synchronous_commit off (issue 14, seed 2260759369)", function () {
  this.timeout(60_000);
  let server: Cluster;
  const setting = (options: Parameters<typeof withSession>[1]) =>
    withSession(
      serverSpec(server),
      options,
      async (c) => (await c.query<{ v: string }>('SELECT current_setting($1) AS v', ['synchronous_commit'])).rows[0]!.v,
    );

  before(async () => {
    server = await startCluster({ label: 'durable', settings: { synchronous_commit: 'off' } });
    await server.query('CREATE DATABASE strict');
    await server.query('ALTER DATABASE strict SET synchronous_commit = remote_apply');
  });
  after(async () => server?.stop());

  it('a writable session commits with synchronous_commit on; a reading session keeps the default', async () => {
    assert.equal(await setting({ purpose: 'reads' }), 'off', "the server's default, read back");
    assert.equal(await setting({ purpose: 'cleanup', writable: true }), 'on');
  });

  it("keeps a stricter database setting and a session's own choice", async () => {
    assert.equal(await setting({ purpose: 'cleanup', database: 'strict', writable: true }), 'remote_apply');
    assert.equal(await setting({ purpose: 'copy', writable: true, settings: { synchronous_commit: 'off' } }), 'off');
  });
});
