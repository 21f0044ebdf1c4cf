// A replication stream on a source nobody writes to: the walsender sends nothing (it pings only a
// client that has not replied for half its wal_sender_timeout, and the stream replies on its own
// timer), and the stream took that silence for a dead connection, ending the session every two
// minutes with a warning and a back-off that grew to 30 s. It now asks for a reply once it has been
// silent half that long. Found by an outside trial: an idle online migration logged
// "CDC connection lost (replication stream silent for 120s)" five times in ten minutes.
import assert from 'node:assert/strict';
import { ReplicationStream } from '../../provider/engine/cdc/receive/stream';
import { publicationName, slotName } from '../../provider/engine/core/names';
import { startPair, until, type ServerPair } from '../support';
import { createSlot, setupDb, stopCdcPair } from './harness';

const SILENCE_MS = 4_000;

describe('cdc: a replication stream on a source without writes (integration)', function () {
  this.timeout(60_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
  });
  after(async () => stopCdcPair(pair));

  it('gets a keepalive for each silence it asks about and stays open past three silences', async () => {
    const f = await setupDb(pair.source, pair.target, 'CREATE TABLE t (id int PRIMARY KEY);');
    const exported = await createSlot(f);
    await exported.release();
    const connection = await ReplicationStream.connect(f.sourceSpec, f.db);
    let keepalives = 0;
    const stream = connection.start(
      {
        slot: slotName(f.migration, f.db),
        publication: publicationName(f.migration, f.db),
        startLsn: exported.consistentLsn,
        silenceMs: SILENCE_MS,
      },
      { xlog: () => undefined, keepalive: () => void keepalives++ },
    );
    let lost: unknown;
    stream.ended.catch((error: unknown) => (lost = error));
    try {
      stream.sendStatus(exported.consistentLsn);
      // each silence of half SILENCE_MS brings one keepalive asked for: three of them span more
      // than the SILENCE_MS a stream that never asks is ended after
      const start = keepalives;
      await until('three keepalives', async () => (lost !== undefined || keepalives >= start + 3 ? true : undefined), 40_000);
      assert.equal(lost, undefined, `the stream was ended: ${String(lost)}`);
      const [slot] = await f.src('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slotName(f.migration, f.db)]);
      assert.equal(slot?.active, true, 'the slot is still streamed');
    } finally {
      await stream.close();
    }
  });
});
