// The setup every fallback-window test starts from: an online migration of one database, made on
// the source from a script, cut over with a fallback window, returned once the window is Open (the
// reverse stream applies the new server's writes to the old source).
import assert from 'node:assert/strict';
import { isFinalState, requestCutover, startMigration } from '../../provider/engine';
import type { CatalogConnection } from '../../provider/engine/control/connection';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import type { MigrationSpec } from '../../provider/engine/input/migrationSpec';
import { pairSpec, type ServerPair } from './servers';
import { until, waitForStatus } from './wait';

export interface WindowOpenOptions {
  /** The spec's inputs beside the online ones with a one-hour window (e.g. allowReplicaIdentityFull). */
  readonly spec?: Record<string, unknown>;
  /** Done while the migration streams, before its cutover is asked (a table made there, a DBA's on the target). */
  readonly whileStreaming?: (spec: MigrationSpec) => Promise<void>;
}

/**
 * Makes `db` on the source with `setup`, migrates it online with a fallback window of an hour, cuts
 * over (Succeeded, asserted) and waits for the window to be Open. Returns the migration's spec.
 */
export async function cutOverWithWindow(
  pair: ServerPair,
  store: CatalogConnection,
  name: string,
  db: string,
  setup: string,
  options: WindowOpenOptions = {},
): Promise<MigrationSpec> {
  await pair.source.query(`CREATE DATABASE ${db}`);
  await pair.source.query(setup, [], db);
  const spec = pairSpec(pair, name, [db], { mode: 'Online', option: 'Migrate', fenceWriters: true, fallbackWindow: '1h', ...options.spec });
  await startMigration(spec);
  await waitForStatus(store, name, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
  await options.whileStreaming?.(spec);
  await requestCutover(spec.target, name);
  const cutOver = await waitForStatus(store, name, (s) => isFinalState(s.state));
  assert.equal(cutOver.state, 'Succeeded', cutOver.message);
  await until('the window open', async () => ((await fallbackWindows(store, name))[0]?.state === 'Open' ? true : undefined));
  return spec;
}
