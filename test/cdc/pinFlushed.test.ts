// A pin's source half ends with a message past the pinned position, which shows the held apply
// that the position has passed. A walsender (and any logical decoder) reads only flushed WAL, and
// a message written outside a transaction is not flushed by itself: on an idle source it waited
// for the next commit or the background writer's periodic record, and the apply with it, many
// seconds per pin. Read back here with a decoder of the source's own (test_decoding peeks up to the
// flushed position, as a walsender streams), with nothing else committing on the server.
import assert from 'node:assert/strict';
import { readPinPosition } from '../../provider/engine/cdc/pin/sourcePosition';
import { pinMessagePrefix } from '../../provider/engine/core/names';
import { formatLsn, parseLsn } from '../../provider/engine/core/lsn';
import { serverSpec, startCluster, type Cluster } from '../support';

const DB = 'pinned';
const MIGRATION = 'pin-flushed';
const SLOT = 'pin_flushed_peek';

for (const major of [15, 13] as const) {
  describe(`a pin's message on an idle PostgreSQL ${major} source`, function () {
    this.timeout(120_000);
    let cluster: Cluster;
    before(async () => {
      cluster = await startCluster({ major, label: `pin${major}` });
      await cluster.query(`CREATE DATABASE ${DB}`);
      await cluster.query(`SELECT pg_create_logical_replication_slot('${SLOT}', 'test_decoding')`, [], DB);
    });
    after(async () => {
      await cluster?.query(`SELECT pg_drop_replication_slot('${SLOT}')`, [], DB).catch(() => undefined);
      await cluster?.stop();
    });

    it('is decoded past the pinned position as soon as the pin is read, the pinned transaction still open', async () => {
      const pinned = await cluster.connect(DB);
      try {
        const [{ pid }] = (await pinned.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [{ pid: number }];
        await pinned.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        const position = await readPinPosition(pinned, { server: serverSpec(cluster), database: DB, migration: MIGRATION });
        assert.ok(position, 'an idle source has no straggler: the pin is exact');
        const decoded = await cluster.query<{ lsn: string; data: string }>(
          `SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_changes('${SLOT}', NULL, NULL) WHERE data LIKE $1`,
          [`message:%prefix: ${pinMessagePrefix(MIGRATION)},%`],
          DB,
        );
        assert.equal(decoded.length, 1, `one pin message decoded; the source flushed up to ${await flushedLsn(cluster)}`);
        assert.ok(
          parseLsn(decoded[0]!.lsn) >= position.lsn,
          `the message at ${decoded[0]!.lsn} is past the pin at ${formatLsn(position.lsn)}`,
        );
        const [open] = await cluster.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]);
        assert.equal(open?.state, 'idle in transaction', "the pinned session's snapshot is still held");
      } finally {
        await pinned.end();
      }
    });
  });
}

async function flushedLsn(cluster: Cluster): Promise<string> {
  const [row] = await cluster.query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn');
  return row!.lsn;
}
