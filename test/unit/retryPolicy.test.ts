// The phase policy has no budget: a source away for a maintenance window or a VPN outage of hours
// must not end a migration (safety/longOutage.test.ts shows the copy starting again on real servers).
// Here the same policy with its waits shortened fails many more times than the old budget of eight
// tries allowed, and still reaches the try that works.
import assert from 'node:assert/strict';
import net from 'node:net';
import pg from 'pg';
import { RETRY_POLICIES, retrying } from '../../provider/engine/connect/retry';
import { isRetryable } from '../../provider/engine/connect/sqlstate';

/** The phase policy with its waits in milliseconds instead of seconds. */
const PHASE_SHORT = { ...RETRY_POLICIES.phase, firstDelayMs: 1, maxDelayMs: 2 };

/** A server refusing connections, as a restarting or unreachable one does. */
function refused(): Error {
  return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
}

describe('retry: the phase policy', () => {
  it('goes on past any count of failed tries while the failure is transient, and returns what the try that works returns', async () => {
    let tries = 0;
    const retried: number[] = [];
    const result = await retrying(
      PHASE_SHORT,
      async () => {
        tries += 1;
        if (tries <= 60) throw refused();
        return 'copied';
      },
      { onRetry: (_error, attempt) => retried.push(attempt) },
    );
    assert.equal(result, 'copied');
    assert.equal(tries, 61);
    assert.deepEqual(
      retried,
      Array.from({ length: 60 }, (_, i) => i + 1),
    );
  });

  it('waits 1 s first and at most 30 s between tries, with no count of tries that ends it', () => {
    assert.deepEqual(RETRY_POLICIES.phase, { attempts: Number.POSITIVE_INFINITY, firstDelayMs: 1_000, maxDelayMs: 30_000 });
  });

  it('throws a failure that is not transient at its first try', async () => {
    let tries = 0;
    await assert.rejects(
      retrying(PHASE_SHORT, async () => {
        tries += 1;
        throw Object.assign(new Error('relation "big" does not exist'), { code: '42P01' });
      }),
      /does not exist/,
    );
    assert.equal(tries, 1);
  });

  it('stops trying once its signal is aborted and throws the last failure', async () => {
    const stop = new AbortController();
    let tries = 0;
    await assert.rejects(
      retrying(
        PHASE_SHORT,
        async () => {
          tries += 1;
          if (tries === 5) stop.abort();
          throw refused();
        },
        { signal: stop.signal },
      ),
      /ECONNREFUSED/,
    );
    assert.equal(tries, 5);
  });
});

describe('retry: what is transient', () => {
  it("node-postgres's own connect timeout, from a server that accepts and never answers, is transient", async () => {
    // a listener that takes the connection and says nothing, as a server stopped mid-handshake does
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as net.AddressInfo;
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'nobody', connectionTimeoutMillis: 100 });
    try {
      const error = await client.connect().then(
        () => assert.fail('connected to a listener that never answers'),
        (e: unknown) => e,
      );
      assert.match(String((error as Error).message), /timeout expired/);
      assert.ok(isRetryable(error), 'a connect that timed out is tried again, not the end of the migration');
    } finally {
      await client.end().catch(() => undefined);
      silent.close();
    }
  });
});
