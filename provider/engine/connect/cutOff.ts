// Cutting this process off from every server at once: what a runner that lost its lease does
// before anything else (runner/main.ts). From then on no statement leaves it, whichever stage
// would send it (the copy, the schema follow, a resync, the reporter, a catalog write, a pg tool):
// its sessions' sockets are destroyed, what it opens afterwards is refused before it connects, and
// the pg tools it runs are killed. Only the apply's commits carry a check of their own on the
// server (cdc/apply/leaseGuard.ts), for the runner that learns of its loss too late; every other
// write path is stopped here, in the one place every session and tool passes through.
import type { ChildProcess } from 'node:child_process';
import type pg from 'pg';
import { PgferryError } from '../core/errors';

const clients = new Set<pg.Client>();
const tools = new Set<ChildProcess>();
let cutOffFor: Error | undefined;

/** The error a session or a tool is refused with once the process is cut off. */
function refusal(): PgferryError {
  return new PgferryError('RUNNER_CUT_OFF', `this runner reaches no server any more: ${cutOffFor!.message}`, { category: 'internal' });
}

/** Throws when the process is cut off: nothing may be opened or started any more. */
export function refuseWhenCutOff(): void {
  if (cutOffFor) throw refusal();
}

/** Counts a client among the process's own, from before it connects until it ends. */
export function trackClient(client: pg.Client): pg.Client {
  refuseWhenCutOff();
  clients.add(client);
  client.once('end', () => clients.delete(client));
  return client;
}

/** A client that never connected is no longer counted. */
export function untrackClient(client: pg.Client): void {
  clients.delete(client);
}

/** Counts a running pg tool among the process's own until it exits; one started after the cut is killed at once. */
export function trackTool(child: ChildProcess): void {
  if (cutOffFor) {
    child.kill('SIGKILL');
    return;
  }
  tools.add(child);
  child.once('exit', () => tools.delete(child));
}

/**
 * A destroyed socket sends nothing more: a statement still in the client's buffers never leaves,
 * and the server rolls back any transaction the session had open.
 */
function destroy(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  stream?.destroy();
}

/** Cuts the process off from every server, for good; returns how many sessions and tools it ended. */
export function cutOffFromServers(reason: Error): { sessions: number; tools: number } {
  cutOffFor ??= reason;
  const ended = { sessions: clients.size, tools: tools.size };
  for (const client of clients) destroy(client);
  clients.clear();
  // SIGKILL: a pg_restore given time to finish its statement could commit it
  for (const child of tools) child.kill('SIGKILL');
  tools.clear();
  return ended;
}
