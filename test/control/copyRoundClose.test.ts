// A copy round is closed only by the runner that opened it. A runner stopped (SIGSTOP, a laptop
// asleep) and woken after losing its lease runs its copy's `finally` before it learns of the loss,
// and so closes "its" round while its successor copies in a round of its own: that write must not
// close the successor's round, or the agents helping the successor would stop claiming its items.
// The close is keyed by the round's snapshot (control/copyRounds.ts closeRound). A runner that knows
// of its loss is cut off (connect/cutOff.ts) and sends the close not at all: shown in a process of
// its own, since the cut is for good. Each step is read back from the control catalog.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { closeRound, openRound, reopenRound } from '../../provider/engine/control/copyRounds';
import { createMigration } from '../../provider/engine/control/store';
import { serverSpec, startCluster, type Cluster } from '../support';

const MIGRATION = 'round-owner';
const DB = 'shop';
/** The exported snapshots of the runner that lost its lease and of its successor. */
const FIRST = '00000003-0000001B-1';
const SECOND = '00000004-0000002C-1';

/** In a process of its own: a catalog statement before the cut, the cut, then the close of the open round (the target in the environment: its password stays out of the process list). */
const SCRIPT = `
const { cutOffFromServers } = require(${JSON.stringify(path.resolve(__dirname, '../../provider/engine/connect/cutOff'))});
const { CatalogConnection } = require(${JSON.stringify(path.resolve(__dirname, '../../provider/engine/control/connection'))});
const { closeRound } = require(${JSON.stringify(path.resolve(__dirname, '../../provider/engine/control/copyRounds'))});
const [migration, database, snapshot] = process.argv.slice(1);
(async () => {
  const store = new CatalogConnection(JSON.parse(process.env.ROUND_TARGET));
  await store.query('SELECT 1');
  cutOffFromServers(new Error('the runner lost its lease (a test)'));
  const refused = await closeRound(store, migration, database, snapshot).then(() => 'sent', (e) => e.code + ': ' + e.message);
  console.log(JSON.stringify({ refused }));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
`;

describe('control: a copy round closed only by the runner that opened it', () => {
  let cluster: Cluster;
  let store: CatalogConnection;
  before(async () => {
    cluster = await startCluster({ label: 'rounds' });
    store = new CatalogConnection(serverSpec(cluster));
    await createMigration(store, { name: MIGRATION, mode: 'Offline', option: 'Migrate', spec: {}, databases: [DB] });
  });
  after(async () => {
    await store?.close();
    await cluster?.stop();
  });

  const openSnapshot = async () => {
    const [row] = await cluster.query<{ snapshot: string | null }>(
      `SELECT copy_round->>'snapshot' AS snapshot FROM pgferry.migration_database WHERE migration = $1 AND database = $2`,
      [MIGRATION, DB],
    );
    return row!.snapshot;
  };

  it("the overdue close of a runner's round leaves its successor's round open; the successor's own close ends it", async () => {
    await openRound(store, MIGRATION, DB, FIRST);
    assert.equal(await openSnapshot(), FIRST, "the first runner's round is open");
    await reopenRound(store, MIGRATION, DB, SECOND);
    assert.equal(await openSnapshot(), SECOND, "the successor's round replaced it");

    await closeRound(store, MIGRATION, DB, FIRST);
    assert.equal(await openSnapshot(), SECOND, "the first runner's late close left the successor's round open");

    await closeRound(store, MIGRATION, DB, SECOND);
    assert.equal(await openSnapshot(), null, "the successor's close ended its round");
  });

  it('a process cut off from the servers sends the close of its own round not at all: refused, the round still open', async () => {
    await openRound(store, MIGRATION, DB, FIRST);
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', SCRIPT, MIGRATION, DB, FIRST], {
      env: { ...process.env, ROUND_TARGET: JSON.stringify(serverSpec(cluster)) },
    });
    const { refused } = JSON.parse(stdout) as { refused: string };
    assert.match(refused, /^RUNNER_CUT_OFF: this runner reaches no server any more: the runner lost its lease \(a test\)$/);
    assert.equal(await openSnapshot(), FIRST, 'the round is still open');
  });
});
