// Protocol against real servers: azure-native's example of dbforpostgresql.Migration as its
// documentation writes it, with no secretParameters.targetServerUsername (Azure knows the
// administrator login; pgferry finds it). serverName "exampleserver" reaches the target through
// PGFERRY_SERVER_HOSTS without a user, so the login comes, in docs/pulumi.md's order, from the
// server resource's administratorLogin (what PgMigration's constructor sends as
// targetAdministratorLogin, proved under mocks in pgMigration.test.ts), PGUSER, or a ~/.pgpass
// entry for the target's host, port and maintenance database; each provider host is started with
// the environment a `pulumi up` would pass it. With none of them, check fails in one line naming the ways.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MigrationArgs } from '@pulumi/azure-native/dbforpostgresql/migration';
import * as dbforpostgresql from '@pulumi/azure-native/types/enums/dbforpostgresql';
import type { PgMigrationArgs } from '../../provider/resource/pgMigration';
import { startCluster, type Cluster } from '../support';
import { fingerprint, loadShop } from './support/fixture';
import { closeProtocolSession, openProtocolSession, secretLeaks, type ProtocolSession } from './support/providerHost';

const SOURCE_PW = 'src-TargetLogin-51c0d2';
const TARGET_PW = 'dst-TargetLogin-7ae913';

let source: Cluster;
let target: Cluster;
let dir: string;
const sessions: ProtocolSession[] = [];

/** Azure's example with the values of local servers; no targetServerUsername, as Azure's own. */
function example(migrationName: string): MigrationArgs {
  return {
    dbsToMigrate: ['exampledatabase1'],
    location: 'eastus',
    migrationMode: dbforpostgresql.MigrationMode.Offline,
    migrationName,
    migrationOption: dbforpostgresql.MigrationOption.ValidateAndMigrate,
    overwriteDbsInTarget: dbforpostgresql.OverwriteDatabasesOnTargetServer.True,
    resourceGroupName: 'exampleresourcegroup',
    secretParameters: { adminCredentials: { sourceServerPassword: SOURCE_PW, targetServerPassword: TARGET_PW } },
    serverName: 'exampleserver',
    sourceDbServerResourceId: `${source.host}:${source.port}@${source.user}`,
    sourceType: dbforpostgresql.SourceType.OnPremises,
    sslMode: dbforpostgresql.SslMode.Prefer,
  };
}

function props(session: ProtocolSession, args: PgMigrationArgs, more: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...(JSON.parse(JSON.stringify(args)) as Record<string, unknown>), ...more, __provider: session.provider };
}

/** A provider host whose environment is `env` beside the mapping of exampleserver (with no user). */
async function hostWith(env: NodeJS.ProcessEnv): Promise<ProtocolSession> {
  const session = await openProtocolSession({
    PGFERRY_SERVER_HOSTS: `exampleserver=${target.host}:${target.port}?sslmode=prefer`,
    PGUSER: '',
    PGPASSFILE: join(dir, 'none'),
    HOME: dir,
    ...env,
  });
  sessions.push(session);
  return session;
}

describe('protocol: the target login of an azure-native Migration without targetServerUsername', function () {
  this.timeout(300_000);
  before(async () => {
    [source, target] = await Promise.all([
      startCluster({ major: 15, label: 'login-src', password: SOURCE_PW }),
      startCluster({ major: 15, label: 'login-dst', password: TARGET_PW }),
    ]);
    await loadShop(source, 'exampledatabase1');
    dir = await mkdtemp(join(tmpdir(), 'pgferry-login-'));
  });
  after(async () => {
    for (const session of sessions) await closeProtocolSession(session);
    if (dir) await rm(dir, { recursive: true, force: true });
    await Promise.all([source?.stop(), target?.stop()]);
  });

  it("takes the server resource's administratorLogin before PGUSER and ~/.pgpass", async () => {
    const pgpass = join(dir, 'pgpass-first');
    await writeFile(pgpass, `${target.host}:${target.port}:postgres:fromfile:x\n`, { mode: 0o600 });
    const session = await hostWith({ PGUSER: 'fromenv', PGPASSFILE: pgpass });
    const withLogin = await session.host.check({}, props(session, example('m1'), { targetAdministratorLogin: 'azadmin' }));
    assert.deepEqual(withLogin.failures, []);
    assert.equal((withLogin.inputs.target as { user: string }).user, 'azadmin');
    const withoutLogin = await session.host.check({}, props(session, example('m1')));
    assert.equal((withoutLogin.inputs.target as { user: string }).user, 'fromenv', 'PGUSER next');
  });

  it('takes the login from a ~/.pgpass entry for the host, port and postgres; up connects with it and copies the database', async () => {
    await writeFile(
      join(dir, '.pgpass'),
      [`${target.host}:${target.port}:sales:notthisone:x`, `${target.host}:${target.port}:*:${target.user}:unused`, ''].join('\n'),
    );
    await chmod(join(dir, '.pgpass'), 0o600);
    const session = await hostWith({ PGPASSFILE: '' });
    const checked = await session.host.check({}, props(session, example('frompgpass')));
    assert.deepEqual(checked.failures, []);
    const t = checked.inputs.target as Record<string, unknown>;
    assert.deepEqual([t.host, t.port, t.user], [target.host, target.port, target.user]);
    const created = await session.host.create(checked.inputs);
    assert.equal(created.properties.state, 'Succeeded', String(created.properties.message));
    assert.deepEqual(await fingerprint(target, 'exampledatabase1'), await fingerprint(source, 'exampledatabase1'));
    assert.equal((created.properties.target as { user: string }).user, target.user, 'state keeps the login, for refresh and destroy');
    await session.host.delete(created.id, created.properties);
    assert.deepEqual(secretLeaks(session.host, [SOURCE_PW, TARGET_PW]), []);
  });

  it('ignores a ~/.pgpass others may read, as libpq does, and then fails in one line naming the ways', async () => {
    await writeFile(join(dir, '.pgpass'), `*:*:*:${target.user}:x\n`);
    await chmod(join(dir, '.pgpass'), 0o644);
    const session = await hostWith({ PGPASSFILE: '' });
    const checked = await session.host.check({}, props(session, example('nologin')));
    assert.deepEqual(
      checked.failures.map((f) => f.property),
      ['secretParameters.targetServerUsername'],
    );
    const where = `${target.host}:${target.port}`;
    assert.equal(
      checked.failures[0]!.reason,
      `secretParameters.targetServerUsername: required: no login found for server "exampleserver" (${where}); give it here, or pass the azure-native server resource's name as serverName (its administratorLogin is used), or set PGUSER (or exampleserver=USER@HOST in PGFERRY_SERVER_HOSTS), or add a ~/.pgpass entry for ${where}`,
    );
    assert.ok(!checked.failures[0]!.reason.includes('\n'), 'one line');
  });
});
