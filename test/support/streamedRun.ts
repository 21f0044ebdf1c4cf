// A migration run in this process while the application writes on its source: the start and the
// end every streaming scenario of the schema follow repeats (cdc/labelRenamed, objectsFollowed,
// keysAndTriggersFollowed, columnsAtCutover, shapeReshaped, eventTrigger...). The scenario's own
// steps and assertions stay in its body, which gets the run once it streams or has ended.
import { runMigration, type MigrationSpec, type MigrationStatus } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { isFinalState } from '../../provider/engine/core/model';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import type { Cluster } from '../../provider/localpg/cluster';
import { makeDatabase, pairSpec, type ServerPair } from './servers';
import { startSourceWriter, type SourceWriter, type WriteTransaction } from './sourceWriter';
import { endIfRunning, waitForStatus } from './wait';

/** What the application writes while the migration runs: `write` in `db` on `source`. */
export interface RunWrites {
  readonly source: Cluster;
  readonly db: string;
  readonly write: WriteTransaction;
}

/** A migration run while the application writes, as its scenario's body gets it. */
export interface StreamedRun {
  /** The spec run. */
  readonly spec: MigrationSpec;
  /** The control catalog on the spec's target. */
  readonly store: CatalogConnection;
  /** runMigration's promise: the migration's final status. */
  readonly running: Promise<MigrationStatus>;
  /** The application on the source, running when the body starts. */
  readonly writer: SourceWriter;
  /** The status once it streams (WaitingForCutoverTrigger) or has ended: the body asserts which. */
  readonly ready: MigrationStatus;
}

/**
 * Runs `spec`, opens the catalog on its target and starts the writer, waits until the migration
 * streams or has ended, then runs `body`; after it, however it ended, stops the writer, cancels the
 * migration if it still runs and closes the catalog.
 */
export async function streamedRun(spec: MigrationSpec, writes: RunWrites, body: (run: StreamedRun) => Promise<void>): Promise<void> {
  const running = runMigration(spec);
  const store = new CatalogConnection(spec.target);
  const writer = startSourceWriter(writes.source, writes.db, writes.write);
  try {
    const ready = await waitForStatus(store, spec.migrationName, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
    await body({ spec, store, running, writer, ready });
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning(spec, running);
    await store.close();
  }
}

/** A quiet-table suite's migration: `db` made on the source from `schema`, which holds `busy (id, n)` with `busyRows` rows. */
export interface QuietTableRun {
  readonly name: string;
  readonly target: ServerSpec;
  readonly db: string;
  readonly schema: string;
  readonly busyRows: number;
}

/**
 * The start the quiet-table suites share (cdc/columnsAtCutover, shapeReshaped, identityQuiet): the
 * database made, migrated online to `target` (overwriteDbsInTarget) while the application bumps one
 * row of `busy` a transaction, so that the stream goes on while another table changes shape.
 */
export async function quietTableRun(pair: ServerPair, run: QuietTableRun, body: (run: StreamedRun) => Promise<void>): Promise<void> {
  await makeDatabase(pair.source, run.db, run.schema);
  const spec = {
    ...pairSpec(pair, run.name, [run.db], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }),
    target: run.target,
  };
  const write: WriteTransaction = (c, n) => c.query('UPDATE busy SET n = n + 1 WHERE id = $1', [1 + (n % run.busyRows)]);
  await streamedRun(spec, { source: pair.source, db: run.db, write }, body);
}
