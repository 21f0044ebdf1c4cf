// `pgferry agent`: runs until SIGTERM or SIGINT. Its source credentials come from its own
// environment, never from the catalog: PGFERRY_SOURCE_URLS holds postgres:// URLs (with
// passwords, or without them for PGPASSWORD / ~/.pgpass), one per source database, separated by
// white space. The agent registers only their server keys (host:port/database). An agent beside
// the user's PgBouncer holds its admin credentials too, for the migrations that cut over through
// it: PGFERRY_POOLER_ADMIN_URL (its password in the URL or in PGFERRY_POOLER_PASSWORD), registered
// as the pooler's address alone.
import os from 'node:os';
import { inputError, POOLER_PASSWORD_VARIABLE, poolerKey, runAgent, serverKey, type SourceCredential } from '../../engine';
import type { CliArgs } from '../input/parse';
import { showsProgress } from '../log';
import { writeErr } from '../output';
import { registerSecret } from '../secrets';
import { resolveTarget } from '../target';
import { parseConnectionUrl } from '../input/url';

/**
 * The source credentials in the agent's environment, by server key; their passwords are masked in
 * any output. A URL without a user means the agent's OS user, as for libpq.
 */
function sourcesFromEnv(env: NodeJS.ProcessEnv): Map<string, SourceCredential> {
  const urls = (env.PGFERRY_SOURCE_URLS ?? '').split(/\s+/).filter(Boolean);
  const sources = new Map<string, SourceCredential>();
  for (const text of urls) {
    const server = parseConnectionUrl(text, 'PGFERRY_SOURCE_URLS');
    if (typeof server.password === 'string') registerSecret(server.password);
    if (typeof server.maintenanceDatabase !== 'string') {
      throw inputError(
        'INVALID_URL',
        'PGFERRY_SOURCE_URLS',
        'PGFERRY_SOURCE_URLS: each URL must name its database (postgres://user@host:port/db)',
      );
    }
    const key = serverKey(server.host as string, (server.port as number | undefined) ?? 5432, server.maintenanceDatabase);
    const user = typeof server.user === 'string' ? server.user : os.userInfo().username;
    sources.set(key, { user, ...(typeof server.password === 'string' ? { password: server.password } : {}) });
  }
  return sources;
}

/** The variable an agent beside a pooler finds its admin credentials in. */
const POOLER_URL_VARIABLE = 'PGFERRY_POOLER_ADMIN_URL';

/**
 * The pooler admin credentials in the agent's environment, by pooler key: each URL of
 * PGFERRY_POOLER_ADMIN_URL (white space between several), its password from the URL or else
 * PGFERRY_POOLER_PASSWORD (else PGPASSWORD or ~/.pgpass, as for any libpq client); masked in any output.
 */
function poolersFromEnv(env: NodeJS.ProcessEnv): Map<string, SourceCredential> {
  const urls = (env[POOLER_URL_VARIABLE] ?? '').split(/\s+/).filter(Boolean);
  const fallback = env[POOLER_PASSWORD_VARIABLE];
  registerSecret(fallback);
  const poolers = new Map<string, SourceCredential>();
  for (const text of urls) {
    const server = parseConnectionUrl(text, POOLER_URL_VARIABLE);
    if (typeof server.password === 'string') registerSecret(server.password);
    const key = poolerKey(server.host as string, (server.port as number | undefined) ?? 6432);
    const user = typeof server.user === 'string' ? server.user : os.userInfo().username;
    const password = typeof server.password === 'string' ? server.password : fallback;
    poolers.set(key, { user, ...(password !== undefined ? { password } : {}) });
  }
  return poolers;
}

export async function agentCommand(args: CliArgs): Promise<number> {
  const target = resolveTarget(args);
  const sources = sourcesFromEnv(process.env);
  const poolers = poolersFromEnv(process.env);
  const serverKeys = [...sources.keys(), ...poolers.keys()];
  const name = args.name ?? `${os.hostname()}-${process.pid}`;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    await runAgent({
      target,
      name,
      concurrency: args.concurrency ?? 2,
      sources,
      poolers,
      signal: stop.signal,
      log: (line) => showsProgress() && writeErr(`agent ${name}: ${line}`),
      // stderr, as every progress line: the agent's keys name servers, never secrets
      onJoined: () =>
        showsProgress() && writeErr(`agent ${name} joined; credentials for: ${serverKeys.length ? serverKeys.join(', ') : 'no source'}`),
    });
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  return 0;
}
