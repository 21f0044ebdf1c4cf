// The target's login when an azure-native program names the target server but not its user
// (Azure's own examples omit secretParameters.targetServerUsername: Azure knows the server's
// administrator login; pgferry cannot ask it). Found where a user would look without Azure, in
// the order docs/pulumi.md states: the server resource's administratorLogin the program passed
// (serverName: server.name), the environment (a USER@ in PGFERRY_SERVER_HOSTS for that server,
// then libpq's PGUSER), then the first ~/.pgpass entry for the target's host, port and
// maintenance database that names a user. Pure but for the one read of the password file. The
// same file gives `pgferry show` the source's own password (pgpassPassword), so that it never
// sends the target's PGPASSWORD to the source.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where the login came from, for the check's message and docs/pulumi.md's order. */
type LoginSource = 'administratorLogin' | 'PGFERRY_SERVER_HOSTS' | 'PGUSER' | 'pgpass';

export interface FoundLogin {
  readonly user: string;
  readonly via: LoginSource;
}

export interface LoginQuery {
  /** The azure-native server resource's administratorLogin, as PgMigration's constructor found it. */
  readonly administratorLogin?: string;
  /** The user PGFERRY_SERVER_HOSTS maps the server name to, if any. */
  readonly mappedUser?: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
}

/** Reads the password file's text, or undefined when there is none (or it is not to be used). */
export type PgpassReader = (env: NodeJS.ProcessEnv) => string | undefined;

/**
 * libpq's password file: PGPASSFILE, else ~/.pgpass (%APPDATA%\postgresql\pgpass.conf on Windows).
 * Ignored, as libpq ignores it, when group or others may read it.
 */
export const readPgpass: PgpassReader = (env) => {
  const path = pgpassPath(env);
  if (path === undefined) return undefined;
  try {
    const stat = statSync(path);
    if (!stat.isFile() || (process.platform !== 'win32' && (stat.mode & 0o077) !== 0)) return undefined;
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

function pgpassPath(env: NodeJS.ProcessEnv): string | undefined {
  if (env.PGPASSFILE) return env.PGPASSFILE;
  if (process.platform === 'win32') return env.APPDATA ? join(env.APPDATA, 'postgresql', 'pgpass.conf') : undefined;
  return env.HOME ? join(env.HOME, '.pgpass') : undefined;
}

/** One line's fields, `\:` and `\\` unescaped as libpq does; undefined for comments and short lines. */
function fields(line: string): string[] | undefined {
  if (line.startsWith('#')) return undefined;
  const out: string[] = [];
  let field = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\' && i + 1 < line.length) field += line[++i];
    else if (c === ':' && out.length < 4) {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out.length === 5 ? out : undefined;
}

/** The password file's entries for a host, port and database, in its order, as [user, password]. */
function entriesFor(text: string, host: string, port: number, database: string): Array<[user: string, password: string]> {
  const matches = (pattern: string, value: string) => pattern === '*' || pattern === value;
  return text.split(/\r?\n/).flatMap((line) => {
    const f = fields(line);
    if (!f) return [];
    const [h, p, d, u, password] = f as [string, string, string, string, string];
    const hostMatches = matches(h, host) || (h === 'localhost' && host.startsWith('/'));
    return hostMatches && matches(p, String(port)) && matches(d, database) ? [[u, password] as [string, string]] : [];
  });
}

/** The user of the first entry matching host, port and database that names one (not `*`). */
function pgpassLogin(text: string, host: string, port: number, database: string): string | undefined {
  return entriesFor(text, host, port, database).find(([u]) => u !== '*' && u !== '')?.[0];
}

/** The password of the first entry matching a server's host, port, database and user, as libpq picks it. */
export function pgpassPassword(
  text: string,
  server: { readonly host: string; readonly port: number; readonly database: string; readonly user: string },
): string | undefined {
  return entriesFor(text, server.host, server.port, server.database).find(([u]) => u === '*' || u === server.user)?.[1];
}

/** The login, by the order of this file's header; undefined when none of them gives one. */
export function findTargetLogin(query: LoginQuery, env: NodeJS.ProcessEnv, read: PgpassReader = readPgpass): FoundLogin | undefined {
  if (query.administratorLogin) return { user: query.administratorLogin, via: 'administratorLogin' };
  if (query.mappedUser) return { user: query.mappedUser, via: 'PGFERRY_SERVER_HOSTS' };
  if (env.PGUSER) return { user: env.PGUSER, via: 'PGUSER' };
  const text = read(env);
  const user = text === undefined ? undefined : pgpassLogin(text, query.host, query.port, query.database);
  return user === undefined ? undefined : { user, via: 'pgpass' };
}

/**
 * The end of the one line said when no login is found, the same for the CLI and PgMigration: the
 * environment's two places and the password file's, in findTargetLogin's order. `server` is the
 * server's name in PGFERRY_SERVER_HOSTS, or a placeholder for it.
 */
export function noLoginHint(server: string, host: string, port: number): string {
  return `set PGUSER (or ${server}=USER@HOST in PGFERRY_SERVER_HOSTS), or add a ~/.pgpass entry for ${host}:${port}`;
}
