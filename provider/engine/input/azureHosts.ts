// Which servers are Azure Database for PostgreSQL servers by their name, and the TLS they get by
// default: Azure requires TLS and publishes the root CAs its server certificates chain to, so
// pgferry checks the certificate there unless the user says otherwise (docs/safety.md, "TLS").
// Pure: no connection, no environment.
/**
 * The domains Azure's server names end in: the public cloud, Azure Government and Azure in China
 * (Azure's private DNS zones for servers in a virtual network must end in the same domain, as
 * `NAME.private.postgres.database.azure.com` does).
 */
const AZURE_SERVER_DOMAINS = ['postgres.database.azure.com', 'postgres.database.usgovcloudapi.net', 'postgres.database.chinacloudapi.cn'];

/** A server's TLS identity: the name its certificate carries (sslServerName, else its host). */
export function tlsNameOf(server: { readonly host: string; readonly sslServerName?: string | undefined }): string {
  return server.sslServerName ?? server.host;
}

function bare(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** The Azure domain a host name ends in, or undefined for any other host (an IP address included). */
function azureDomainOf(name: string): string | undefined {
  const host = bare(name);
  return AZURE_SERVER_DOMAINS.find((domain) => host.endsWith(`.${domain}`));
}

/** Whether a host name is an Azure Database for PostgreSQL server's (public or private DNS name). */
export function isAzureHost(name: string): boolean {
  return azureDomainOf(name) !== undefined;
}

/**
 * The sslMode a server gets when the user gives none. An Azure server's own name (SERVER.domain)
 * gets verify-full: its certificate carries that name. A deeper name in Azure's domain (a private
 * DNS zone's record, `RECORD.ZONE.private.postgres.database.azure.com`) is not a name the
 * certificate carries, so it gets verify-ca, as Azure advises where private DNS rules verify-full
 * out; any other host keeps libpq's default, prefer.
 */
export function defaultSslMode(name: string): 'prefer' | 'verify-ca' | 'verify-full' {
  const domain = azureDomainOf(name);
  if (domain === undefined) return 'prefer';
  const label = bare(name).slice(0, -domain.length - 1);
  return label.includes('.') ? 'verify-ca' : 'verify-full';
}

/** An sslMode that does not check an Azure server's certificate: anyone on the path can pose as it. */
export function isUncheckedTls(sslMode: string): boolean {
  return sslMode === 'disable' || sslMode === 'prefer' || sslMode === 'require';
}
