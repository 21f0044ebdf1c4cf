// Azure's root certificate authorities for Azure Database for PostgreSQL, taken from Node's own
// root store (tls.rootCertificates, Mozilla's list) by their SHA-256 fingerprint, so pgferry ships
// no certificate file and a Node update carries Azure's roots as it carries every other. Azure
// publishes the list: "Transport Layer Security (TLS) in Azure Database for PostgreSQL", section
// "Root CAs used by Azure Database for PostgreSQL" (learn.microsoft.com/azure/postgresql/security/security-tls).
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rootCertificates } from 'node:tls';

/** A root CA Azure names, by its subject's common name and the SHA-256 fingerprint of its certificate. */
export interface AzureRootCa {
  readonly name: string;
  readonly sha256: string;
}

/**
 * DigiCert Global Root G2 and Microsoft RSA Root Certificate Authority 2017 anchor every region's
 * server certificates (they are dual-signed); DigiCert Global Root CA is the one Azure in China
 * still names beside Microsoft's, and Node's newer root stores no longer hold it (the dual
 * signature keeps those servers verifiable through Microsoft's root).
 */
export const AZURE_ROOT_CAS: readonly AzureRootCa[] = [
  {
    name: 'DigiCert Global Root G2',
    sha256: 'CB:3C:CB:B7:60:31:E5:E0:13:8F:8D:D3:9A:23:F9:DE:47:FF:C3:5E:43:C1:14:4C:EA:27:D4:6A:5A:B1:CB:5F',
  },
  {
    name: 'Microsoft RSA Root Certificate Authority 2017',
    sha256: 'C7:41:F7:0F:4B:2A:8D:88:BF:2E:71:C1:41:22:EF:53:EF:10:EB:A0:CF:A5:E6:4C:FA:20:F4:18:85:30:73:E0',
  },
  {
    name: 'DigiCert Global Root CA',
    sha256: '43:48:A0:E9:44:4C:78:CB:26:5E:05:8D:5E:89:44:B4:D8:4F:96:62:BD:26:DB:25:7F:89:34:A4:43:C7:01:61',
  },
];

let roots: readonly string[] | undefined;

/** The PEMs of Azure's root CAs that Node's root store holds. */
export function azureRootCertificates(): readonly string[] {
  if (roots === undefined) {
    const wanted = new Set(AZURE_ROOT_CAS.map((ca) => ca.sha256));
    roots = rootCertificates.filter((pem) => wanted.has(new X509Certificate(pem).fingerprint256));
  }
  return roots;
}

let rootsFile: string | undefined;

/**
 * The same roots as a PEM file, for pg_dump and pg_restore (libpq reads its roots from a file):
 * written once per process into a directory of its own that only it can write (a shared name in
 * the temporary directory could be someone else's file of roots), removed when the process exits.
 */
export function azureRootCertificatesFile(): string {
  if (rootsFile === undefined) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pgferry-azure-roots-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'roots.pem');
    writeFileSync(file, `${azureRootCertificates().join('\n')}\n`, { mode: 0o600 });
    rootsFile = file;
  }
  return rootsFile;
}
