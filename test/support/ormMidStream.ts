// An application's migration tool run on the source while changes stream and the application
// writes: the body the ORM scenarios share (test/cdc/enumWithColumn, test/cdc/retypeEnumSequelize).
// The migration streams one database; once the application writes, the ORM's migration runs on the
// source as one string (one implicit transaction, or the ORM's own BEGIN/COMMIT), the application
// goes on writing with what it made, and then the table's rows are read back equal by md5 on both
// servers, no stream stop is recorded, and the cutover Succeeds. What each ORM made (its type, its
// labels) the scenario reads back itself, between the rows and the cutover (`check`).
import assert from 'node:assert/strict';
import type pg from 'pg';
import { runMigration } from '../../provider/engine';
import { ident } from '../../provider/engine/connect/quote';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { events as catalogEvents } from '../../provider/engine/control/store';
import { isFinalState } from '../../provider/engine/core/model';
import type { MigrationSpec, ServerSpec } from '../../provider/engine/input/migrationSpec';
import type { Cluster } from '../../provider/localpg/cluster';
import { pairSpec, type ServerPair } from './servers';
import { startSourceWriter } from './sourceWriter';
import { cutoverEnd, endIfRunning, until, waitForStatus } from './wait';
import { eventsTold } from './toldEvents';

/** One ORM's migration run mid-stream, and the application around it. */
export interface OrmMidStream {
  /** The migration's name. */
  readonly name: string;
  /** The database streamed, and its table compared by md5 (keyed by `id`). */
  readonly db: string;
  readonly table: string;
  /** The ORM's migration, as it printed it: run on the source in one query. */
  readonly sql: string;
  /** One transaction of the application: `migrated` once the ORM's migration has committed. */
  readonly write: (c: pg.Client, n: number, migrated: boolean) => Promise<unknown>;
  /** What the ORM made, read back once the rows are equal, before the cutover. */
  readonly check: () => Promise<void>;
}

/** A table's rows: their count and the md5 of their text in key order. */
export async function tableContents(cluster: Cluster, db: string, table: string): Promise<string> {
  const [row] = await cluster.query<{ n: string; h: string }>(
    `SELECT count(*)::text AS n, md5(string_agg(r::text, E'\\n' ORDER BY r.id)) AS h FROM ${ident(table)} r`,
    [],
    db,
  );
  return `${row!.n} rows, ${row!.h}`;
}

/** Streams `orm.db` to `target`, runs the ORM's migration while the application writes, and cuts over. */
export async function ormMigrationMidStream(pair: ServerPair, target: ServerSpec, orm: OrmMidStream): Promise<void> {
  const spec: MigrationSpec = {
    ...pairSpec(pair, orm.name, [orm.db], { mode: 'Online', option: 'Migrate', overwriteDbsInTarget: true }),
    target,
  };
  const running = runMigration(spec);
  const store = new CatalogConnection(target);
  const told = () => eventsTold(store, spec.migrationName, 40);
  const contents = (cluster: Cluster) => tableContents(cluster, orm.db, orm.table);
  let migrated = false;
  const writer = startSourceWriter(pair.source, orm.db, (c, n) => orm.write(c, n, migrated));
  try {
    const ready = await waitForStatus(
      store,
      spec.migrationName,
      (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state),
    );
    assert.equal(ready.subState, 'WaitingForCutoverTrigger', `${ready.state}: ${ready.message}`);
    await until('the app writing', async () => (writer.committed() >= 5 ? true : undefined), 60_000, 100);
    await pair.source.query(orm.sql, [], orm.db);
    migrated = true;
    const after = writer.committed();
    await until('the app writing after the migration', async () => (writer.committed() >= after + 20 ? true : undefined), 60_000, 100);
    await writer.stop();
    await until(
      `the target's ${orm.table} as the source's`,
      async () => ((await contents(pair.target)) === (await contents(pair.source)) ? true : undefined),
      90_000,
      500,
    ).catch(async (error: Error) => assert.fail(`${error.message}: ${await contents(pair.target)}\nevents:\n  ${await told()}`));
    await orm.check();
    const stops = (await catalogEvents(store, spec.migrationName, 200)).filter((e) => e.message.includes('streaming stopped'));
    assert.deepEqual(
      stops.map((e) => e.message),
      [],
      'no stream stop',
    );
    const end = await cutoverEnd(store, spec, running);
    assert.equal(end.state, 'Succeeded', `${end.message}\nevents:\n  ${await told()}`);
  } finally {
    await writer.stop().catch(() => undefined);
    await endIfRunning(spec, running);
    await store.close();
  }
}
