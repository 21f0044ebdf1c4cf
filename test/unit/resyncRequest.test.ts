// `pgferry update --resync TABLE` as input: the table's name (schema.table, or
// database/schema.table, quoted parts keeping dots, slashes and quotes) and the flag beside the
// other update operations. The resync itself, on real servers: test/cdc/newTables.test.ts.
import assert from 'node:assert/strict';
import { parseCli } from '../../provider/cli/input/parse';
import { PgferryError } from '../../provider/engine';
import { parseResyncTable, requestResync } from '../../provider/engine/apiRequests';
import { displayIdent, displayName } from '../../provider/engine/connect/quote';
import type { ServerSpec } from '../../provider/engine/input/migrationSpec';

describe('table resync request: the input', () => {
  it('reads schema.table and database/schema.table, quoted parts as written', () => {
    assert.deepEqual(parseResyncTable('public.orders'), { schema: 'public', name: 'orders' });
    assert.deepEqual(parseResyncTable('shop/public.orders'), { database: 'shop', schema: 'public', name: 'orders' });
    assert.deepEqual(parseResyncTable('"my db"/"We.ird"."a/""b"""'), { database: 'my db', schema: 'We.ird', name: 'a/"b"' });
    for (const bad of ['orders', 'a.b.c', 'db/orders', '.orders', 'public.', '"unclosed.x', 'a/b/c.d', 'public.orders/x']) {
      assert.equal(parseResyncTable(bad), undefined, bad);
    }
  });

  it('reads back a name as messages print it, a newline, a backslash and a quote in it (U&"...")', () => {
    const name = 'we"ird x\nna\\me\u2028';
    assert.deepEqual(parseResyncTable(`${displayIdent('my/db')}/${displayName('a.b', name)}`), { database: 'my/db', schema: 'a.b', name });
    assert.deepEqual(parseResyncTable('U&"a\\+00000A".b'), { schema: 'a\n', name: 'b' });
    for (const bad of ['U&"a\\x".b', 'U&"a\\00".b']) assert.equal(parseResyncTable(bad), undefined, bad);
  });

  it('refuses a name it cannot read in one line that says how a part with a dot, a slash or a quote is written', async () => {
    // refused before any connection: the port is closed
    const target = { host: '127.0.0.1', port: 1, user: 'u', sslMode: 'disable', maintenanceDatabase: 'postgres' } as ServerSpec;
    await assert.rejects(
      requestResync(target, 'm1', `Odd DB ñ-'q" 😀.x/"Sch Ema"."Users"`),
      (error: unknown) =>
        error instanceof PgferryError &&
        error.code === 'RESYNC_TABLE' &&
        !error.message.includes('\n') &&
        /is not a table name .* written in double quotes, its double quotes doubled/.test(error.message),
    );
  });

  it('is an update operation of its own, repeatable', () => {
    const args = parseCli(['update', '--name', 'm1', '--resync', 'public.orders', '--resync', 'shop/app.items']);
    assert.deepEqual(args.resync, ['public.orders', 'shop/app.items']);
    assert.throws(
      () => parseCli(['update', '--name', 'm1', '--resync', 'public.orders', '--cutover']),
      (error: unknown) => error instanceof PgferryError && /give exactly one of .*--resync/.test(error.message),
    );
  });
});
