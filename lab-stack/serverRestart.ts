// Restarting the Flexible Server after static parameters (shared_preload_libraries, max_wal_senders,
// ...) are set: Azure writes them at once but the server loads them only at its next start, and
// azure-native has no restart resource. This dynamic resource calls the ARM restart action
// (POST .../flexibleServers/{name}/restart, an asynchronous operation) with the token of the
// azure-native provider's own login, and waits for it, trying again while the server is busy (it
// is often still Updating from the parameter writes just before). It restarts on create and
// whenever the values of the restart-requiring parameters change; it never deletes anything.
import * as pulumi from '@pulumi/pulumi';
import { backOff } from 'exponential-backoff';

/** The Microsoft.DBforPostgreSQL API version of the restart action (stable since 2022-12-01). */
const RESTART_API_VERSION = '2024-08-01';

export interface ServerRestartArgs {
  /** The server's ARM id. */
  readonly serverId: pulumi.Input<string>;
  /** `name=value` of every parameter that needs the restart: a change of one restarts again. */
  readonly parameters: pulumi.Input<pulumi.Input<string>[]>;
  /** A bearer token for Azure Resource Manager (secret; azure-native's getClientToken). */
  readonly token: pulumi.Input<string>;
}

export interface RestartInputs {
  readonly serverId: string;
  readonly parameters: string[];
  readonly token: string;
}

/**
 * Error codes with which Flexible Server refuses a restart it can take later: the server is still
 * Updating after the parameter writes just before ("ServerIsNotReady: Restart or Stop Server can
 * only be performed on Started servers ... Current Server State = Updating",
 * hashicorp/terraform-provider-azurerm#29219, seen both on the POST and in the operation it
 * starts), or busy with another operation ("ServerBusy: Server ... is busy with another
 * operation. Please try again later.", Azure/bicep-registry-modules#4451).
 */
// Arrays, not Sets: the provider runs from its serialized text, and Pulumi's closure serializer
// writes a Set without its contents (test/lab-stack/lab.test.ts checks what travels).
const BUSY_CODES: readonly string[] = ['ServerIsNotReady', 'ServerBusy'];

/**
 * HTTP statuses worth another try whatever the body says: 429, which Resource Manager answers when
 * throttling and which resource providers also use "to report a temporary problem ... about the
 * state of the target resource" (Azure Resource Manager, "Request limits and throttling").
 */
const BUSY_STATUSES: readonly number[] = [429];

/** A restart Azure refused or failed; `busy` when a later try can succeed. */
export class RestartError extends Error {
  readonly busy: boolean;
  constructor(message: string, busy: boolean) {
    super(message);
    this.name = 'RestartError';
    this.busy = busy;
  }
}

/** How the restart talks to Azure and waits: the real ones by default, quicker ones in tests. */
export interface RestartIo {
  readonly fetch: typeof fetch;
  /** Between two polls of the operation. */
  readonly pollIntervalMs: number;
  /** How long one restart operation may run. */
  readonly operationTimeoutMs: number;
  /** Tries of the POST while Azure answers busy, and the first wait (doubling up to maxDelayMs). */
  readonly attempts: number;
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  /** Where the retries are reported. */
  readonly log: (line: string) => void;
}

/**
 * Busy answers are retried for about 25 minutes (30 s, 1, 2, 4 min, then every 5 min): a server
 * applying a parameter or a scaling is Updating for minutes, not hours, and the restart has its
 * own 30-minute limit once Azure has taken it.
 */
const AZURE_IO: RestartIo = {
  fetch: (...args) => fetch(...args),
  pollIntervalMs: 10_000,
  operationTimeoutMs: 30 * 60_000,
  attempts: 9,
  firstDelayMs: 30_000,
  maxDelayMs: 5 * 60_000,
  // The dynamic provider's output, which `pulumi up` shows as it shows PgMigration's progress lines.
  log: (line) => process.stdout.write(`${line}\n`),
};

interface AzureErrorBody {
  readonly status?: string;
  readonly error?: { code?: string; message?: string };
}

/** The ARM error (`{ error: { code, message } }`) of a response, when it has one. */
async function errorOf(response: Response): Promise<AzureErrorBody['error'] & { text: string }> {
  const text = await response.text();
  try {
    return { ...(JSON.parse(text) as AzureErrorBody).error, text };
  } catch {
    return { text };
  }
}

/** POSTs the restart once and follows the asynchronous operation to its end. */
async function restartOnce(inputs: RestartInputs, io: RestartIo): Promise<void> {
  const headers = { Authorization: `Bearer ${inputs.token}`, 'Content-Type': 'application/json' };
  const url = `https://management.azure.com${inputs.serverId}/restart?api-version=${RESTART_API_VERSION}`;
  const started = await io.fetch(url, { method: 'POST', headers, body: '{}' });
  if (started.status !== 200 && started.status !== 202) {
    const error = await errorOf(started);
    const busy = BUSY_STATUSES.includes(started.status) || BUSY_CODES.includes(error.code ?? '');
    const reason = error.code ? `${error.code}: ${error.message ?? ''}` : error.text;
    throw new RestartError(`restart of ${inputs.serverId} refused: HTTP ${started.status} ${reason.slice(0, 500)}`, busy);
  }
  const operation = started.headers.get('azure-asyncoperation') ?? started.headers.get('location');
  const deadline = Date.now() + io.operationTimeoutMs;
  while (operation && started.status === 202) {
    if (Date.now() > deadline) throw new RestartError(`restart of ${inputs.serverId} still running after 30 minutes`, false);
    await new Promise((resolve) => setTimeout(resolve, io.pollIntervalMs));
    const poll = await io.fetch(operation, { headers });
    if (poll.status === 202) continue;
    const body = (await poll.json().catch(() => ({}))) as AzureErrorBody;
    if (body.status === undefined || body.status === 'Succeeded') return;
    if (body.status === 'Failed' || body.status === 'Canceled') {
      const code = body.error?.code;
      throw new RestartError(
        `restart of ${inputs.serverId} ${body.status.toLowerCase()}: ${code ? `${code}: ` : ''}${body.error?.message ?? 'no reason given'}`,
        BUSY_CODES.includes(code ?? ''),
      );
    }
  }
}

/**
 * Restarts the server, trying again with exponential back-off (exponential-backoff, as the engine's
 * retries do) while Azure answers that the server is busy; any other refusal fails at once.
 */
export async function restartServer(inputs: RestartInputs, io: RestartIo = AZURE_IO): Promise<string> {
  await backOff(() => restartOnce(inputs, io), {
    numOfAttempts: io.attempts,
    startingDelay: io.firstDelayMs,
    maxDelay: io.maxDelayMs,
    timeMultiple: 2,
    jitter: 'full',
    retry: (error: unknown, attempt: number) => {
      const busy = error instanceof RestartError && error.busy;
      // `attempt` counts the tries made so far; the library asks after the last one too.
      if (busy && attempt < io.attempts) io.log(`${error.message}; trying again (attempt ${attempt + 1} of ${io.attempts})`);
      return busy;
    },
  });
  return new Date().toISOString();
}

/** The outputs kept in state: never the token. */
function outputsOf(inputs: RestartInputs, restartedAt: string): Record<string, unknown> {
  return { serverId: inputs.serverId, parameters: inputs.parameters, restartedAt };
}

const restartProvider: pulumi.dynamic.ResourceProvider = {
  async diff(_id, olds: RestartInputs, news: RestartInputs) {
    // The token differs every run and is not a reason to restart.
    const replaces = olds.serverId !== news.serverId ? ['serverId'] : [];
    const changes = replaces.length > 0 || JSON.stringify(olds.parameters) !== JSON.stringify(news.parameters);
    return { changes, replaces };
  },
  async create(inputs: RestartInputs) {
    return { id: `${inputs.serverId}/restart`, outs: outputsOf(inputs, await restartServer(inputs)) };
  },
  async update(_id, _olds, news: RestartInputs) {
    return { outs: outputsOf(news, await restartServer(news)) };
  },
};

/** A restart of the server, done when created and when its parameters' values change. */
export class ServerRestart extends pulumi.dynamic.Resource {
  declare readonly restartedAt: pulumi.Output<string>;
  constructor(name: string, args: ServerRestartArgs, opts?: pulumi.CustomResourceOptions) {
    super(restartProvider, name, { ...args, token: pulumi.secret(args.token), restartedAt: undefined }, opts);
  }
}
