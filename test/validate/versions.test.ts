import assert from 'node:assert/strict';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { requirePrerequisite, serverSpec, startCluster, type Cluster } from '../support';
import { assertNoFailures, expectCode, specFor, summary } from './helpers';

/** The machine's PostgreSQL 15 client tools (Debian's postgresql-client-15, installed by ensure-deps). */
const PG15_BIN = '/usr/lib/postgresql/15/bin';

describe('validation: major versions 13 / 16 → 15', () => {
  let pg13: Cluster;
  let pg16: Cluster;
  let pg15: Cluster;
  let tclError: string | undefined;
  before(async () => {
    [pg13, pg16, pg15] = await Promise.all([
      startCluster({ major: 13, label: 'val13' }),
      startCluster({ major: 16, label: 'val16' }),
      startCluster({ major: 15, label: 'val15' }),
    ]);
    await pg13.query('CREATE DATABASE app');
    await pg13.query('CREATE TABLE a (id int PRIMARY KEY, v text)', [], 'app');
    // pltcl ships with the embedded PostgreSQL 13 but not with the machine's 15.
    await pg13.query('CREATE DATABASE tcl');
    // needs libtcl8.6 on the machine (scripts/ensure-deps.mjs installs it)
    tclError = await pg13
      .query(`CREATE EXTENSION pltcl; CREATE FUNCTION tcl_one() RETURNS int LANGUAGE pltcl AS 'return 1';`, [], 'tcl')
      .then(
        () => undefined,
        (error: Error) => error.message,
      );
    await pg16.query('CREATE DATABASE app');
    await pg16.query('CREATE TABLE a (id int PRIMARY KEY, v text)', [], 'app');
  });
  after(async () => Promise.all([pg13, pg16, pg15].map((c) => c?.stop())));

  it('passes 13 → 15 with the machine pg_dump', async () => {
    const results = await runValidation(specFor(serverSpec(pg13), serverSpec(pg15), ['app']));
    assertNoFailures(results);
    expectCode(results, 'SERVER_VERSION', 'Succeeded');
    expectCode(results, 'PG_TOOLS', 'Succeeded');
  });

  it('fails an extension that is not available on the target, naming it', async function () {
    requirePrerequisite(this, tclError === undefined, `PL/Tcl on the PostgreSQL 13 source (libtcl8.6): ${tclError}`);
    const available = await pg15.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'pltcl'`);
    assert.equal(available.length, 0, 'this test needs a target without pltcl');
    const results = await runValidation(specFor(serverSpec(pg13), serverSpec(pg15), ['tcl']));
    const [missing] = expectCode(results, 'EXTENSION_UNAVAILABLE', 'Failed');
    assert.equal(missing!.database, 'tcl');
    assert.match(missing!.message, /pltcl/);
    assert.deepEqual(
      results.filter((r) => r.status === 'Failed').map((r) => r.code),
      ['EXTENSION_UNAVAILABLE'],
      summary(results),
    );
  });

  it('fails a target older than the source (16 → 15), and pg_dump 15 for a 16 source', async () => {
    const results = await runValidation(specFor(serverSpec(pg16), serverSpec(pg15), ['app'], { pgBinDir: PG15_BIN }));
    const [older] = expectCode(results, 'TARGET_VERSION_OLDER', 'Failed');
    assert.equal(older!.server, 'target');
    // the tools are chosen here, not found on the machine: 15's cannot dump a 16 server
    const [tools] = expectCode(results, 'PG_TOOLS_TOO_OLD', 'Failed');
    assert.match(tools!.message, /15\.\d+/);
  });

  it('passes pg_dump of a newer major than the source (13 → 15 with the 15 tools named by pgBinDir)', async () => {
    const results = await runValidation(specFor(serverSpec(pg13), serverSpec(pg15), ['app'], { pgBinDir: PG15_BIN }));
    assertNoFailures(results);
    expectCode(results, 'PG_TOOLS', 'Succeeded');
  });
});
