import assert from 'node:assert/strict';
import { runValidation } from '../../provider/engine/validate/runValidation';
import { loadRichDatabase } from '../support/richSchema';
import { makeManagedTarget, serverSpec, startPair, type ServerPair } from '../support';
import { assertNoFailures, expectCode, specFor, summary, withCode } from './helpers';

const DB = 'Rich "Db".x';

describe('validation: rich schema with hostile names', () => {
  let pair: ServerPair;
  before(async () => {
    pair = await startPair(15, 15);
    await loadRichDatabase(pair.source, DB);
  });
  after(async () => pair?.stop());

  it('passes offline to a superuser target; casts made by CREATE TYPE … AS RANGE are not user-defined', async () => {
    const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), [DB]));
    assertNoFailures(results);
    assert.equal(withCode(results, 'USER_DEFINED_CAST').length, 0, summary(results));
    assert.ok(results.some((r) => r.database === DB));
  });

  it('reports every table online, hostile names included, and fails only the table without a key', async () => {
    const results = await runValidation(specFor(serverSpec(pair.source), serverSpec(pair.target), [DB], { mode: 'Online' }));
    assert.equal(withCode(results, 'CHECK_ERROR').length, 0, summary(results));
    assert.deepEqual(
      results.filter((r) => r.status === 'Failed').map((r) => r.code),
      ['NO_REPLICA_IDENTITY'],
      summary(results),
    );
    assert.match(expectCode(results, 'NO_REPLICA_IDENTITY', 'Failed')[0]!.message, /app\.audit_log/);
    const weird = results.filter((r) => r.type === 'CdcTableReport' && r.message.includes('"We""ird Sch.ema"."Order ""Lines"".v2"'));
    assert.equal(weird.length, 1, summary(results));
    assert.equal(weird[0]!.status, 'Succeeded');
  });

  it('warns about superuser-owned objects for a managed target, leaving out objects PostgreSQL made itself', async () => {
    const pgadmin = await makeManagedTarget(pair.target);
    const results = await runValidation(specFor(serverSpec(pair.source), pgadmin, [DB]));
    const [owned] = expectCode(results, 'SUPERUSER_OWNED_OBJECT', 'Warning');
    assert.match(owned!.message, /function app\.touch\(\)/);
    assert.doesNotMatch(owned!.message, /floatmultirange/);
    assert.equal(withCode(results, 'CHECK_ERROR').length, 0, summary(results));
  });
});
