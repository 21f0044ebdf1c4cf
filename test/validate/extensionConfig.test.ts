// An extension's configuration table (pg_extension_config_dump) holding rows of the database's own:
// pgferry copies and compares them as pg_dump copies them (test/cdc/extensionConfigRows.test.ts),
// but an online migration does not stream them, and validation says so once, naming each such
// table with its count (found by an outside trial: pg_partman's part_config was empty on the target
// after a cutover that Succeeded; docs/trials.md). Offline, there is nothing to say.
import assert from 'node:assert/strict';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { serverSpec, startPair, type ServerPair } from '../support';
import { specFor, summary, withCode } from './helpers';

describe('validation: the rows of an extension configuration table (integration)', function () {
  this.timeout(120_000);
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    await pair.source.query('CREATE DATABASE gis');
    await pair.source.query('CREATE DATABASE plain');
  });
  after(async () => pair?.stop());

  it("online: names PostGIS's spatial_ref_sys with the one SRID the user added, and nothing where the extension holds only its own rows; offline: nothing", async function () {
    const [available] = await pair.source.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'`);
    if (!available) this.skip();
    await pair.source.query('CREATE EXTENSION postgis', [], 'gis');
    await pair.source.query('CREATE EXTENSION postgis', [], 'plain');
    await pair.source.query(
      `INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, proj4text) VALUES (990001, 'trial', 990001, '+proj=longlat +datum=WGS84 +no_defs')`,
      [],
      'gis',
    );
    const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['gis', 'plain'], { mode: 'Online' }));
    const found = withCode(results, 'EXTENSION_CONFIG_ROWS');
    assert.deepEqual(
      found.map((r) => [r.database, r.status]),
      [['gis', 'Warning']],
      summary(results),
    );
    assert.match(
      found[0]!.message,
      /extension postgis hold rows of the database's own: public\.spatial_ref_sys \(1 row\(s\)\); they are copied/,
    );
    assert.match(found[0]!.fix ?? '', /a row deleted from them on the source while streaming stays on the target/);
    const offline = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), ['gis', 'plain']));
    assert.deepEqual(withCode(offline, 'EXTENSION_CONFIG_ROWS'), [], summary(offline));
  });
});
