// The demo's application behind a pooler: a local PgBouncer (provider/localpg/pgbouncer.ts) in front
// of the source's sample database, and a shop that puts items in shopping carts through it on one
// connection it never closes, one INSERT after another, each cart's id kept once the server said it
// committed and every error kept. The online migration names the PgBouncer as its `pooler`, so the
// cutover pauses the shop's statements and resumes them on the target, on the same connection.
import type pg from 'pg';
import { ident, literal } from '../engine';
import { startPgBouncer, type PgBouncer } from '../localpg/pgbouncer';

/** The shop's login on both servers, and its password (a throwaway server's, shown nowhere). */
const APP_USER = 'demo_shop';
const APP_PASSWORD = 'demo-shop-pw';
/** The shopping cart ids the shop writes, so they are told from the sample's own rows. */
export const POOLED_CART_PREFIX = 'pooled-';

/** Where a query runs: a server of the demo, as the superuser. */
interface Server {
  readonly input: Readonly<Record<string, unknown>>;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<R[]>;
}

/**
 * Creates the shop's login on both servers (a DBA makes an application's login on the new server
 * ahead of a move: pgferry migrates databases, not roles) and grants it what it writes on the
 * source, which the migration carries to the target with the rest of the database's grants.
 */
async function createShopLogin(source: Server, target: Server, database: string): Promise<void> {
  for (const server of [source, target]) await server.query(`CREATE ROLE ${ident(APP_USER)} LOGIN PASSWORD ${literal(APP_PASSWORD)}`);
  await source.query(
    `GRANT USAGE ON SCHEMA sales TO ${ident(APP_USER)};
     GRANT SELECT, INSERT ON sales.shoppingcartitem TO ${ident(APP_USER)};
     GRANT USAGE ON SEQUENCE sales.shoppingcartitem_shoppingcartitemid_seq TO ${ident(APP_USER)};`,
    [],
    database,
  );
}

/** The shop writing through the pooler, and what it saw. */
export class PooledShop {
  /** The carts whose INSERT committed, in order. */
  readonly committed: string[] = [];
  /** Every error the shop's connection or statements met. */
  readonly errors: string[] = [];
  private stopping = false;
  private running: Promise<void> = Promise.resolve();

  private constructor(
    readonly pooler: PgBouncer,
    /** The shop's one connection, through the pooler, open from its start to close(). */
    readonly client: pg.Client,
    private readonly productId: number,
  ) {
    client.on('error', (error) => this.errors.push(`connection: ${error.message}`));
  }

  /** Starts the pooler in front of `database` on the source and connects the shop through it. */
  static async open(source: Server, target: Server, database: string): Promise<PooledShop> {
    await createShopLogin(source, target, database);
    const address = { host: String(source.input.host), port: Number(source.input.port) };
    // transaction pooling, DISCARD ALL between clients, SCRAM against its auth_file: startPgBouncer's defaults
    const pooler = await startPgBouncer({ databases: { [database]: address }, users: { [APP_USER]: APP_PASSWORD } });
    try {
      const client = await pooler.connect(database, APP_USER, APP_PASSWORD);
      const [{ id }] = (await source.query('SELECT min(productid) AS id FROM production.product', [], database)) as [{ id: number }];
      return new PooledShop(pooler, client, id);
    } catch (error) {
      await pooler.stop();
      throw error;
    }
  }

  /** The migration's `pooler` input: the admin console's address and login, and the file it repoints. */
  poolerInput() {
    return {
      host: this.pooler.host,
      port: this.pooler.port,
      user: this.pooler.adminUser,
      password: this.pooler.adminPassword,
      configFile: this.pooler.configFile,
    };
  }

  /** Puts one item in a new cart after another, a few milliseconds apart, until stopWriting. */
  startWriting(): void {
    this.running = (async () => {
      for (let n = 1; !this.stopping; n++) {
        const cart = `${POOLED_CART_PREFIX}${n}`;
        try {
          await this.client.query('INSERT INTO sales.shoppingcartitem (shoppingcartid, productid) VALUES ($1, $2)', [cart, this.productId]);
          this.committed.push(cart);
        } catch (error) {
          this.errors.push(`${cart}: ${(error as Error).message}`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
  }

  /** Stops after the write in flight; the connection stays open. */
  async stopWriting(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  /** The port of the server the shop's session runs on now, asked on its one connection. */
  async serverPort(): Promise<number> {
    const { rows } = await this.client.query<{ port: number }>('SELECT inet_server_port() AS port');
    return Number(rows[0]!.port);
  }

  async close(): Promise<void> {
    await this.stopWriting();
    await this.client.end().catch(() => undefined);
    await this.pooler.stop();
  }
}
