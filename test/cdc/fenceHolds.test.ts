// Issue 62, "no write lost at the switch": the writer fence holds whatever the client does. Three
// application sessions write through an online cutover with fenceWriters: one opens every
// transaction with BEGIN READ WRITE, one set SESSION CHARACTERISTICS AS TRANSACTION READ WRITE,
// one reconnects for every write as a role whose own setting turns default_transaction_read_only
// off; each reconnects as soon as the fence ends its session. The cutover Succeeds, every write a
// client was told had committed is on the target (read back, writer by writer), and every write
// tried once the cutover completed failed. On a superuser server and on a managed-like target with
// a non-superuser source user (the same trigger fence: the tables' owner may create it).
import assert from 'node:assert/strict';
import pg from 'pg';
import { isFinalState, requestCutover, startMigration } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import {
  endIfRunning,
  makeReplicationSourceUser,
  onBothTargets,
  pairSpec,
  serverSpec,
  until,
  waitForStatus,
  type ServerPair,
} from '../support';

const DB = 'fence_holds';

/** One application session's loop: what it was told committed, and what failed after a given time. */
interface Writer {
  readonly name: string;
  readonly acked: number[];
  /** Attempts and failures after `after` (the cutover's completion, once known). */
  readonly late: { attempts: number; failures: number; codes: Set<string> };
  after: number;
  stop(): Promise<void>;
}

function appClient(pair: ServerPair): pg.Client {
  const c = new pg.Client({ host: pair.source.host, port: pair.source.port, user: 'fence_app', password: 'app-pw', database: DB });
  c.on('error', () => undefined);
  return c;
}

/**
 * Runs `write` in a loop until stopped. `connect` makes a session ready (its settings made);
 * `fresh`: a new session for every write. A session the fence ends is made again at once.
 */
function startWriter(
  name: string,
  connect: () => Promise<pg.Client>,
  write: (c: pg.Client, n: number) => Promise<unknown>,
  fresh = false,
): Writer {
  let stopping = false;
  const w: Writer = {
    name,
    acked: [],
    late: { attempts: 0, failures: 0, codes: new Set() },
    after: Number.POSITIVE_INFINITY,
    stop: async () => {
      stopping = true;
      await loop;
    },
  };
  const loop = (async () => {
    let client: pg.Client | undefined;
    for (let n = 1; !stopping; n++) {
      const late = Date.now() > w.after;
      if (late) w.late.attempts++;
      try {
        client ??= await connect();
        await write(client, n);
        w.acked.push(n);
      } catch (error) {
        if (late) {
          w.late.failures++;
          w.late.codes.add(String((error as { code?: string }).code ?? (error as Error).message));
        }
        await client?.end().catch(() => undefined);
        client = undefined;
      }
      if (fresh) {
        await client?.end().catch(() => undefined);
        client = undefined;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await client?.end().catch(() => undefined);
  })();
  return w;
}

async function ackedOnTarget(pair: ServerPair, writer: string): Promise<number[]> {
  const rows = await pair.target.query<{ n: number }>('SELECT n FROM acks WHERE writer = $1 ORDER BY n', [writer], DB);
  return rows.map((r) => r.n);
}

describe('the writer fence holds whatever the client does (integration)', function () {
  this.timeout(600_000);

  onBothTargets(
    {
      superuser:
        'superuser servers: BEGIN READ WRITE, SESSION CHARACTERISTICS and a reconnecting role writer: Succeeded, every acknowledged write on the target, writes after the fence refused',
      managed:
        'managed-like target, non-superuser source user: the same writers, Succeeded, every acknowledged write on the target, writes after the fence refused',
    },
    async ({ pair, target, managed }) => {
      await pair.source.query(`CREATE ROLE fence_owner`);
      await pair.source.query(`CREATE ROLE fence_app LOGIN PASSWORD 'app-pw'`);
      await pair.source.query(`CREATE DATABASE ${DB} OWNER fence_owner`);
      await pair.source.query(
        `SET ROLE fence_owner;
         CREATE TABLE acks (writer text NOT NULL, n int NOT NULL, PRIMARY KEY (writer, n));
         CREATE TABLE items (id int PRIMARY KEY, v text NOT NULL);
         INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 500) g;
         GRANT ALL ON acks, items TO fence_app;
         RESET ROLE;
         ALTER ROLE fence_app IN DATABASE ${DB} SET default_transaction_read_only = off`,
        [],
        DB,
      );
      // the managed kind: a non-superuser source user, the database's and the tables' owner through fence_owner
      const source = managed ? await makeReplicationSourceUser(pair.source, DB) : serverSpec(pair.source);
      if (managed) await pair.source.query(`GRANT fence_owner TO migrator; GRANT pg_signal_backend TO migrator`);
      const s = pairSpec(pair, `fence-holds-${managed ? 'm' : 's'}`, [DB], {
        mode: 'Online',
        option: 'Migrate',
        fenceWriters: true,
        source,
        target,
      });
      const store = new CatalogConnection(s.target);
      const writers: Writer[] = [];
      try {
        await startMigration(s);
        const ready = await waitForStatus(
          store,
          s.migrationName,
          (st) => st.subState === 'WaitingForCutoverTrigger' || isFinalState(st.state),
        );
        assert.equal(ready.subState, 'WaitingForCutoverTrigger', ready.message);

        const insert = (writer: string) => (c: pg.Client, n: number) => c.query('INSERT INTO acks VALUES ($1, $2)', [writer, n]);
        writers.push(
          startWriter(
            'read write',
            async () => {
              const c = appClient(pair);
              await c.connect();
              return c;
            },
            async (c, n) => {
              await c.query('BEGIN READ WRITE');
              try {
                await insert('read write')(c, n);
                await c.query(`UPDATE items SET v = $2 WHERE id = $1`, [(n % 500) + 1, `rw${n}`]);
                await c.query('COMMIT');
              } catch (error) {
                await c.query('ROLLBACK').catch(() => undefined);
                throw error;
              }
            },
          ),
          startWriter(
            'characteristics',
            async () => {
              const c = appClient(pair);
              await c.connect();
              await c.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE');
              return c;
            },
            insert('characteristics'),
          ),
          // a new session for every write: its role's own setting makes it writable, whatever the database's
          startWriter(
            'reconnecting',
            async () => {
              const c = appClient(pair);
              await c.connect();
              return c;
            },
            insert('reconnecting'),
            true,
          ),
        );
        await until('every writer committed some', async () => (writers.every((w) => w.acked.length >= 10) ? true : undefined));

        await requestCutover(s.target, s.migrationName);
        const done = await waitForStatus(store, s.migrationName, (st) => !st.cutoverRequested || isFinalState(st.state), 420_000);
        assert.equal(done.state, 'Succeeded', `the cutover did not complete: ${done.state}/${done.subState}: ${done.message}`);
        // the writers go on a while after the cutover: every one of their writes fails
        for (const w of writers) w.after = Date.now();
        await until('each writer tried after the cutover', async () => (writers.every((w) => w.late.attempts >= 5) ? true : undefined));
        for (const w of writers) await w.stop();

        for (const w of writers) {
          const onTarget = await ackedOnTarget(pair, w.name);
          const missing = w.acked.filter((n) => !onTarget.includes(n));
          assert.deepEqual(missing, [], `${w.name}: ${missing.length} of ${w.acked.length} acknowledged writes are not on the target`);
          assert.equal(
            w.late.failures,
            w.late.attempts,
            `${w.name}: ${w.late.attempts - w.late.failures} write(s) succeeded on the fenced source after the cutover`,
          );
          assert.ok(w.late.codes.has('25006'), `${w.name}: refused by the fence (read-only), got ${[...w.late.codes].join(', ')}`);
        }
        // nothing more on the source than on the target either
        const [src] = await pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM acks', [], DB);
        const [tgt] = await pair.target.query<{ n: number }>('SELECT count(*)::int AS n FROM acks', [], DB);
        assert.equal(tgt!.n, src!.n, `acks: ${tgt!.n} rows on the target, ${src!.n} on the source`);
        const [items] = await pair.target.query<{ h: string }>(
          `SELECT md5(string_agg(i::text, ',' ORDER BY id)) AS h FROM items i`,
          [],
          DB,
        );
        const [itemsSrc] = await pair.source.query<{ h: string }>(
          `SELECT md5(string_agg(i::text, ',' ORDER BY id)) AS h FROM items i`,
          [],
          DB,
        );
        assert.equal(items!.h, itemsSrc!.h, 'items: same rows on both');
      } finally {
        for (const w of writers) await w.stop();
        // a cutover that did not complete leaves the migration streaming: canceled, so its own failure is the one told
        await endIfRunning(
          s,
          waitForStatus(store, s.migrationName, (st) => isFinalState(st.state)),
        );
        await store.close();
      }
    },
  );
});
