// Connection URLs (postgres://user:pass@host:port/db?sslmode=...) into server objects. The URL
// itself never appears in an error: it may carry a password.
import { inputError, SSL_MODES } from '../../engine';

const URL_PARAMS = ['sslmode', 'sslrootcert'] as const;

/**
 * Parses a postgres:// URL into the fields of a server spec; throws an input error naming `field`.
 * A URL given on the command line may not carry a password: every local user can read a process's
 * arguments (ps, /proc/<pid>/cmdline).
 */
export function parseConnectionUrl(text: string, field: string, options: { onCommandLine?: boolean } = {}): Record<string, unknown> {
  const usage = 'must be a URL like postgres://user:password@host:5432/?sslmode=require';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw inputError('INVALID_URL', field, `${field}: ${usage}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw inputError('INVALID_URL', field, `${field}: ${usage} (scheme must be postgres or postgresql)`);
  }
  if (!url.hostname) throw inputError('INVALID_URL', field, `${field}: ${usage} (no host)`);
  const server: Record<string, unknown> = { host: url.hostname.replace(/^\[(.*)\]$/, '$1') };
  if (url.port) server.port = Number(url.port);
  if (url.username) server.user = decodeURIComponent(url.username);
  if (url.password && options.onCommandLine) {
    throw inputError(
      'PASSWORD_ON_COMMAND_LINE',
      field,
      `${field}: must not contain a password (any local user can read a command line); leave it out of the URL`,
      'set PGPASSWORD, use ~/.pgpass, or put the target in the properties file',
    );
  }
  if (url.password) server.password = decodeURIComponent(url.password);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (database) server.maintenanceDatabase = database;
  for (const [key, value] of url.searchParams) {
    if (key === 'sslmode') {
      if (!(SSL_MODES as readonly string[]).includes(value)) {
        throw inputError('INVALID_URL', field, `${field}: sslmode must be one of ${SSL_MODES.join(', ')}`);
      }
      server.sslMode = value;
    } else if (key === 'sslrootcert') {
      server.sslRootCert = value;
    } else {
      throw inputError('INVALID_URL', field, `${field}: unknown URL parameter "${key}"; allowed: ${URL_PARAMS.join(', ')}`);
    }
  }
  return server;
}
