// A fall-back of a migration with two databases that passes its point of no return in one and
// stops before it in the other (a column the application added and wrote on the new server in that
// one only): the first FellBack, the second Open again with a one-line message telling the user to
// fix the cause and ask again. Asking again with another --resume-forward choice than the first ask
// is refused, nothing changed; asking again with the same one, once the cause is fixed, falls back
// the second database too, and every row of both databases is equal on both servers (read back).
import assert from 'node:assert/strict';
import { isFinalState, requestCutover, requestFallBack, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { fallBackSettles, pairSpec, serverSpec, startPair, until, waitForStatus, type ServerPair } from '../support';

const SETUP = `
CREATE TABLE notes (id int PRIMARY KEY, v text);
INSERT INTO notes SELECT g, 'before' FROM generate_series(1, 50) g;`;

/** Each row of notes on one server as text, every column the server has included. */
async function notes(pair: ServerPair, side: 'source' | 'target', db: string): Promise<string[]> {
  const rows = await pair[side].query<{ r: string }>('SELECT n::text AS r FROM notes AS n ORDER BY id', [], db);
  return rows.map((r) => r.r);
}

/** Waits until the old source holds the row `id` of notes in `db` (the reverse stream applied it). */
async function onOldSource(pair: ServerPair, db: string, where: string): Promise<void> {
  await until(
    `${where} on the old source of ${db}`,
    async () => ((await pair.source.query(`SELECT 1 FROM notes WHERE ${where}`, [], db)).length === 1 ? true : undefined),
    180_000,
  );
}

describe('fallback window: a fall-back that passed in one database and stopped in another', function () {
  this.timeout(900_000);
  let pair: ServerPair;
  let store: CatalogConnection;
  before(async () => {
    pair = await startPair();
    store = new CatalogConnection(serverSpec(pair.target));
  });
  after(async () => {
    await store?.close();
    await pair?.stop();
  });

  it('asked again once the cause is fixed, falls back the database still Open (another --resume-forward choice refused) and every row of both databases is equal on both servers', async () => {
    const name = 'partial-fall-back';
    const [a, b] = ['partial_a', 'partial_b'];
    for (const db of [a, b]) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(SETUP, [], db);
    }
    const spec = pairSpec(pair, name, [a, b], { mode: 'Online', option: 'Migrate', fenceWriters: true, fallbackWindow: '1h' });
    await startMigration(spec);
    await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
    await requestCutover(spec.target, name);
    const cutOver = await waitForStatus(store, name, (s) => isFinalState(s.state));
    assert.equal(cutOver.state, 'Succeeded', cutOver.message);
    await until('both windows open', async () =>
      (await fallbackWindows(store, name)).filter((w) => w.state === 'Open').length === 2 ? true : undefined,
    );

    // writes in both databases; in b only, a column of the new server alone, filled: b's fall-back stops
    await pair.target.query("INSERT INTO notes VALUES (101, 'in the window')", [], a);
    await pair.target.query('ALTER TABLE notes ADD COLUMN extra text', [], b);
    await pair.target.query("INSERT INTO notes VALUES (101, 'in the window', 'x101')", [], b);
    await onOldSource(pair, a, 'id = 101');
    await onOldSource(pair, b, 'id = 101');

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
    const admin = await pair.source.connect(b);
    try {
      await admin.query('BEGIN READ WRITE; ALTER TABLE notes ADD COLUMN extra text; COMMIT');
    } finally {
      await admin.end();
    }
    await pair.target.query("UPDATE notes SET extra = 'x101' WHERE id = 101", [], b);
    await onOldSource(pair, b, "extra = 'x101'");

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
