// Large objects: metadata (owner, ACL) comes with the pre-data schema; contents are read inside
// the copy snapshot and written with lo_put, in parallel batches, chunked for big objects.
import type pg from 'pg';
import type { SessionPair } from '../connect/session';
import { pairedWithTarget, type SnapshotSessions } from '../connect/snapshotSessions';
import type { MigrationSpec } from '../input/migrationSpec';
import { runWorkers, WorkQueue } from '../util/workQueue';
import { stopOnAbort } from '../connect/interrupt';
import { inTransaction } from '../connect/transaction';
import { holdpoint } from '../util/failpoints';

/** Bytes read per lo_get call: bounds memory for objects of any size. */
const CHUNK = 16 * 1024 * 1024;
/** Objects per batch: small objects dominate counts, so batches save round trips. */
const BATCH = 200;

export async function copyLargeObjects(args: {
  spec: MigrationSpec;
  database: string;
  sessions: SnapshotSessions;
  oids: readonly string[];
  signal?: AbortSignal;
}): Promise<{ count: number; bytes: number }> {
  if (args.oids.length === 0) return { count: 0, bytes: 0 };
  const queue = new WorkQueue<string[]>();
  for (let i = 0; i < args.oids.length; i += BATCH) queue.push(args.oids.slice(i, i + BATCH));
  queue.close();
  let bytes = 0;
  await runWorkers<string[], SessionPair>({
    queue,
    concurrency: Math.min(args.spec.tableJobs, args.sessions.size, Math.ceil(args.oids.length / BATCH)),
    signal: args.signal,
    ...pairedWithTarget(args.sessions, args.spec.target, {
      database: args.database,
      purpose: 'lo',
      writable: true,
      settings: { synchronous_commit: 'off' },
    }),
    // a batch may hold gigabytes: a cancel stops its statements on both servers
    work: async (batch, c) => {
      bytes += await stopOnAbort([c.source, c.target], args.signal, () => copyBatch(batch, c));
      // a test kills the runner here, some batches committed and others not
      await holdpoint(`large-objects:${args.database}`);
    },
  });
  return { count: args.oids.length, bytes };
}

/** Which of `oids` (as text) the connected database has as large objects. */
export async function largeObjectsAmong(client: pg.Client, oids: readonly string[]): Promise<Set<string>> {
  const { rows } = await client.query<{ oid: string }>(
    'SELECT oid::int8::text AS oid FROM pg_catalog.pg_largeobject_metadata WHERE oid = ANY ($1::pg_catalog.oid[])',
    [oids],
  );
  return new Set(rows.map((r) => r.oid));
}

/** Copies one batch of large objects in one target transaction; returns the bytes copied. */
async function copyBatch(batch: readonly string[], c: SessionPair): Promise<number> {
  let bytes = 0;
  // Size via a read descriptor (INV_READ reads as of the snapshot); pg_largeobject itself is
  // not readable by every role.
  const { rows } = await c.source.query<{ oid: string; size: string }>(
    `SELECT o::int8::text AS oid, x.size::text AS size
         FROM unnest($1::oid[]) AS o,
              LATERAL (SELECT lo_lseek64(fd, 0, 2) AS size, lo_close(fd) AS closed
                         FROM (SELECT lo_open(o, 262144) AS fd) AS f) AS x`,
    [batch],
  );
  await inTransaction(c.target, async () => {
    for (const row of rows) {
      await c.target.query(`SELECT lo_create($1::oid) WHERE NOT EXISTS (SELECT 1 FROM pg_largeobject_metadata WHERE oid = $1::oid)`, [
        row.oid,
      ]);
      const size = Number(row.size);
      for (let offset = 0; offset < size; offset += CHUNK) {
        const chunk = await c.source.query<{ data: Buffer }>(`SELECT lo_get($1::oid, $2::int8, $3::int4) AS data`, [
          row.oid,
          offset,
          CHUNK,
        ]);
        await c.target.query(`SELECT lo_put($1::oid, $2::int8, $3::bytea)`, [row.oid, offset, chunk.rows[0]!.data]);
        bytes += chunk.rows[0]!.data.length;
      }
    }
  });
  return bytes;
}
