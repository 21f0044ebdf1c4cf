// A DBA's free-standing sequence on the target under a name the source's has: pgferry pairs a
// free-standing sequence by its name only when the target's is the one it restored or made there
// (its known objects and the OID recorded for each), so neither the cutover's copy of the values nor
// a fall-back sets the DBA's.
import assert from 'node:assert/strict';
import { isFinalState, requestCutover, requestFallBack, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import type { MigrationStatus } from '../../provider/engine/core/model';
import { fallBackSettles, pairSpec, type ServerPair, serverSpec, suiteServers, until, waitForStatus } from '../support';

const SETUP = `
CREATE TABLE notes (id int PRIMARY KEY, v text);
INSERT INTO notes SELECT g, 'before' FROM generate_series(1, 50) g;
CREATE SEQUENCE invoice_no START 1000 INCREMENT 5;
SELECT nextval('invoice_no') FROM generate_series(1, 3);`;

/** A sequence's last_value and is_called on one server. */
async function stateOf(pair: ServerPair, side: 'source' | 'target', db: string, sequence: string): Promise<string> {
  const [row] = await pair[side].query<{ v: string }>(`SELECT format('%s %s', last_value, is_called) AS v FROM ${sequence}`, [], db);
  return row!.v;
}

/** Waits for the cutover asked of `name` to stop (streaming on) or end; returns the status then. */
async function cutoverSettles(store: CatalogConnection, name: string): Promise<MigrationStatus> {
  return waitForStatus(store, name, (s) => isFinalState(s.state) || /^cutover stopped/.test(s.message ?? ''));
}

/**
 * The DBA drops the sequence pgferry restored on the target and makes their own under its name, as
 * the source's is defined, and draws from it. The cutover sets no value of it and stops at the
 * schema check naming it; renamed aside as the fix says, pgferry makes the source's there, the next
 * cutover succeeds and a fall-back follows, the DBA's keeping its value on the new server throughout.
 */
async function remadeUnderTheName(pair: ServerPair, store: CatalogConnection): Promise<void> {
  const name = 'dba-seq-remade';
  const db = 'dba_seq_remade';
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(SETUP, [], db);
  const spec = pairSpec(pair, name, [db], { mode: 'Online', option: 'Migrate', fenceWriters: true, fallbackWindow: '1h' });
  await startMigration(spec);
  const streaming = await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
  assert.equal(streaming.subState, 'WaitingForCutoverTrigger', streaming.message);
  await pair.target.query(
    "DROP SEQUENCE invoice_no; CREATE SEQUENCE invoice_no START 1000 INCREMENT 5; SELECT setval('invoice_no', 7775)",
    [],
    db,
  );
  await pair.source.query("SELECT nextval('invoice_no') FROM generate_series(1, 4)", [], db);

  await requestCutover(spec.target, name);
  const stopped = await cutoverSettles(store, name);
  assert.equal(await stateOf(pair, 'target', db, 'invoice_no'), '7775 t', `the DBA's sequence not set (${stopped.message})`);
  assert.equal(stopped.state, 'WaitingForUserAction', stopped.message);
  assert.match(stopped.message ?? '', /^cutover stopped: .*sequence public\.invoice_no: made on the target by someone else/);
  const told = (await catalogEvents(store, name, 100)).map((e) => `${e.level}: ${e.message}`);
  assert.ok(
    told.some((e) =>
      /^warning: cutover: sequence public\.invoice_no \(the source's last_value 1030\) on the target is not the one pgferry/.test(e),
    ),
    told.join('\n'),
  );

  // the printed fix: the DBA's renamed aside; pgferry makes the source's under the name, and its value at the cutover
  const fix = /\(fix: (ALTER SEQUENCE "public"\."invoice_no" RENAME TO "invoice_no_kept");/.exec(stopped.message ?? '')?.[1];
  assert.ok(fix, stopped.message);
  await pair.target.query(fix, [], db);
  await requestCutover(spec.target, name);
  // the status still says the first stop: waited for its end (a second stop would time out, naming it)
  const cutOver = await waitForStatus(store, name, (s) => isFinalState(s.state));
  assert.equal(cutOver.state, 'Succeeded', cutOver.message);
  assert.equal(await stateOf(pair, 'target', db, 'invoice_no'), '1030 t', "the migration's made again with the source's value");
  assert.equal(await stateOf(pair, 'target', db, 'invoice_no_kept'), '7775 t', "the DBA's kept through the cutover");

  await until('the window open', async () => ((await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined));
  await pair.target.query("SELECT nextval('invoice_no') FROM generate_series(1, 2)", [], db);
  await requestFallBack(serverSpec(pair.target), name);
  const settled = await fallBackSettles(store, name);
  assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
  assert.equal(await stateOf(pair, 'source', db, 'invoice_no'), '1040 t', "the migration's moved forward on the old source");
  assert.equal(await stateOf(pair, 'target', db, 'invoice_no_kept'), '7775 t', "the DBA's kept through the fall-back");
  const [absent] = await pair.source.query<{ t: string | null }>("SELECT to_regclass('invoice_no_kept')::text AS t", [], db);
  assert.equal(absent!.t, null, "the DBA's never made on the old source");
}

describe("a DBA's free-standing sequence on the target under the source's name", function () {
  this.timeout(900_000);
  const servers = suiteServers();

  it("a DBA's sequence made again under the name of the migration's, like the source's, is never set: the cutover stops naming it and warns, and once renamed aside the next cutover and a fall-back keep its value", () =>
    remadeUnderTheName(servers.pair, servers.store));
});
