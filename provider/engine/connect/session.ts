// Every session pgferry opens, on either server, comes from here: one set of pinned settings, so
// that no database or role default (ALTER DATABASE ... SET search_path, DateStyle, a read-only
// default, row_security ...) can change what a session reads, writes or prints.
import type pg from 'pg';
import { openClient } from './client';
import { displayIdent, literal } from './quote';
import { SNAPSHOT_GONE_CODES, sqlState } from './sqlstate';
import { causesOf, errorMessage, PgferryError } from '../core/errors';
import type { ServerSpec } from '../input/migrationSpec';
import { trace } from '../util/trace';
import { aheadKey, keepAhead, takeAhead } from './sessionsAhead';

/**
 * Settings every session pins, as pg_dump pins them for its own session:
 * - `search_path` empty (pg_catalog only): names in catalog output (pg_get_indexdef, regclass
 *   text, pgoutput values) come out schema-qualified, and every statement pgferry sends names its
 *   objects fully, so a user schema placed first by `ALTER DATABASE ... SET search_path` can neither
 *   break a value nor bind an expression to another function.
 * - the settings that change how values print or parse (DateStyle, IntervalStyle,
 *   extra_float_digits, bytea_output, xmloption, lc_monetary, TimeZone, standard_conforming_strings):
 *   identical text on both ends of a text COPY, a checksum and the apply path.
 * - `row_security = off`: a user whom a policy would filter gets an error instead of fewer rows
 *   (pg_dump's rule), so nothing is copied, streamed or verified short.
 * - no statement, lock or idle timeout inherited from a role or database default: a copy or an
 *   apply transaction may legitimately run or wait for hours. DDL on the source sets its own.
 */
const PINNED_SETTINGS: readonly (readonly [name: string, value: string])[] = [
  ['search_path', ''],
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['extra_float_digits', '3'],
  ['bytea_output', 'hex'],
  ['xmloption', 'content'],
  ['lc_monetary', 'C'],
  ['TimeZone', 'UTC'],
  ['standard_conforming_strings', 'on'],
  ['row_security', 'off'],
  ['statement_timeout', '0'],
  ['lock_timeout', '0'],
  ['idle_in_transaction_session_timeout', '0'],
];

/**
 * Every session's application_name starts so (`pgferry <purpose>`), which names pgferry's sessions
 * to whoever reads pg_stat_activity; it proves nothing, since a client may take the same name.
 */
export const APPLICATION_NAME_PREFIX = 'pgferry ';

export interface SessionOptions {
  /** Database to connect to; the server spec's maintenance database by default. */
  readonly database?: string;
  /** What the session is for; it becomes the application_name `pgferry <purpose>`. */
  readonly purpose: string;
  /** A logical replication connection (`replication=database`). */
  readonly replication?: boolean;
  /** The session changes the server: a database that defaults to read-only transactions is overridden. */
  readonly writable?: boolean;
  /** Every transaction of the session is READ ONLY (validation: cannot change a server even by mistake). */
  readonly readOnly?: boolean;
  /** Opens a REPEATABLE READ READ ONLY transaction that sees exactly this exported snapshot. */
  readonly snapshot?: string;
  /** Further settings for this session (e.g. synchronous_commit), applied after the pinned ones. */
  readonly settings?: Readonly<Record<string, string>>;
  readonly connectTimeoutMs?: number;
  /** pg's pipeline mode (the apply's sessions: cdc/apply/statementPipeline.ts); no cursor or COPY stream on it. */
  readonly pipeline?: boolean;
}

/**
 * A writable session's commits are durable whatever the server's default: pgferry records on one
 * server what it did on the other (a publication dropped on the source, then 'released' in the
 * control catalog on the target), and a crash that took back a commit made with synchronous_commit
 * off would leave the records saying what is no longer true. Stricter settings (remote_write,
 * remote_apply) are kept; a session that sets its own (the copy's bulk loads) keeps it.
 */
const DURABLE_COMMITS_SQL = `SELECT set_config('synchronous_commit', 'on', false) WHERE current_setting('synchronous_commit') IN ('off', 'local')`;

/** The SET statements of a session, in one simple-query string (replication connections take no parameters). */
function sessionSettingsSql(options: Pick<SessionOptions, 'writable' | 'readOnly' | 'settings'>): string {
  const settings: (readonly [string, string])[] = [...PINNED_SETTINGS];
  if (options.writable) settings.push(['default_transaction_read_only', 'off']);
  settings.push(...Object.entries(options.settings ?? {}));
  const statements = settings.map(([name, value]) => `SET ${settingName(name)} = ${literal(value)}`);
  if (options.writable && options.settings?.synchronous_commit === undefined) statements.push(DURABLE_COMMITS_SQL);
  if (options.readOnly) statements.push('SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY');
  return statements.join('; ');
}

/** Setting names are pgferry's own constants; this refuses anything else reaching SQL text. */
function settingName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) throw new Error(`not a setting name: ${JSON.stringify(name)}`);
  return name;
}

/**
 * The server processes of the sessions this process holds open, per server (host:port): what tells
 * pgferry's own sessions from a client's on a server, since any client may take pgferry's
 * application name. The writer fence ends every other session of a database it fences
 * (footprint/writerFence.ts) and spares these: ending them would stop the switchover that fences.
 */
const openHere = new Map<string, Set<number>>();

function serverKey(server: Pick<ServerSpec, 'host' | 'port'>): string {
  return `${server.host}:${server.port}`;
}

/**
 * Connections this process is opening, per server (host:port). The server lists a session as an
 * idle client backend from the moment it sends the session's pid and readiness, before the client
 * has read them: a reader of pg_stat_activity meets it there before it is among `openHere`.
 */
const openingHere = new Map<string, Set<Promise<unknown>>>();

/**
 * The backend pids of the sessions this process has open on `server`, as reached by its spec, once
 * every connection it is opening there has opened or failed: a session the server already lists is
 * either among them or no session of this process's.
 */
export async function sessionsOpenedHere(server: Pick<ServerSpec, 'host' | 'port'>): Promise<number[]> {
  const opening = openingHere.get(serverKey(server));
  if (opening) await Promise.allSettled([...opening]);
  return [...(openHere.get(serverKey(server)) ?? [])];
}

/** Counts `connecting` among the server's openings until it settles. */
function trackOpening(server: Pick<ServerSpec, 'host' | 'port'>, connecting: Promise<unknown>): void {
  const key = serverKey(server);
  const opening = openingHere.get(key) ?? new Set<Promise<unknown>>();
  openingHere.set(key, opening.add(connecting));
  const settled = (): void => {
    opening.delete(connecting);
    if (opening.size === 0 && openingHere.get(key) === opening) openingHere.delete(key);
  };
  connecting.then(settled, settled);
}

/** Counts the session among this process's own until its connection ends, however it ends. */
function rememberSession(server: ServerSpec, client: pg.Client): void {
  // the backend's pid from the server's BackendKeyData, which pg keeps for a cancel request
  const pid = (client as unknown as { processID?: number | null }).processID;
  if (typeof pid !== 'number') return;
  const key = serverKey(server);
  const pids = openHere.get(key) ?? new Set<number>();
  openHere.set(key, pids.add(pid));
  client.once('end', () => {
    pids.delete(pid);
    if (pids.size === 0 && openHere.get(key) === pids) openHere.delete(key);
  });
}

/**
 * Opens a session with the pinned settings, or takes one opened ahead of a hold (keepSessionsAhead)
 * and gives it this session's name and settings; the caller ends it (closeSession).
 */
export async function openSession(server: ServerSpec, options: SessionOptions): Promise<pg.Client> {
  return (await takenAhead(server, options)) ?? (await openNew(server, options));
}

/** A session opened ahead for this server and database, given the caller's name and settings; undefined when none is ready. */
async function takenAhead(server: ServerSpec, options: SessionOptions): Promise<pg.Client | undefined> {
  if (options.replication || options.pipeline || options.snapshot !== undefined) return undefined;
  const client = await takeAhead(aheadKey(server, options.database));
  if (!client) return undefined;
  try {
    const name = `SET application_name = ${literal(`${APPLICATION_NAME_PREFIX}${options.purpose}`)}`;
    await client.query(`${name}; ${sessionSettingsSql(options)}`);
    trace(() => `session taken ahead: ${options.purpose} ${options.database ?? ''} ${server.port}`);
    return client;
  } catch {
    // gone while it waited (a server restart): a new one is opened instead, and meets any error itself
    await closeSession(client);
    return undefined;
  }
}

/**
 * Keeps `keep` plain sessions of `database` (the maintenance database when undefined) on `server`
 * open ahead of a hold, for openSession to take (connect/sessionsAhead.ts), named for what they wait
 * for (`purpose`) until a taker gives them its own name; returns the key that endAhead stops keeping
 * them under.
 */
export function keepSessionsAhead(server: ServerSpec, database: string | undefined, keep: number, purpose: string): string {
  const key = aheadKey(server, database);
  keepAhead(key, keep, () => openNew(server, { ...(database === undefined ? {} : { database }), purpose }));
  return key;
}

/** Opens a new session with the pinned settings. */
async function openNew(server: ServerSpec, options: SessionOptions): Promise<pg.Client> {
  const opening = performance.now();
  const connecting = openClient(server, {
    database: options.database,
    replication: options.replication,
    applicationName: `${APPLICATION_NAME_PREFIX}${options.purpose}`,
    connectTimeoutMs: options.connectTimeoutMs,
    pipeline: options.pipeline,
  }).then((client) => {
    rememberSession(server, client);
    hearEnd(client);
    return client;
  });
  trackOpening(server, connecting);
  const client = await connecting;
  try {
    await client.query(sessionSettingsSql(options));
    if (options.snapshot !== undefined) await importSnapshot(client, options.snapshot, options.database);
    trace(
      () => `session opened: ${options.purpose} ${options.database ?? ''} ${server.port} in ${(performance.now() - opening).toFixed(0)} ms`,
    );
    return client;
  } catch (error) {
    await closeSession(client);
    throw error;
  }
}

/** Ends a session, ignoring a connection that is already gone. */
export async function closeSession(client: pg.Client | undefined): Promise<void> {
  await client?.end().catch(() => undefined);
}

/**
 * Runs `fn` with a fresh session and always ends it. An error that ended the session itself (a
 * DBA's pg_terminate_backend, a restart, the network) carries the server and database it was lost
 * on (lostSessionWords), which node-postgres's own message does not name.
 */
export async function withSession<T>(server: ServerSpec, options: SessionOptions, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await openSession(server, options);
  try {
    return await fn(client);
  } catch (error) {
    if (sessionEnded(client, error)) markLost(error, server, options.database ?? server.maintenanceDatabase);
    throw error;
  } finally {
    await closeSession(client);
  }
}

/** Where a session was lost: the server's address and the database, nothing that authenticates. */
interface LostSession {
  readonly host: string;
  readonly port: number;
  readonly database: string;
}

const LOST_ON = Symbol('pgferry session lost on');

/** Sessions whose connection ended or failed while open, heard through pg's public events. */
const endedSessions = new WeakSet<pg.Client>();

/** Listens for the end of a session's connection, so an error can tell a lost session from a refused statement. */
function hearEnd(client: pg.Client): void {
  const ended = (): void => void endedSessions.add(client);
  client.on('error', ended);
  client.once('end', ended);
}

/**
 * Whether `error` came with the end of the session's connection rather than from one statement: the
 * connection already ended, or the server's own error is FATAL or PANIC, which it sends just before
 * it closes the socket (a terminated backend), and which can reach the caller before the close does.
 */
function sessionEnded(client: pg.Client, error: unknown): boolean {
  const severity = typeof error === 'object' && error !== null ? (error as { severity?: unknown }).severity : undefined;
  return endedSessions.has(client) || severity === 'FATAL' || severity === 'PANIC';
}

/** Records on `error` where its session was lost; the innermost session's record is kept. */
function markLost(error: unknown, server: Pick<ServerSpec, 'host' | 'port'>, database: string): void {
  if (typeof error !== 'object' || error === null || lostSessionOf(error)) return;
  const lost: LostSession = { host: server.host, port: server.port, database };
  Object.defineProperty(error, LOST_ON, { value: lost, enumerable: false });
}

/** Where the session that `error` ended was lost, following its causes; undefined for other errors. */
function lostSessionOf(error: unknown): LostSession | undefined {
  for (const e of causesOf(error, 8)) {
    if (typeof e !== 'object') continue;
    const lost = (e as { [LOST_ON]?: LostSession })[LOST_ON];
    if (lost) return lost;
  }
  return undefined;
}

/**
 * One clause naming the server a session was lost on, as source or target by its address, with
 * the database, and node-postgres's words after it; undefined when no session of `withSession`
 * recorded its loss. Never the user or password.
 */
export function lostSessionWords(
  error: unknown,
  servers: { readonly source: Pick<ServerSpec, 'host' | 'port'>; readonly target: Pick<ServerSpec, 'host' | 'port'> },
): string | undefined {
  const lost = lostSessionOf(error);
  if (!lost) return undefined;
  const side = (['source', 'target'] as const).find((s) => servers[s].host === lost.host && servers[s].port === lost.port);
  const where = `${side ? `the ${side} ` : ''}${serverKey(lost)}, database ${displayIdent(lost.database)}`;
  return `pgferry's session on ${where} was ended (by pg_terminate_backend, a restart or the network: ${errorMessage(error)})`;
}

/** A source session and a target session that work together (a copy worker, a verification worker). */
export interface SessionPair {
  readonly source: pg.Client;
  readonly target: pg.Client;
}

/** Opens both sessions of a pair side by side (a connection costs a few round trips and a server process), or neither. */
export async function openSessionPair(
  source: ServerSpec,
  sourceOptions: SessionOptions,
  target: ServerSpec,
  targetOptions: SessionOptions,
): Promise<SessionPair> {
  const [sourceSession, targetSession] = await Promise.allSettled([openSession(source, sourceOptions), openSession(target, targetOptions)]);
  if (sourceSession.status === 'fulfilled' && targetSession.status === 'fulfilled')
    return { source: sourceSession.value, target: targetSession.value };
  await closeSession(sourceSession.status === 'fulfilled' ? sourceSession.value : undefined);
  await closeSession(targetSession.status === 'fulfilled' ? targetSession.value : undefined);
  throw sourceSession.status === 'rejected' ? sourceSession.reason : (targetSession as PromiseRejectedResult).reason;
}

/** Runs `fn` with a fresh session pair, opened side by side, and always ends both. */
export async function withSessionPair<T>(
  source: ServerSpec,
  sourceOptions: SessionOptions,
  target: ServerSpec,
  targetOptions: SessionOptions,
  fn: (pair: SessionPair) => Promise<T>,
): Promise<T> {
  const pair = await openSessionPair(source, sourceOptions, target, targetOptions);
  try {
    return await fn(pair);
  } finally {
    await closeSessionPair(pair);
  }
}

export async function closeSessionPair(pair: SessionPair): Promise<void> {
  await Promise.all([closeSession(pair.source), closeSession(pair.target)]);
}

/**
 * Starts a read-only transaction on `client` that sees exactly the exported snapshot. A snapshot the
 * server no longer has went with the session that exported it, which holds it open until the last
 * import: that session's connection was lost (a network reset, a restart, a runner killed), so
 * the failure is transient, and the step that took the snapshot starts again with a new one, as it
 * does when any of its own connections is lost.
 */
async function importSnapshot(client: pg.Client, snapshot: string, database: string | undefined): Promise<void> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    // SET TRANSACTION SNAPSHOT takes no parameters: the name goes through the quoting helper.
    await client.query(`SET TRANSACTION SNAPSHOT ${literal(snapshot)}`);
  } catch (error) {
    const state = sqlState(error);
    if (state === undefined || !SNAPSHOT_GONE_CODES.has(state)) throw error;
    const where = database === undefined ? '' : ` in database ${displayIdent(database)}`;
    throw new PgferryError(
      'SNAPSHOT_GONE',
      `cannot import snapshot ${snapshot}${where}: the session that exported it has ended (${errorMessage(error)})`,
      {
        cause: error,
        transient: true,
      },
    );
  }
}

/** Server major version from server_version_num (e.g. 150004 → 15); works on replication connections too. */
export async function serverMajor(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ server_version_num: string }>('SHOW server_version_num');
  return Math.floor(Number(rows[0]!.server_version_num) / 10000);
}
