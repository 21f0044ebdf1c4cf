// Clusters started from the run's cached initdb (provider/localpg/pristine.ts) are distinct servers:
// each has its own system identifier, which the same-server check relies on, and starts again
// after a crash (the WAL it recovers from carries the new identifier too), with every commit it
// acknowledged. Issue 13. The copy's WAL
// segment keeps the cache's holes (what a copy costs is the pages it writes), and still recovers.
// Its superuser's password is a SCRAM secret of one iteration (localpg/scramSecret.ts), still checked.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { compareServers } from '../../provider/engine/validate/sameServer';
import { startCluster, type Cluster } from '../support';

/** Bytes on disk and length of the oldest WAL segment of a data directory. */
async function firstSegment(dataDir: string): Promise<{ allocated: number; size: number }> {
  const walDir = path.join(dataDir, 'pg_wal');
  const name = (await fs.readdir(walDir)).filter((n) => /^[0-9A-F]{24}$/.test(n)).sort()[0]!;
  const stat = await fs.stat(path.join(walDir, name));
  return { allocated: stat.blocks * 512, size: stat.size };
}

async function systemIdentifier(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
  return row!.id;
}

describe('clusters copied from the cached initdb', () => {
  const clusters: Cluster[] = [];
  after(async () => Promise.all(clusters.map((c) => c.stop())));

  for (const major of [15, 13, 16] as const) {
    it(`PostgreSQL ${major}: two copies have their own system identifiers, a sparse WAL segment, are told apart, recover from a crash keeping what was committed just before it, and store the superuser's password with one SCRAM iteration, refusing a wrong one`, async () => {
      assert.ok(process.env.PGFERRY_INITDB_CACHE, 'the run sets PGFERRY_INITDB_CACHE (test/support/hooks.ts)');
      const [a, b] = await Promise.all([startCluster({ major, label: 'copy-a' }), startCluster({ major, label: 'copy-b' })]);
      clusters.push(a, b);
      const segment = await firstSegment(b.dataDir);
      assert.ok(segment.allocated < segment.size / 2, `WAL segment: ${segment.allocated} of ${segment.size} bytes on disk`);
      const [idA, idB] = [await systemIdentifier(a), await systemIdentifier(b)];
      assert.notEqual(idA, idB);
      assert.ok(BigInt(idA) > 0n && BigInt(idB) > 0n, `${idA} ${idB}`);

      const [sa, sb] = [await a.connect(), await b.connect()];
      try {
        assert.equal(await compareServers(sa, sb), 'distinct');
        assert.equal(await compareServers(sa, sa), 'same');
      } finally {
        await Promise.all([sa.end(), sb.end()]);
      }

      // committed just before the crash: the test servers run with synchronous_commit off, and the
      // crash writes the WAL of what they acknowledged first, as a durable server would have
      await a.query('CREATE TABLE kept AS SELECT g FROM generate_series(1, 1000) g');
      await a.crash();
      await a.start();
      assert.deepEqual(await a.query('SELECT count(*)::int AS n FROM kept'), [{ n: 1000 }]);
      assert.equal(await systemIdentifier(a), idA);

      const [stored] = await a.query<{ secret: string }>(`SELECT rolpassword AS secret FROM pg_authid WHERE rolname = 'postgres'`);
      assert.match(stored!.secret, /^SCRAM-SHA-256\$1:/);
      const wrong = new pg.Client({ host: a.host, port: a.port, user: a.user, password: `${a.password}-wrong`, database: 'postgres' });
      await assert.rejects(wrong.connect(), /password authentication failed/);
    });
  }
});
