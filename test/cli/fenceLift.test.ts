// `pgferry fence lift`: the writer fence a migration keeps once it has ended, lifted by the command
// instead of by hand. Two online migrations with a writer fence and a fallback window on one pair:
// one cut over and its window closed (the old source keeps its fence), one cut over and fallen back
// (the new server keeps its fence). On each fenced server a write fails, the command is refused in
// one line while the migration streams or its window is open, then lifts the fence, a write
// succeeds, and nothing of pgferry's is left there; a second run lifts nothing.
import assert from 'node:assert/strict';
import { closeFallbackWindow, isFinalState, requestCutover, requestFallBack, showMigration, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import {
  databaseObjects,
  fallBackSettles,
  pairSpec,
  serverObjects,
  startPair,
  until,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';
import { propertiesFile, runCli } from './helpers';

const CLOSED = 'fl_closed';
const FELL_BACK = 'fl_fell';

const SETUP = `
CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL);
CREATE TABLE notes (id int PRIMARY KEY, item int REFERENCES items);
INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 100) g;
INSERT INTO notes SELECT g, g FROM generate_series(1, 50) g;`;

/** A write on `db` of `cluster` in a new session, plain and as a read-write transaction: the error of each, or 'ok'. */
async function writes(cluster: Cluster, db: string, id: number): Promise<string[]> {
  const tried = [
    `INSERT INTO items VALUES (${id}, 'plain')`,
    `BEGIN READ WRITE; INSERT INTO items VALUES (${id + 1}, 'read write'); COMMIT`,
  ];
  const answers: string[] = [];
  for (const sql of tried)
    answers.push(
      await cluster.query(sql, [], db).then(
        () => 'ok',
        (error: unknown) => (error instanceof Error ? error.message : String(error)),
      ),
    );
  return answers;
}

describe('pgferry fence lift', function () {
  this.timeout(600_000);
  let pair: ServerPair;
  let store: CatalogConnection;

  before(async () => {
    pair = await startPair();
    for (const db of [CLOSED, FELL_BACK]) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(SETUP, [], db);
    }
  });
  after(async () => {
    await store?.close();
    await pair?.stop();
  });

  /** The migration's body with both passwords, and the command's flags for `name` on `server`. */
  function lift(spec: MigrationSpec, server: 'source' | 'target', json = false) {
    const file = propertiesFile({
      properties: {
        SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@${spec.source.user}`,
        SecretParameters: { AdminCredentials: { SourceServerPassword: pair.source.password, TargetServerPassword: pair.target.password } },
        targetDbServerFullyQualifiedDomainName: pair.target.host,
        targetDbServerPort: pair.target.port,
        targetServerUserName: pair.target.user,
        DBsToMigrate: spec.databases,
      },
    });
    return runCli([
      'fence',
      'lift',
      '--name',
      spec.migrationName,
      '--server',
      server,
      '--properties',
      file,
      ...(json ? ['-o', 'json'] : []),
    ]);
  }

  /** Refused in one line naming why, exit 2, and the fence still there. */
  async function refused(spec: MigrationSpec, server: 'source' | 'target', why: RegExp): Promise<void> {
    const result = await lift(spec, server);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.errLines.length, 1, result.stderr);
    assert.match(result.errLines[0]!, new RegExp(`^pgferry fence lift: fence lift: migration "${spec.migrationName}" `));
    assert.match(result.errLines[0]!, why);
    assert.match(result.errLines[0]!, /\[FENCE_LIFT_REFUSED\]$/);
  }

  async function cutOver(name: string, db: string): Promise<MigrationSpec> {
    const spec = pairSpec(pair, name, [db], { mode: 'Online', option: 'Migrate', fenceWriters: true, fallbackWindow: '1h' });
    store ??= new CatalogConnection(spec.target);
    await startMigration(spec);
    await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
    await refused(
      spec,
      'source',
      /is WaitingForUserAction \(WaitingForCutoverTrigger\): while it runs, its fences keep writes from landing on both servers/,
    );
    await requestCutover(spec.target, name);
    const done = await waitForStatus(store, name, (s) => isFinalState(s.state));
    assert.equal(done.state, 'Succeeded', done.message);
    await until('the window open', async () =>
      (await showMigration(spec.target, name))?.databases[0]?.fallback?.state === 'Open' ? true : undefined,
    );
    await refused(
      spec,
      'source',
      new RegExp(`has the fallback window of ${db} Open until .*: writes on the old source would split from the target's; close it first`),
    );
    return spec;
  }

  it("after a cutover whose window closed, the old source's kept fence refuses writes; the command lifts it in one transaction, writes succeed and nothing of pgferry's is left on the source; a second run lifts nothing", async () => {
    const before = await serverObjects(pair.source, [CLOSED]);
    const spec = await cutOver('fl-closed', CLOSED);
    await closeFallbackWindow(spec.target, spec.migrationName);
    await until('the window closed and the runner gone', async () => {
      const s = await showMigration(spec.target, spec.migrationName);
      return s?.databases[0]?.fallback?.state === 'Closed' && s.runner?.alive !== true ? true : undefined;
    });
    const fenced = await writes(pair.source, CLOSED, 1000);
    assert.match(fenced[0]!, /read-only transaction/, 'a plain write meets the read-only default');
    assert.match(fenced[1]!, /fenced/i, "a read-write transaction meets the fence's trigger");

    const result = await lift(spec, 'source', true);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(report.server, 'source');
    assert.deepEqual(
      report.lifted.map((l: { database: string }) => l.database),
      [CLOSED],
    );
    assert.match(report.lifted[0].statements[0], new RegExp(`^ALTER DATABASE "?${CLOSED}"? RESET default_transaction_read_only$`));
    assert.match(report.lifted[0].statements[1], /^DROP FUNCTION IF EXISTS "pgferry"\./);

    assert.deepEqual(await writes(pair.source, CLOSED, 1000), ['ok', 'ok'], 'writes succeed on the old source');
    assert.deepEqual(await serverObjects(pair.source, [CLOSED]), before, 'the source as it was before the migration');
    const shown = await showMigration(spec.target, spec.migrationName);
    assert.equal(shown?.databases[0]?.writerFence, undefined, 'show gives no fence any more');

    const again = await lift(spec, 'source');
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), `migration "${spec.migrationName}" keeps no writer fence on the source: nothing to lift`);
    const onTarget = await lift(spec, 'target');
    assert.equal(onTarget.code, 0, onTarget.stderr);
    assert.match(onTarget.stdout, /keeps no writer fence on the target: nothing to lift/);
  });

  it("after a fall-back, the new server's kept fence refuses writes; the command lifts it, writes succeed there and the database holds what the source's does, nothing of pgferry's", async () => {
    const spec = await cutOver('fl-fell', FELL_BACK);
    await requestFallBack(spec.target, spec.migrationName);
    const settled = await fallBackSettles(store, spec.migrationName);
    assert.equal(settled.databases[0]?.fallback?.state, 'FellBack', settled.databases[0]?.fallback?.message);
    await until('the runner gone', async () =>
      (await showMigration(spec.target, spec.migrationName))?.runner?.alive !== true ? true : undefined,
    );
    const fenced = await writes(pair.target, FELL_BACK, 1000);
    assert.match(fenced[0]!, /read-only transaction/, 'a plain write meets the read-only default');
    assert.match(fenced[1]!, /fenced/i, "a read-write transaction meets the fence's trigger");

    const result = await lift(spec, 'target');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^${FELL_BACK}: writer fence on the target lifted, in one transaction: ALTER DATABASE`));
    assert.deepEqual(await writes(pair.target, FELL_BACK, 1000), ['ok', 'ok'], 'writes succeed on the new server');
    assert.deepEqual(
      await databaseObjects(pair.target, FELL_BACK),
      await databaseObjects(pair.source, FELL_BACK),
      "the new server's database holds what the old source's does, nothing of pgferry's",
    );
    const again = await lift(spec, 'target');
    assert.match(again.stdout, /keeps no writer fence on the target: nothing to lift/);
  });
});
