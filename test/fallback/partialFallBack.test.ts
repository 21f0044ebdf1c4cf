// A fall-back of a migration with two databases that passes its point of no return in one and
// stops before it in the other (a column the application added and wrote on the new server in that
// one only): the first FellBack, the second Open again with a one-line message telling the user to
// fix the cause and ask again. Asking again with another --resume-forward choice than the first ask
// is refused, nothing changed; asking again with the same one, once the cause is fixed, falls back
// the second database too, and every row of both databases is equal on both servers (read back).
import assert from 'node:assert/strict';
import { requestFallBack } from '../../provider/engine';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import {
  cutOverWithWindows,
  fallBackSettles,
  NOTES_SETUP,
  onOldSource,
  serverSpec,
  windowRows,
  suiteServers,
  writeReadWrite,
  type ServerPair,
} from '../support';

/** Each row of notes on one server as text, every column the server has included. */
async function notes(pair: ServerPair, side: 'source' | 'target', db: string): Promise<string[]> {
  return (await windowRows(pair[side], db, 'notes'))!;
}

/** Waits until the old source holds the row of notes in `db` that `where` picks (the reverse stream applied it). */
async function onOldSourceWhere(pair: ServerPair, db: string, where: string): Promise<void> {
  await onOldSource(pair, db, `${where} on the old source of ${db}`, `SELECT 1 FROM notes WHERE ${where}`);
}

describe('fallback window: a fall-back that passed in one database and stopped in another', function () {
  this.timeout(900_000);
  const servers = suiteServers();

  it('asked again once the cause is fixed, falls back the database still Open (another --resume-forward choice refused) and every row of both databases is equal on both servers', async () => {
    const { pair, store } = servers;
    const name = 'partial-fall-back';
    const [a, b] = ['partial_a', 'partial_b'];
    await cutOverWithWindows(pair, store, name, [a, b], NOTES_SETUP);

    // writes in both databases; in b only, a column of the new server alone, filled: b's fall-back stops
    await pair.target.query("INSERT INTO notes VALUES (101, 'in the window')", [], a);
    await pair.target.query('ALTER TABLE notes ADD COLUMN extra text', [], b);
    await pair.target.query("INSERT INTO notes VALUES (101, 'in the window', 'x101')", [], b);
    await onOldSourceWhere(pair, a, 'id = 101');
    await onOldSourceWhere(pair, b, 'id = 101');

    await requestFallBack(serverSpec(pair.target), name);
    await fallBackSettles(store, name);
    const first = new Map((await fallbackWindows(store, name)).map((w) => [w.database, w]));
    assert.equal(first.get(a)!.state, 'FellBack', first.get(a)!.message);
    assert.equal(first.get(b)!.state, 'Open', `b stopped before its point of no return: ${first.get(b)!.message ?? ''}`);
    const stop = first.get(b)!.message ?? '';
    assert.ok(!stop.includes('\n'), `one line: ${stop}`);
    assert.match(stop, /^fall-back stopped: /);

    // another choice than the first ask's is refused, b's window unchanged
    await assert.rejects(
      requestFallBack(serverSpec(pair.target), name, { resumeForward: true }),
      /cannot fall back: partial_a fell back without --resume-forward; ask again without it/,
    );
    const refused = (await fallbackWindows(store, name)).find((w) => w.database === b)!;
    assert.equal(refused.state, 'Open');
    assert.equal(refused.fallBackRequested, false, 'the refused ask took no window');

    // the fix: the column made on the old source, its value written again on the new server
    await writeReadWrite(pair.source, b, 'ALTER TABLE notes ADD COLUMN extra text');
    await pair.target.query("UPDATE notes SET extra = 'x101' WHERE id = 101", [], b);
    await onOldSourceWhere(pair, b, "extra = 'x101'");

    await requestFallBack(serverSpec(pair.target), name);
    await fallBackSettles(store, name);
    const again = new Map((await fallbackWindows(store, name)).map((w) => [w.database, w]));
    assert.equal(again.get(a)!.state, 'FellBack');
    assert.equal(again.get(b)!.state, 'FellBack', again.get(b)!.message);
    for (const db of [a, b]) {
      assert.equal((await notes(pair, 'source', db)).length, 51, `every row of ${db} on the old source`);
      assert.deepEqual(await notes(pair, 'source', db), await notes(pair, 'target', db), `every row of ${db} equal on both servers`);
    }
    assert.ok((await notes(pair, 'source', b)).includes('(101,"in the window",x101)'), "b's value on the old source");
  });
});
