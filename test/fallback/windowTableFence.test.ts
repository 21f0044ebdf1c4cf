// A client that opens every transaction with `BEGIN READ WRITE` (as some drivers do) keeps writing a
// table the application made on the new server in the fallback window, through a fall-back. The
// fall-back's fence is on that table too (footprint/targetFence.ts, the same trigger as on the
// streamed tables), put on before the carry reads its rows, so the client's writes inside the fence
// are refused (25006) and the fall-back completes: the old source's rows equal the new server's,
// the refused writes the only ones missing. The fence comes off the table at a stop before the point
// of no return, and with the kept fence's lift after the fall-back, the user's own trigger on the
// table left as it was. On a superuser target and on a managed-like one (the application logs in as
// its admin, who made the table). Without the fence on the table, the client's rows written after
// the carry are on the new server alone and the verification stops the fall-back.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { isFinalState, liftKeptFences, requestFallBack } from '../../provider/engine';
import { CatalogConnection } from '../../provider/engine/control/connection';
import { fallbackWindows } from '../../provider/engine/control/fallbackWindows';
import { get } from '../../provider/engine/control/store';
import { fenceNamesOf } from '../../provider/engine/core/names';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';
import { cutOverWithWindow, fallBackSettles, onBothTargets, serverSpec, until, type Cluster, type ServerPair } from '../support';
import { heldFile, isHeld, withHoldArmed } from '../support/holdPoints';

const DB = 'window_fence';
const READ_ONLY_SQL_TRANSACTION = '25006';
const SETUP = `
CREATE TABLE notes (id int PRIMARY KEY, v text);
INSERT INTO notes SELECT g, 'before' FROM generate_series(1, 50) g;`;
/** The application's table of the window, and the user's own trigger on it, made alike on both servers. */
const TABLE = 'CREATE TABLE public.orders_new (id int PRIMARY KEY, note text)';
const USERS_TRIGGER =
  'CREATE TRIGGER orders_keep BEFORE UPDATE ON public.orders_new FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A client that inserts a row into the window's table in a `BEGIN READ WRITE` transaction every few tens of milliseconds. */
class ReadWriteWriter {
  /** Rows whose COMMIT succeeded. */
  readonly acknowledged = new Set<number>();
  /** Rows the fence's trigger refused: never written. */
  readonly refused = new Set<number>();
  /** Rows of unknown fate (the session ended under them, a COMMIT that failed): present or absent, alike on both servers. */
  readonly unknown = new Set<number>();
  private stopping = false;
  private loop: Promise<void> | undefined;
  private next = 1000;

  constructor(private readonly server: ServerSpec) {}

  /** How many inserts reached the server's answer: acknowledged or refused. */
  get answered(): number {
    return this.acknowledged.size + this.refused.size;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    let client: pg.Client | undefined;
    while (!this.stopping) {
      const id = ++this.next;
      try {
        if (!client) {
          client = new pg.Client({ ...this.server, database: DB, application_name: 'read-write writer' });
          client.on('error', () => undefined);
          await client.connect();
        }
        await client.query('BEGIN READ WRITE');
        await client.query('INSERT INTO public.orders_new (id) VALUES ($1)', [id]);
        await client.query('COMMIT');
        this.acknowledged.add(id);
      } catch (error) {
        const e = error as { code?: string; message?: string };
        if (e.code === READ_ONLY_SQL_TRANSACTION && /is fenced by pgferry/.test(e.message ?? '')) this.refused.add(id);
        else this.unknown.add(id);
        await client?.end().catch(() => undefined);
        client = undefined;
        await sleep(200);
      }
      await sleep(30);
    }
    await client?.end().catch(() => undefined);
  }
}

/** Runs `sql` as `server`'s user in `DB`, in a `BEGIN READ WRITE` transaction (the old source is fenced). */
async function run(server: ServerSpec, sql: string): Promise<void> {
  const client = new pg.Client({ ...server, database: DB });
  await client.connect();
  try {
    await client.query(`BEGIN READ WRITE; ${sql}; COMMIT`);
  } finally {
    await client.end();
  }
}

/** The ids of the window's table on one server. */
async function ids(cluster: Cluster): Promise<number[]> {
  return (await cluster.query<{ id: number }>('SELECT id FROM public.orders_new ORDER BY id', [], DB)).map((r) => r.id);
}

/** The triggers on the window's table on one server: name, definition and whether enabled, by name. */
async function triggersOn(cluster: Cluster): Promise<string[]> {
  const rows = await cluster.query<{ t: string }>(
    `SELECT tgname || ' ' || tgenabled::text || ' ' || pg_get_triggerdef(oid) AS t FROM pg_trigger
      WHERE tgrelid = 'public.orders_new'::regclass AND NOT tgisinternal ORDER BY tgname`,
    [],
    DB,
  );
  return rows.map((r) => r.t);
}

/** Whether the fall-back's fence trigger (its name, the migration's and the database's) is on the new server's table. */
async function fenceOnTable(pair: ServerPair, migration: string): Promise<boolean> {
  const trigger = fenceNamesOf(migration, DB).trigger;
  return (await triggersOn(pair.target)).some((t) => t.startsWith(`${trigger} `));
}

describe('fallback window: a BEGIN READ WRITE writer into a table made in the window never stalls the fall-back (integration)', function () {
  this.timeout(900_000);

  onBothTargets(
    {
      superuser:
        "superuser target: the fall-back's fence refuses the writer's inserts into the window's table from before the carry, the fall-back completes with the table's rows equal on both servers, the refused writes the only ones missing; the fence comes off the table at a stop and at the kept fence's lift, the user's own trigger kept",
      managed:
        "managed-like target (the application logs in as its admin): the same writer refused inside the fence, the fall-back completes with the table's rows equal on both servers, the refused writes the only ones missing; the fence off the table at a stop and at the lift, the user's own trigger kept",
    },
    async ({ pair, target, managed, kind }) => {
      const name = `window-fence-${kind}`;
      const carried = `fallback-carried:${DB}`;
      const holdDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pgferry-window-fence-'));
      const store = new CatalogConnection(target);
      const writer = new ReadWriteWriter(target);
      try {
        // the reverse stream reads the new server's slot as the target user
        if (managed) await pair.target.query(`ALTER ROLE ${target.user} REPLICATION`);
        const spec = await withHoldArmed(carried, holdDir, () => cutOverWithWindow(pair, store, name, DB, SETUP, { spec: { target } }));
        // the application makes its table on the new server in the window, with a trigger of its own, and writes it
        await run(target, `${TABLE}; ${USERS_TRIGGER}; INSERT INTO public.orders_new (id) SELECT g FROM generate_series(1, 20) g`);
        const usersTrigger = await triggersOn(pair.target);
        assert.equal(usersTrigger.length, 1, JSON.stringify(usersTrigger));
        writer.start();
        await until('the writer writes', async () => (writer.acknowledged.size >= 5 ? true : undefined), 120_000);

        // the old source has no such table: the fall-back stops before its point of no return, the fence off the table
        await requestFallBack(target, name);
        const stopped = await fallBackSettles(store, name);
        assert.equal(stopped.databases[0]!.fallback!.state, 'Open', stopped.databases[0]!.fallback!.message);
        assert.match(
          stopped.databases[0]!.fallback!.message ?? '',
          /^fall-back stopped: table ("public"\."orders_new"|public\.orders_new) /,
        );
        assert.deepEqual(await triggersOn(pair.target), usersTrigger, "the fence off the table at the stop, the user's trigger as it was");
        const afterStop = writer.acknowledged.size;
        await until('the writer writes again', async () => (writer.acknowledged.size >= afterStop + 3 ? true : undefined), 120_000);

        // the user makes the table on the old source; the next fall-back carries its rows, holding after the carry
        await run(serverSpec(pair.source), `${TABLE}; ${USERS_TRIGGER}`);
        await requestFallBack(target, name);
        await until('the runner held after the carry', async () => ((await isHeld(carried, holdDir)) ? true : undefined), 300_000);
        assert.ok(await fenceOnTable(pair, name), "the fall-back's fence is on the window's table");
        const atCarry = writer.answered;
        await until('the writer tried after the carry', async () => (writer.answered >= atCarry + 3 ? true : undefined), 120_000);
        await fs.rm(heldFile(carried, holdDir));

        const settled = await fallBackSettles(store, name);
        await writer.stop();
        const [window] = await fallbackWindows(store, name);
        assert.equal(window!.state, 'FellBack', window!.message);
        const back = await ids(pair.source);
        assert.deepEqual(back, await ids(pair.target), "the window's table alike on both servers");
        for (const id of writer.acknowledged) assert.ok(back.includes(id), `acknowledged row ${id} on the old source`);
        for (const id of writer.refused) assert.ok(!back.includes(id), `refused row ${id} not written`);
        const known = new Set([...Array.from({ length: 20 }, (_, i) => i + 1), ...writer.acknowledged, ...writer.unknown]);
        assert.deepEqual(
          back.filter((id) => !known.has(id)),
          [],
          'every row is the application’s, acknowledged or of unknown fate',
        );
        assert.ok(writer.refused.size >= 3, `the fence refused the writer's inserts inside it: ${writer.refused.size}`);
        assert.equal(settled.databases[0]!.fallback!.state, 'FellBack');

        // the kept fence on the new server lifted: the table as the user left it, its trigger there
        await until('the runner gone', async () => ((await get(store, name))?.runner?.alive !== true ? true : undefined));
        await until('the migration ended', async () => (isFinalState((await get(store, name))!.state) ? true : undefined));
        assert.ok(await fenceOnTable(pair, name), 'the kept fence holds the table after the fall-back');
        await liftKeptFences(spec, 'target');
        assert.deepEqual(await triggersOn(pair.target), usersTrigger, "the fence off the table at the lift, the user's trigger as it was");
        await run(target, 'INSERT INTO public.orders_new (id) VALUES (999999)');
      } finally {
        await writer.stop();
        await store.close();
        await fs.rm(holdDir, { recursive: true, force: true });
      }
    },
  );
});
