// A test that fails while a fallback window is open leaves a migration Succeeded whose runner still
// holds a reverse stream: a slot and a publication on the new server, an origin on the old source.
// The pair's stop must close that window before its leak check, so the failure is reported once and
// not again as "the suite left behind" (issue 68). Here a window is left open on purpose and the
// pair's own ending step is run: the window is Closed and nothing of the migration is left.
import assert from 'node:assert/strict';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { leftBehind } from '../support/leaks';
import { cutOverWithWindow, endUnfinished, suiteServers } from '../support';

const DB = 'window_left';
const NAME = 'window-left';

describe('test support: a fallback window left open by a test', function () {
  this.timeout(180_000);
  const servers = suiteServers();

  it('is closed before the leak check: the window Closed, its runner gone, no slot, publication or origin left on either server', async () => {
    const { pair, store } = servers;
    await cutOverWithWindow(
      pair,
      store,
      NAME,
      DB,
      'CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items SELECT g, g::text FROM generate_series(1, 100) g',
    );
    const slots = async () => (await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_replication_slots'))[0]!.n;
    assert.equal(await slots(), 1, 'the reverse stream holds its slot on the new server');

    await endUnfinished(pair.target);

    assert.deepEqual(
      (await fallbackWindows(store, NAME)).map((w) => w.state),
      ['Closed'],
    );
    assert.equal(await slots(), 0);
    assert.deepEqual(await leftBehind({ source: pair.source, target: pair.target }), []);
  });
});
