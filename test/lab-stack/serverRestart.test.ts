// server-restart's exchange with Azure Resource Manager, against a stand-in for fetch: the POST of
// the restart action, the asynchronous operation it starts, and the retries while the server is
// busy. The answers are the ones Azure documents or was seen giving, cited where they are built.
import assert from 'node:assert/strict';
import { restartServer, RestartError, type RestartInputs, type RestartIo } from '../../lab-stack/serverRestart';

const SERVER_ID = '/subscriptions/0000/resourceGroups/lab-rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/pg';
const INPUTS: RestartInputs = { serverId: SERVER_ID, parameters: ['shared_preload_libraries=pg_stat_statements'], token: 'tok' };
const OPERATION =
  'https://management.azure.com/subscriptions/0000/providers/Microsoft.DBforPostgreSQL/locations/westeurope/azureAsyncOperation/op-1';

/** An ARM error response: `{ error: { code, message } }`. */
function armError(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ error: { code, message } }), { status, headers: { 'content-type': 'application/json' } });
}

/** 202 Accepted with the Azure-AsyncOperation header to poll (ARM's asynchronous operations). */
function accepted(): Response {
  return new Response(null, { status: 202, headers: { 'azure-asyncoperation': OPERATION } });
}

function operationStatus(status: string, error?: { code: string; message: string }): Response {
  return new Response(JSON.stringify({ status, ...(error ? { error } : {}) }), { status: 200 });
}

// hashicorp/terraform-provider-azurerm#29219: the restart refused while the server is Updating.
const NOT_READY = {
  code: 'ServerIsNotReady',
  message: 'Restart or Stop Server can only be performed on Started servers. Sever Name = pg, Current Server State = Updating',
};

/** A fetch that answers POSTs and polls from two scripts, and records what it was asked. */
function scriptedIo(posts: Array<() => Response>, polls: Array<() => Response> = []): { io: RestartIo; calls: string[]; logged: string[] } {
  const calls: string[] = [];
  const logged: string[] = [];
  const io: RestartIo = {
    fetch: async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      calls.push(`${init?.method ?? 'GET'} ${url}`);
      const next = init?.method === 'POST' ? posts.shift() : polls.shift();
      if (!next) throw new Error(`unexpected request ${url}`);
      return next();
    },
    pollIntervalMs: 1,
    operationTimeoutMs: 60_000,
    attempts: 4,
    firstDelayMs: 1,
    maxDelayMs: 4,
    log: (line) => logged.push(line),
  };
  return { io, calls, logged };
}

describe('lab-stack server-restart against Azure Resource Manager answers', () => {
  it('POSTs the restart action and follows its asynchronous operation', async () => {
    const { io, calls } = scriptedIo([accepted], [() => new Response(null, { status: 202 }), () => operationStatus('Succeeded')]);
    await restartServer(INPUTS, io);
    assert.deepEqual(calls, [
      `POST https://management.azure.com${SERVER_ID}/restart?api-version=2024-08-01`,
      `GET ${OPERATION}`,
      `GET ${OPERATION}`,
    ]);
  });

  it('tries again while the server is Updating, on the POST and in the operation', async () => {
    const { io, calls, logged } = scriptedIo(
      [() => armError(409, NOT_READY.code, NOT_READY.message), accepted, accepted],
      [() => operationStatus('Failed', NOT_READY), () => operationStatus('Succeeded')],
    );
    await restartServer(INPUTS, io);
    assert.equal(calls.filter((c) => c.startsWith('POST')).length, 3, 'refused, failed busy, then done');
    assert.equal(logged.length, 2);
    assert.match(logged[0]!, /refused: HTTP 409 ServerIsNotReady: .*; trying again \(attempt 2 of 4\)$/);
    assert.match(logged[1]!, /failed: ServerIsNotReady: .*; trying again \(attempt 3 of 4\)$/);
  });

  it('tries again on ServerBusy and on 429', async () => {
    // Azure/bicep-registry-modules#4451: "Server ... is busy with another operation. Please try again later."
    // 429: Resource Manager's throttling, also a resource provider's temporary refusal ("Request limits and throttling").
    const { io, calls } = scriptedIo(
      [
        () => armError(409, 'ServerBusy', "Server 'pg' is busy with another operation. Please try again later."),
        () => armError(429, 'TooManyRequests', 'throttled'),
        () => new Response(null, { status: 200 }),
      ],
      [],
    );
    await restartServer(INPUTS, io);
    assert.equal(calls.length, 3);
  });

  it('fails at once on any other refusal, naming the code', async () => {
    const { io, calls } = scriptedIo([() => armError(403, 'AuthorizationFailed', 'no permission to restart')]);
    await assert.rejects(restartServer(INPUTS, io), (error: unknown) => {
      assert.ok(error instanceof RestartError && !error.busy);
      assert.match(error.message, /refused: HTTP 403 AuthorizationFailed: no permission to restart/);
      return true;
    });
    assert.equal(calls.length, 1, 'no retry');
  });

  it('gives up after its attempts with the last busy answer', async () => {
    const { io, calls, logged } = scriptedIo(Array.from({ length: 4 }, () => () => armError(409, NOT_READY.code, NOT_READY.message)));
    await assert.rejects(restartServer(INPUTS, io), /refused: HTTP 409 ServerIsNotReady: .*Current Server State = Updating/);
    assert.equal(calls.length, 4);
    assert.equal(logged.length, 3, 'no "trying again" after the last try');
  });
});
