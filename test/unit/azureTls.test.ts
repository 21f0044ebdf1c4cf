// TLS for Azure servers by default, pure: which names are Azure's and the sslMode each gets, the
// root CAs Azure publishes for Azure Database for PostgreSQL found in Node's own root store by
// subject and SHA-256 fingerprint (learn.microsoft.com/azure/postgresql/security/security-tls, "Root
// CAs used by Azure Database for PostgreSQL"), PGFERRY_SERVER_HOSTS keeping a mapped server's own
// name (and an entry's ?sslmode=), the spec's defaults, and the warning for a mode that does not
// check an Azure server's certificate.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseServerHosts, serverAddress } from '../../provider/azure/serverName';
import { AZURE_ROOT_CAS, azureRootCertificates, azureRootCertificatesFile } from '../../provider/engine/connect/azureRoots';
import { defaultSslMode, isAzureHost } from '../../provider/engine/input/azureHosts';
import { serverSpecSchema } from '../../provider/engine/input/migrationSpec';
import { uncheckedTlsWarning } from '../../provider/engine/validate/connectivity';
import { PgferryError } from '../../provider/engine';
import { withDefaults } from '../../provider/resource/defaults';

const subjectCn = (pem: string) => /CN=([^\n]+)/.exec(new X509Certificate(pem).subject)?.[1];

describe('TLS verified for Azure servers by default', () => {
  it("finds DigiCert Global Root G2 and Microsoft RSA Root Certificate Authority 2017 in Node's root store by subject and fingerprint", () => {
    const found = azureRootCertificates().map((pem) => ({ cn: subjectCn(pem), sha256: new X509Certificate(pem).fingerprint256 }));
    for (const name of ['DigiCert Global Root G2', 'Microsoft RSA Root Certificate Authority 2017']) {
      const ca = AZURE_ROOT_CAS.find((c) => c.name === name)!;
      assert.deepEqual(
        found.find((f) => f.cn === name),
        { cn: name, sha256: ca.sha256 },
        `${name} in tls.rootCertificates`,
      );
    }
    // nothing but Azure's roots: each one found is one Azure names, by its fingerprint
    for (const f of found)
      assert.ok(
        AZURE_ROOT_CAS.some((c) => c.sha256 === f.sha256 && c.name === f.cn),
        String(f.cn),
      );
    for (const pem of azureRootCertificates()) assert.equal(new X509Certificate(pem).ca, true);
  });

  it('writes the same roots to a file only this process can read, for pg_dump and pg_restore', () => {
    const file = azureRootCertificatesFile();
    const text = readFileSync(file, 'utf8');
    for (const pem of azureRootCertificates()) assert.ok(text.includes(pem.trim()), subjectCn(pem));
    assert.equal(azureRootCertificatesFile(), file, 'written once per process');
    assert.equal(statSync(file).mode & 0o077, 0, 'the file: its owner only');
    assert.equal(statSync(path.dirname(file)).mode & 0o077, 0, 'its directory: its owner only');
  });

  it("gives verify-full to an Azure server's own name, verify-ca to a private DNS record under it, prefer to any other host", () => {
    assert.equal(defaultSslMode('myserver.postgres.database.azure.com'), 'verify-full');
    assert.equal(defaultSslMode('MyServer.Postgres.Database.Azure.com.'), 'verify-full');
    assert.equal(defaultSslMode('gov1.postgres.database.usgovcloudapi.net'), 'verify-full');
    assert.equal(defaultSslMode('cn1.postgres.database.chinacloudapi.cn'), 'verify-full');
    assert.equal(defaultSslMode('a1b2c3.myserver.private.postgres.database.azure.com'), 'verify-ca');
    assert.equal(defaultSslMode('myserver.private.postgres.database.azure.com'), 'verify-ca');
    for (const other of [
      '10.0.0.4',
      'localhost',
      'db.example.com',
      'postgres.database.azure.com',
      'evilpostgres.database.azure.com.example',
    ]) {
      assert.equal(defaultSslMode(other), 'prefer', other);
      assert.equal(isAzureHost(other), false, other);
    }
  });

  it("parses a server spec with the default for its name, the user's explicit sslMode winning", () => {
    const parse = (server: Record<string, unknown>) => serverSpecSchema.parse({ user: 'u', ...server });
    assert.equal(parse({ host: 'myserver.postgres.database.azure.com' }).sslMode, 'verify-full');
    assert.equal(parse({ host: '127.0.0.1', sslServerName: 'myserver.postgres.database.azure.com' }).sslMode, 'verify-full');
    assert.equal(parse({ host: 'myserver.postgres.database.azure.com', sslMode: 'require' }).sslMode, 'require');
    assert.equal(parse({ host: '10.0.0.4' }).sslMode, 'prefer');
    // the Pulumi state's defaults say the same, once the host is known
    const filled = withDefaults({ target: { host: 'myserver.postgres.database.azure.com', user: 'u' }, source: { host: 'h', user: 'u' } });
    assert.equal((filled.target as Record<string, unknown>).sslMode, 'verify-full');
    assert.equal((filled.source as Record<string, unknown>).sslMode, 'prefer');
  });

  it("keeps a mapped server's own name as the name its certificate carries, and an entry's ?sslmode=", () => {
    const env = {
      PGFERRY_SERVER_HOSTS: 'tlsbox=127.0.0.1:5433, standin=u@localhost?sslmode=prefer, same=same.postgres.database.azure.com',
    };
    assert.deepEqual(serverAddress('tlsbox', env), {
      name: 'tlsbox',
      host: '127.0.0.1',
      port: 5433,
      via: 'PGFERRY_SERVER_HOSTS',
      sslServerName: 'tlsbox.postgres.database.azure.com',
    });
    assert.equal(serverAddress('standin', env).sslMode, 'prefer');
    assert.equal(serverAddress('same', env).sslServerName, undefined, 'mapped to its own name: nothing to add');
    assert.throws(
      () => parseServerHosts('x=h?sslmode=allow'),
      (e: unknown) => e instanceof PgferryError && /\?sslmode=MODE.*verify-full/.test(e.message),
    );
  });

  it('warns of prefer, require and disable for an Azure server, naming the risk and the fix, and of nothing else', () => {
    const spec = (sslMode: string, host = 'myserver.postgres.database.azure.com') => serverSpecSchema.parse({ host, user: 'u', sslMode });
    for (const mode of ['prefer', 'require', 'disable']) {
      const warned = uncheckedTlsWarning('target', spec(mode));
      assert.equal(warned?.status, 'Warning', mode);
      assert.equal(warned?.code, 'SSL_MODE');
      assert.match(
        warned!.message,
        new RegExp(`myserver\\.postgres\\.database\\.azure\\.com .*sslMode ${mode} does not check its certificate`),
      );
      assert.match(warned!.message, /sent the password and the data/);
      assert.match(warned!.fix ?? '', /verify-full/);
      assert.doesNotMatch(warned!.message, /\n/);
    }
    assert.equal(uncheckedTlsWarning('target', spec('verify-ca')), undefined);
    assert.equal(uncheckedTlsWarning('source', spec('require', '10.0.0.4')), undefined);
  });
});
