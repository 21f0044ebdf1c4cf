// An Azure server name (`--name myflexibleserver` beside `--migration-name`) as the address pgferry
// connects to: SERVER.postgres.database.azure.com, unless PGFERRY_SERVER_HOSTS maps the name to
// another host (tests, private DNS that differs, a tunnel). Pure: the environment is an argument.
import { inputError, SSL_MODES, type SslMode } from '../engine';

/** Azure public cloud; sovereign clouds set PGFERRY_SERVER_DOMAIN (e.g. postgres.database.chinacloudapi.cn). */
const DEFAULT_SERVER_DOMAIN = 'postgres.database.azure.com';

export interface ServerAddress {
  /** The server's name as given. */
  readonly name: string;
  readonly host: string;
  readonly port?: number;
  readonly user?: string;
  readonly sslMode?: SslMode;
  /** Where the address came from, for --verbose. */
  readonly via: 'PGFERRY_SERVER_HOSTS' | 'domain' | 'host name';
  /**
   * The server's own name (SERVER.<domain>) when PGFERRY_SERVER_HOSTS maps it to another address:
   * the name its certificate carries (the spec's sslServerName).
   */
  readonly sslServerName?: string;
}

/** One entry of PGFERRY_SERVER_HOSTS. */
export interface MappedServer {
  readonly host: string;
  readonly port?: number;
  readonly user?: string;
  /** `?sslmode=MODE`: the TLS the address is reached with (a stand-in under an Azure name without Azure's certificate). */
  readonly sslMode?: SslMode;
}

const ENTRY = /^([A-Za-z0-9][A-Za-z0-9.-]*)=(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^:@?\s[\]]+)(?::(\d{1,5}))?(?:\?sslmode=([a-z-]+))?$/;

/** `name=[user@]host[:port][?sslmode=MODE]` entries separated by commas or whitespace; IPv6 hosts in brackets. */
export function parseServerHosts(text: string | undefined): Map<string, MappedServer> {
  const map = new Map<string, MappedServer>();
  for (const entry of (text ?? '').split(/[\s,]+/).filter(Boolean)) {
    const match = ENTRY.exec(entry);
    const port = match?.[4] === undefined ? undefined : Number(match[4]);
    const sslMode = match?.[5];
    if (!match || (port !== undefined && (port < 1 || port > 65535)) || (sslMode !== undefined && !isSslMode(sslMode))) {
      throw inputError(
        'INVALID_INPUT',
        'PGFERRY_SERVER_HOSTS',
        `PGFERRY_SERVER_HOSTS: "${entry}" must be SERVER=[USER@]HOST[:PORT][?sslmode=MODE] (entries separated by commas; MODE one of ${SSL_MODES.join(', ')})`,
      );
    }
    const host = match[3]!.replace(/^\[(.*)\]$/, '$1');
    map.set(match[1]!.toLowerCase(), {
      host,
      ...(port === undefined ? {} : { port }),
      ...(match[2] ? { user: match[2] } : {}),
      ...(sslMode === undefined ? {} : { sslMode: sslMode as SslMode }),
    });
  }
  return map;
}

function isSslMode(text: string): text is SslMode {
  return (SSL_MODES as readonly string[]).includes(text);
}

/**
 * The address of a server name: PGFERRY_SERVER_HOSTS first (server names are case-insensitive, as
 * in Azure), then a name with a dot taken as a host name, then NAME.<PGFERRY_SERVER_DOMAIN>.
 */
export function serverAddress(name: string, env: NodeJS.ProcessEnv = process.env): ServerAddress {
  const domain = (env.PGFERRY_SERVER_DOMAIN || DEFAULT_SERVER_DOMAIN).replace(/^\.+/, '');
  const own = (name.includes('.') ? name : `${name}.${domain}`).toLowerCase();
  const mapped = parseServerHosts(env.PGFERRY_SERVER_HOSTS).get(name.toLowerCase());
  if (mapped)
    return {
      name,
      ...mapped,
      via: 'PGFERRY_SERVER_HOSTS',
      ...(mapped.host.toLowerCase() === own.toLowerCase() ? {} : { sslServerName: own }),
    };
  if (name.includes('.')) return { name, host: name, via: 'host name' };
  return { name, host: own, via: 'domain' };
}

/** The server name an address stands for: the first label of an Azure FQDN, else the host itself. */
export function serverNameOf(host: string, env: NodeJS.ProcessEnv = process.env): string {
  for (const [name, mapped] of parseServerHosts(env.PGFERRY_SERVER_HOSTS)) if (mapped.host === host) return name;
  const domain = `.${(env.PGFERRY_SERVER_DOMAIN || DEFAULT_SERVER_DOMAIN).replace(/^\.+/, '')}`;
  return host.toLowerCase().endsWith(domain) ? host.slice(0, -domain.length) : host;
}
