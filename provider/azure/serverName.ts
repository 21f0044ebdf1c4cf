// An Azure server name (`--name myflexibleserver` beside `--migration-name`) as the address pgferry
// connects to: SERVER.postgres.database.azure.com, unless PGFERRY_SERVER_HOSTS maps the name to
// another host (tests, private DNS that differs, a tunnel). Pure: the environment is an argument.
import { inputError } from '../engine';

/** Azure public cloud; sovereign clouds set PGFERRY_SERVER_DOMAIN (e.g. postgres.database.chinacloudapi.cn). */
const DEFAULT_SERVER_DOMAIN = 'postgres.database.azure.com';

export interface ServerAddress {
  /** The server's name as given. */
  readonly name: string;
  readonly host: string;
  readonly port?: number;
  readonly user?: string;
  /** Where the address came from, for --verbose. */
  readonly via: 'PGFERRY_SERVER_HOSTS' | 'domain' | 'host name';
}

/** `name=[user@]host[:port]` entries separated by commas or whitespace; IPv6 hosts in brackets. */
export function parseServerHosts(text: string | undefined): Map<string, { host: string; port?: number; user?: string }> {
  const map = new Map<string, { host: string; port?: number; user?: string }>();
  for (const entry of (text ?? '').split(/[\s,]+/).filter(Boolean)) {
    const match = /^([A-Za-z0-9][A-Za-z0-9.-]*)=(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^:@\s[\]]+)(?::(\d{1,5}))?$/.exec(entry);
    const port = match?.[4] === undefined ? undefined : Number(match[4]);
    if (!match || (port !== undefined && (port < 1 || port > 65535))) {
      throw inputError(
        'INVALID_INPUT',
        'PGFERRY_SERVER_HOSTS',
        `PGFERRY_SERVER_HOSTS: "${entry}" must be SERVER=[USER@]HOST[:PORT] (entries separated by commas)`,
      );
    }
    const host = match[3]!.replace(/^\[(.*)\]$/, '$1');
    map.set(match[1]!.toLowerCase(), { host, ...(port === undefined ? {} : { port }), ...(match[2] ? { user: match[2] } : {}) });
  }
  return map;
}

/**
 * The address of a server name: PGFERRY_SERVER_HOSTS first (server names are case-insensitive, as
 * in Azure), then a name with a dot taken as a host name, then NAME.<PGFERRY_SERVER_DOMAIN>.
 */
export function serverAddress(name: string, env: NodeJS.ProcessEnv = process.env): ServerAddress {
  const mapped = parseServerHosts(env.PGFERRY_SERVER_HOSTS).get(name.toLowerCase());
  if (mapped) return { name, ...mapped, via: 'PGFERRY_SERVER_HOSTS' };
  if (name.includes('.')) return { name, host: name, via: 'host name' };
  const domain = (env.PGFERRY_SERVER_DOMAIN || DEFAULT_SERVER_DOMAIN).replace(/^\.+/, '');
  return { name, host: `${name}.${domain}`, via: 'domain' };
}

/** The server name an address stands for: the first label of an Azure FQDN, else the host itself. */
export function serverNameOf(host: string, env: NodeJS.ProcessEnv = process.env): string {
  for (const [name, mapped] of parseServerHosts(env.PGFERRY_SERVER_HOSTS)) if (mapped.host === host) return name;
  const domain = `.${(env.PGFERRY_SERVER_DOMAIN || DEFAULT_SERVER_DOMAIN).replace(/^\.+/, '')}`;
  return host.toLowerCase().endsWith(domain) ? host.slice(0, -domain.length) : host;
}
