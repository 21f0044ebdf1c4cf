// Issue 64 (trust): the writer fence tells pgferry's sessions by identity, not by name. A client
// that calls itself pgferry's (`pgferry cutover`, `pgferry apply`) and asks for a writable
// transaction (`BEGIN READ WRITE`) is refused on the fenced old source after a cutover with a
// fallback window, and on the fenced target after the fall-back, its row read back absent; the
// reverse stream, which holds the database's apply lock, still writes through the old source's
// fence, and the fall-back completes with every row equal on both servers. The same with a
// non-superuser source user (whom pg_stat_activity hides other roles' sessions from) and a
// managed-like target, as on Azure and RDS: there the reverse stream records its position in a
// table of pgferry's on the old source, which the fall-back's verification leaves out (it once
// stopped the fall-back, reading that table on the new server). The reverse stream's transactions
// are noted in the old source's fence's passes table; the fall-back lifts that fence with its
// table, and the new server's kept fence has one of its own.
import assert from 'node:assert/strict';
import pg from 'pg';
import { isFinalState, requestCutover, requestFallBack, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import {
  fallBackSettles,
  makeReplicationSourceUser,
  onBothTargets,
  pairSpec,
  serverSpec,
  until,
  waitForStatus,
  type Cluster,
  type ServerPair,
} from '../support';
import { tablesAlike } from '../support/windowShop';
import { CONTROL_SCHEMA, fenceNamesOf } from '../../provider/engine/core/names';
import { qualified } from '../../provider/engine/connect/quote';

const DB = 'fence_identity';
const READ_ONLY_SQL_TRANSACTION = '25006';

const SETUP = `
SET ROLE fence_owner;
CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL);
INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 300) g;
GRANT ALL ON items TO fence_app;
RESET ROLE`;

/** The rows of the fence's passes table in `DB` on `cluster`, by the pid each notes; undefined: no such table. */
async function passesPids(cluster: Cluster, migration: string): Promise<number[] | undefined> {
  const table = fenceNamesOf(migration, DB).passes;
  const [there] = await cluster.query<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2) AS ok`,
    [CONTROL_SCHEMA, table],
    DB,
  );
  if (!there!.ok) return undefined;
  return (await cluster.query<{ pid: number }>(`SELECT pid FROM ${qualified(CONTROL_SCHEMA, table)} ORDER BY pid`, [], DB)).map(
    (r) => r.pid,
  );
}

const sameOnBoth = (pair: ServerPair): Promise<boolean> => tablesAlike(pair, DB, ['items']);

/**
 * A client of `server` that names itself `application` (one of pgferry's own names) writes `id` in
 * a BEGIN READ WRITE transaction: refused with 25006 by the fence's trigger, and the row is not there.
 */
async function forgedWriteRefused(server: ServerSpec, application: string, id: number): Promise<void> {
  const client = new pg.Client({ ...server, database: DB, application_name: application });
  await client.connect();
  try {
    await client.query('BEGIN READ WRITE');
    await assert.rejects(
      client.query(`INSERT INTO items VALUES ($1, 'forged')`, [id]),
      (e: { code?: string; message?: string }) => e.code === READ_ONLY_SQL_TRANSACTION && /is fenced by pgferry/.test(e.message ?? ''),
      `a client named "${application}" is refused by the fence`,
    );
    await client.query('ROLLBACK');
  } finally {
    await client.end();
  }
  const there = new pg.Client({ ...server, database: DB });
  await there.connect();
  try {
    const { rows } = await there.query<{ n: number }>('SELECT count(*)::int AS n FROM items WHERE id = $1', [id]);
    assert.equal(rows[0]!.n, 0, `the forged row ${id} is not on ${server.host}:${server.port}`);
  } finally {
    await there.end();
  }
}

describe('the writer fence tells pgferry by identity, not by name (integration)', function () {
  this.timeout(900_000);

  onBothTargets(
    {
      superuser:
        "superuser servers: a client named as pgferry's with BEGIN READ WRITE is refused on the fenced old source and the fenced target, its rows absent, and the reverse stream and the fall-back still leave every row equal on both",
      managed:
        'non-superuser source user, managed-like target: the same client refused on the fenced old source and, after the fall-back onto that old source, on the fenced target, its rows absent, every row equal on both',
    },
    async ({ pair, target, managed, kind }) => {
      await pair.source.query(`CREATE ROLE fence_owner`);
      await pair.source.query(`CREATE ROLE fence_app LOGIN PASSWORD 'app-pw'`);
      await pair.source.query(`CREATE DATABASE ${DB} OWNER fence_owner`);
      await pair.source.query(SETUP, [], DB);
      // the non-superuser kind: the database's and the tables' owner through fence_owner, as the
      // fence needs, and nothing that shows it other roles' sessions (no pg_read_all_stats)
      const source = managed ? await makeReplicationSourceUser(pair.source, DB) : serverSpec(pair.source);
      if (managed) {
        await pair.source.query(`GRANT fence_owner TO migrator; GRANT pg_signal_backend TO migrator`);
        await pair.target.query(`ALTER ROLE ${target.user} REPLICATION`);
      }
      const app = serverSpec(pair.source, { user: 'fence_app', password: 'app-pw' });
      const spec = pairSpec(pair, `fence-identity-${kind}`, [DB], {
        mode: 'Online',
        option: 'Migrate',
        fenceWriters: true,
        fallbackWindow: '1h',
        source,
        target,
      });
      const store = new CatalogConnection(spec.target);
      try {
        await startMigration(spec);
        await waitForStatus(store, spec.migrationName, (s) => s.subState === 'WaitingForCutoverTrigger' || isFinalState(s.state));
        await requestCutover(spec.target, spec.migrationName);
        const cutOver = await waitForStatus(store, spec.migrationName, (s) => isFinalState(s.state));
        assert.equal(cutOver.state, 'Succeeded', cutOver.message);
        await until('the window open', async () =>
          (await fallbackWindows(store, spec.migrationName))[0]?.state === 'Open' ? true : undefined,
        );

        // the old source is fenced: a client calling itself pgferry's does not write there
        await forgedWriteRefused(app, 'pgferry cutover', 900_001);
        await forgedWriteRefused(serverSpec(pair.source), 'pgferry apply', 900_002);

        // the application on the new server; the reverse stream, pgferry's applier, writes through the fence
        await pair.target.query(`INSERT INTO items SELECT g, 'new' || g FROM generate_series(301, 500) g`, [], DB);
        await pair.target.query(`UPDATE items SET v = v || '-u' WHERE id % 7 = 0`, [], DB);
        await pair.target.query(`DELETE FROM items WHERE id % 11 = 0`, [], DB);
        await until('the old source has every write', async () => ((await sameOnBoth(pair)) ? true : undefined), 180_000);
        const noted = await passesPids(pair.source, spec.migrationName);
        assert.ok(
          noted && noted.length > 0,
          `the reverse stream's transactions noted in the old source's passes table: ${JSON.stringify(noted)}`,
        );

        await requestFallBack(spec.target, spec.migrationName);
        const settled = await fallBackSettles(store, spec.migrationName);
        assert.equal(settled.databases[0]!.fallback!.state, 'FellBack', settled.databases[0]!.fallback!.message);
        // the target is fenced now: the same client is refused there
        await forgedWriteRefused(serverSpec(pair.target), 'pgferry apply', 900_003);
        assert.ok(await sameOnBoth(pair), 'every row equal on both servers after the fall-back');
        const [n] = await pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM items WHERE id > 900000', [], DB);
        assert.equal(n!.n, 0, 'no forged row on the old source');
        assert.equal(await passesPids(pair.source, spec.migrationName), undefined, "the old source's fence lifted with its passes table");
        assert.ok(await passesPids(pair.target, spec.migrationName), "the new server's kept fence has its passes table");
      } finally {
        await store.close();
      }
    },
  );
});
