import assert from 'node:assert/strict';
import type pg from 'pg';
import { closeSession, keepSessionsAhead, openSession } from '../../provider/engine/connect/session';
import { endAhead } from '../../provider/engine/connect/sessionsAhead';
import { serverSpec, startCluster, type Cluster } from '../support';
import { until } from '../support/wait';

describe('connect/sessionsAhead: sessions opened ahead of a hold, taken by openSession', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ label: 'sessions-ahead' });
  });
  after(async () => cluster?.stop());

  /** The backend pids of the sessions kept ahead and still idle, as the server lists them. */
  async function aheadPids(): Promise<number[]> {
    const rows = await cluster.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE application_name = 'pgferry cutover ahead' AND datname = 'postgres' ORDER BY pid`,
    );
    return rows.map((r) => r.pid);
  }

  async function pidOf(client: pg.Client): Promise<number> {
    return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  }

  async function setting(client: pg.Client, name: string): Promise<string> {
    return (await client.query<{ value: string }>('SELECT current_setting($1) AS value', [name])).rows[0]!.value;
  }

  it("gives a kept session to openSession with the taker's name and settings, opens another in its place, and ends the idle ones at endAhead", async () => {
    const spec = serverSpec(cluster);
    const key = keepSessionsAhead(spec, 'postgres', 2, 'cutover ahead');
    const taken: pg.Client[] = [];
    try {
      const before = await until('two sessions kept ahead', async () => {
        const pids = await aheadPids();
        return pids.length === 2 ? pids : undefined;
      });
      const writer = await openSession(spec, { database: 'postgres', purpose: 'ahead writer', writable: true });
      taken.push(writer);
      assert.ok(before.includes(await pidOf(writer)), 'the writable session is one opened ahead');
      assert.equal(await setting(writer, 'application_name'), 'pgferry ahead writer');
      assert.equal(await setting(writer, 'default_transaction_read_only'), 'off');
      assert.equal(await setting(writer, 'search_path'), '""');
      const reader = await openSession(spec, { database: 'postgres', purpose: 'ahead reader', readOnly: true });
      taken.push(reader);
      assert.ok(before.includes(await pidOf(reader)), 'the read-only session is the other one opened ahead');
      assert.equal(await setting(reader, 'application_name'), 'pgferry ahead reader');
      assert.equal(await setting(reader, 'transaction_read_only'), 'on');
      await assert.rejects(reader.query('CREATE TABLE refused_ahead (a int)'), /read-only transaction/);
      // both taken: two others are opened in their place while the key is kept
      const replaced = await until('two sessions opened in their place', async () => {
        const pids = await aheadPids();
        return pids.length === 2 ? pids : undefined;
      });
      assert.equal(
        replaced.some((p) => before.includes(p)),
        false,
      );
      // another database's sessions are never taken from these
      const other = await openSession(spec, { database: 'template1', purpose: 'ahead other' });
      taken.push(other);
      assert.equal(replaced.includes(await pidOf(other)), false);
    } finally {
      await endAhead([key]);
      await Promise.all(taken.map((c) => closeSession(c)));
    }
    await until('the idle sessions kept ahead ended', async () => ((await aheadPids()).length === 0 ? true : undefined));
    const fresh = await openSession(spec, { database: 'postgres', purpose: 'after ahead' });
    try {
      assert.equal(await setting(fresh, 'application_name'), 'pgferry after ahead');
      assert.deepEqual(await aheadPids(), []);
    } finally {
      await closeSession(fresh);
    }
  });
});
