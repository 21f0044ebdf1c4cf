// Free-standing sequences (owned by no column) the applications change on the new server during a
// fallback window: one renamed (and another made there under its old name), one dropped and made
// again. The window records its free-standing sequences when it opens, by their OID on each server
// (control migration 36), so a fall-back pairs them by those, never by the name alone: the renamed
// one stops it, nothing set, with the rename to make on the old source; once made, the fall-back
// moves each old source's sequence to the value of its own mate, the one made again by its name.
import assert from 'node:assert/strict';
import { cutOverWithWindow, fallBackStopped, fellBackAlike, NOTES_SETUP, suiteServers, writeReadWrite, type ServerPair } from '../support';

/** A sequence's last value on one server. */
async function lastValue(pair: ServerPair, side: 'source' | 'target', db: string, sequence: string): Promise<string> {
  const [row] = await pair[side].query<{ v: string }>(`SELECT last_value::text AS v FROM ${sequence}`, [], db);
  return row!.v;
}

describe('fallback window: free-standing sequences renamed or made again on the new server', function () {
  this.timeout(900_000);
  const servers = suiteServers();

  for (const follow of [true, false]) {
    it(`a fall-back stops naming a sequence renamed on the new server and its rename, the old source unchanged; once renamed there, each old source sequence reads its own mate value back (followSchemaChanges ${follow})`, async () => {
      await renamedAndMadeAgain(follow);
    });
  }

  async function renamedAndMadeAgain(follow: boolean): Promise<void> {
    const { pair, store } = servers;
    const name = `sequence-window-renamed-${follow}`;
    const db = `sequence_window_renamed_${follow}`;
    const setup = `${NOTES_SETUP}
      CREATE SEQUENCE ticket_no; CREATE SEQUENCE voucher_no;
      SELECT setval('ticket_no', 10); SELECT setval('voucher_no', 10);`;
    await cutOverWithWindow(pair, store, name, db, setup, { spec: { followSchemaChanges: follow } });
    // the applications draw on the new server, then rename one and make another under its name,
    // and drop the other and make it again (the same definition), drawing from each
    await pair.target.query(
      `SELECT nextval('ticket_no') FROM generate_series(1, 30);
       ALTER SEQUENCE ticket_no RENAME TO ticket_no_old;
       CREATE SEQUENCE ticket_no;
       SELECT nextval('ticket_no') FROM generate_series(1, 3);
       SELECT nextval('voucher_no') FROM generate_series(1, 30);
       DROP SEQUENCE voucher_no;
       CREATE SEQUENCE voucher_no;
       SELECT setval('voucher_no', 100);
       SELECT nextval('voucher_no') FROM generate_series(1, 5)`,
      [],
      db,
    );

    const message = await fallBackStopped(servers, name);
    assert.match(
      message,
      /sequence public\.ticket_no of the old source is public\.ticket_no_old on the new server \(renamed there in the window, found by its OID; the new server's public\.ticket_no is another sequence, made there since\)/,
    );
    const fix = /fix on the old source: (.*?); then fall back again/.exec(message)?.[1];
    assert.equal(fix, 'ALTER SEQUENCE "public"."ticket_no" RENAME TO "ticket_no_old"', message);
    assert.equal(await lastValue(pair, 'source', db, 'public.ticket_no'), '10', 'the old source unchanged');
    assert.equal(await lastValue(pair, 'source', db, 'public.voucher_no'), '10', 'the old source unchanged');

    // the rename made as printed, and the new server's other sequence made there too
    await writeReadWrite(pair.source, db, `${fix}; CREATE SEQUENCE public.ticket_no`);
    assert.equal((await fellBackAlike(servers, name, db, 'notes')).length, 50);
    assert.equal(await lastValue(pair, 'source', db, 'public.ticket_no_old'), '40', 'the renamed one moved to its mate, found by OID');
    assert.equal(await lastValue(pair, 'source', db, 'public.ticket_no'), '3', 'the one made in the window paired by its name');
    assert.equal(await lastValue(pair, 'source', db, 'public.voucher_no'), '105', 'the one made again moved to the new one');
  }
});
