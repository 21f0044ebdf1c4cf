// The apply's statement pipeline against a real server, on a client in pg's pipeline mode as the
// apply's: how many statements may wait unfinished, bounded by their bytes, and what counts as in
// flight (the apply decodes its next batch only while send() returns at once; a bound of a few
// statements made it wait on every long UPDATE); a COPY sent with its data; and no COMMIT sent
// behind a statement that failed on this side.
import assert from 'node:assert/strict';
import pg from 'pg';
import { StatementPipeline } from '../../provider/engine/cdc/apply/statementPipeline';
import { startCluster, until, type Cluster } from '../support';

const fail = (e: unknown): Error => e as Error;

describe('cdc: statement pipeline bounds (integration)', function () {
  this.timeout(60_000);
  let cluster: Cluster;
  let client: pg.Client;
  before(async () => {
    cluster = await startCluster({ major: 15, label: 'pipeline' });
    client = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, password: cluster.password, pipeline: true });
    await client.connect();
    await client.query('CREATE TABLE piped (id int PRIMARY KEY, v text)');
  });
  after(async () => {
    await client?.end();
    await cluster?.stop();
  });

  it('keeps sending while earlier statements run, up to its statement bound', async () => {
    const pipeline = new StatementPipeline(client, 8, 1024 * 1024);
    const finished: number[] = [];
    // the first waits for a lock another session holds, so it runs until released here, however
    // slow the machine: every send after it must return without waiting for it
    const holder = await cluster.connect();
    try {
      await holder.query('SELECT pg_advisory_lock(7001)');
      await pipeline.send({ text: 'SELECT pg_advisory_xact_lock(7001)' }, fail, () => finished.push(0));
      for (let i = 1; i < 8; i++) await pipeline.send({ text: `SELECT ${i}` }, fail, () => finished.push(i));
      assert.equal(pipeline.inFlight, 8);
      assert.equal(finished.length, 0);
      // the ninth is over the bound: send waits for the oldest, which ends once the lock is let go
      let ninthSent = false;
      const ninth = pipeline.send({ text: 'SELECT 8' }, fail, () => finished.push(8)).then(() => (ninthSent = true));
      await until('the first statement to wait for the lock', async () =>
        (await cluster.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 7001 AND NOT granted`)).length > 0
          ? true
          : undefined,
      );
      assert.equal(ninthSent, false, 'the ninth send waits while the first statement runs');
      await holder.query('SELECT pg_advisory_unlock(7001)');
      await ninth;
      assert.ok(finished.includes(0), 'the ninth send returned once the first statement finished');
    } finally {
      await holder.end();
    }
    await pipeline.idle();
    assert.deepEqual(finished, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('waits for the oldest once the unfinished statements hold more bytes than its budget', async () => {
    const pipeline = new StatementPipeline(client, 64, 1000);
    const finished: string[] = [];
    const padded = (tag: string) => ({ text: `SELECT '${tag}', pg_sleep(0.2), '${'x'.repeat(600)}'` });
    await pipeline.send(padded('a'), fail, () => finished.push('a'));
    assert.equal(pipeline.inFlight, 1, 'one statement over the budget still goes, alone');
    await pipeline.send(padded('b'), fail, () => finished.push('b'));
    // a and b together pass 1000 bytes: b's send returned only once a had finished
    assert.deepEqual(finished, ['a']);
    assert.equal(pipeline.inFlight, 1);
    await pipeline.idle();
    assert.deepEqual(finished, ['a', 'b']);
  });

  it('counts finished statements out of flight without a later send or wait', async () => {
    const pipeline = new StatementPipeline(client, 64, 1024 * 1024);
    for (let i = 0; i < 5; i++) await pipeline.send({ text: `SELECT ${i}` }, fail);
    assert.ok(pipeline.inFlight > 0);
    // nothing awaits the pipeline here: only the statements' own completion lowers the count
    // bounded by a wait far longer than these statements take on a loaded machine
    const deadline = Date.now() + 30_000;
    while (pipeline.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(pipeline.inFlight, 0, 'the apply flushes early only when the target has nothing in flight');
  });

  it('keeps the first failure and fails what was queued behind it', async () => {
    const pipeline = new StatementPipeline(client, 64, 1024 * 1024);
    const ran: number[] = [];
    await pipeline.send({ text: 'BEGIN' }, fail);
    await pipeline.send({ text: 'SELECT 1/0' }, (e) => new Error(`first: ${(e as Error).message}`));
    await pipeline
      .send(
        { text: 'SELECT 2' },
        (e) => new Error(`second: ${(e as Error).message}`),
        () => ran.push(2),
      )
      .catch(() => undefined);
    await assert.rejects(pipeline.idle(), /first: division by zero/);
    assert.deepEqual(ran, []);
    await client.query('ROLLBACK');
  });

  it('loads a COPY sent with its data, and a COPY refused before its data leaves the session answering', async () => {
    const pipeline = new StatementPipeline(client, 64, 1024 * 1024);
    await pipeline.send({ text: 'BEGIN' }, fail);
    const data = Buffer.from('1\tone\n2\ttwo\n3\t\\N\n');
    await pipeline.send({ text: 'COPY public.piped (id, v) FROM STDIN', copyData: data, affects: 3 }, fail);
    await pipeline.send({ text: 'COMMIT', expectCommand: 'COMMIT', commits: true }, fail);
    await pipeline.idle();
    const rows = await cluster.query<{ id: number; v: string | null }>('SELECT id, v FROM public.piped ORDER BY id');
    assert.deepEqual(rows, [
      { id: 1, v: 'one' },
      { id: 2, v: 'two' },
      { id: 3, v: null },
    ]);
    // the server refuses this COPY before reading its data: the data and its end that follow are ignored
    const refused = new StatementPipeline(client, 64, 1024 * 1024);
    await refused.send(
      { text: 'COPY public.missing (id) FROM STDIN', copyData: Buffer.from('4\n') },
      (e) => new Error(`copy: ${(e as Error).message}`),
    );
    await assert.rejects(refused.idle(), /copy: relation "public.missing" does not exist/);
    const { rows: after } = await client.query<{ n: string }>('SELECT count(*) AS n FROM public.piped');
    assert.equal(after[0]!.n, '3');
  });

  it('sends no COMMIT behind a statement that changed other rows than it had to: its transaction is not on the server', async () => {
    await cluster.query("INSERT INTO public.piped VALUES (10, 'kept') ON CONFLICT (id) DO NOTHING");
    const pipeline = new StatementPipeline(client, 64, 1024 * 1024);
    await pipeline.send({ text: 'BEGIN' }, fail);
    await pipeline.send({ text: "INSERT INTO public.piped VALUES (11, 'added')" }, fail);
    // the server runs it (one row changed) but two were expected: a failure this side only
    await pipeline.send(
      { text: "UPDATE public.piped SET v = 'changed' WHERE id = 10", affects: 2 },
      (e) => new Error(`update: ${(e as Error).message}`),
    );
    await pipeline.send({ text: 'COMMIT', expectCommand: 'COMMIT', commits: true }, fail).catch(() => undefined);
    await assert.rejects(pipeline.idle(), /update: changed 1 row\(s\) instead of 2/);
    await client.query('ROLLBACK');
    const rows = await cluster.query<{ id: number; v: string }>('SELECT id, v FROM public.piped WHERE id >= 10 ORDER BY id');
    assert.deepEqual(rows, [{ id: 10, v: 'kept' }]);
  });
});
