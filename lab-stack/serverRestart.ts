// Restarting the Flexible Server after static parameters (shared_preload_libraries, max_wal_senders,
// ...) are set: Azure writes them at once but the server loads them only at its next start, and
// azure-native has no restart resource. This dynamic resource calls the ARM restart action
// (POST .../flexibleServers/{name}/restart, an asynchronous operation) with the token of the
// azure-native provider's own login, and waits for it. It restarts on create and whenever the
// values of the restart-requiring parameters change; it never deletes anything.
import * as pulumi from '@pulumi/pulumi';

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

interface RestartInputs {
  readonly serverId: string;
  readonly parameters: string[];
  readonly token: string;
}

/** POSTs the restart and follows the asynchronous operation to its end (at most 30 minutes). */
async function restartServer(inputs: RestartInputs): Promise<string> {
  const headers = { Authorization: `Bearer ${inputs.token}`, 'Content-Type': 'application/json' };
  const url = `https://management.azure.com${inputs.serverId}/restart?api-version=${RESTART_API_VERSION}`;
  const started = await fetch(url, { method: 'POST', headers, body: '{}' });
  if (started.status !== 200 && started.status !== 202) {
    throw new Error(`restart of ${inputs.serverId} refused: HTTP ${started.status} ${(await started.text()).slice(0, 500)}`);
  }
  const operation = started.headers.get('azure-asyncoperation') ?? started.headers.get('location');
  const deadline = Date.now() + 30 * 60_000;
  while (operation && started.status === 202) {
    if (Date.now() > deadline) throw new Error(`restart of ${inputs.serverId} still running after 30 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const poll = await fetch(operation, { headers });
    if (poll.status === 202) continue;
    const body = (await poll.json().catch(() => ({}))) as { status?: string; error?: { message?: string } };
    if (body.status === undefined || body.status === 'Succeeded') break;
    if (body.status === 'Failed' || body.status === 'Canceled') {
      throw new Error(`restart of ${inputs.serverId} ${body.status.toLowerCase()}: ${body.error?.message ?? 'no reason given'}`);
    }
  }
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
