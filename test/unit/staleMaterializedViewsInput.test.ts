// staleMaterializedViews as an input: `stop` by default, `refresh` taken from the spec, a properties
// file, the CLI's flag and Pulumi's check; a bad value refused in one line naming the field and
// what is allowed (the scenarios on real servers are test/cdc/materializedViews.test.ts).
import assert from 'node:assert/strict';
import { parseCli } from '../../provider/cli/input/parse';
import { specFromProperties } from '../../provider/cli/input/body';
import { parseMigrationSpec } from '../../provider/engine';
import { checkInputs } from '../../provider/resource/inputSchema';
import { base, refusesEach, urls } from './specInput';

describe('staleMaterializedViews: the input', () => {
  it('stops by default, keeps the refreshed rows when asked, from the spec and a properties file', () => {
    assert.equal(parseMigrationSpec(base).staleMaterializedViews, 'stop');
    assert.equal(parseMigrationSpec({ ...base, staleMaterializedViews: 'refresh' }).staleMaterializedViews, 'refresh');
    assert.equal(specFromProperties({ ...base, ...urls, staleMaterializedViews: 'refresh' }).staleMaterializedViews, 'refresh');
  });

  it('refuses a bad value in one line naming the field and what is allowed', () => {
    refusesEach('staleMaterializedViews', ['ignore', 'Refresh', false], 'staleMaterializedViews: must be stop or refresh');
  });

  it("takes the CLI flag on create, and fails Pulumi's check naming the input", () => {
    const args = parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--stale-materialized-views', 'refresh']);
    assert.equal(args.spec.staleMaterializedViews, 'refresh');
    assert.throws(
      () => parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--stale-materialized-views', 'keep']),
      /--stale-materialized-views.*must be stop or refresh/,
    );
    const failures = checkInputs({}, { ...base, staleMaterializedViews: 'sometimes' });
    assert.deepEqual(
      failures.map((f) => [f.property, f.reason]),
      [['staleMaterializedViews', 'staleMaterializedViews: must be stop or refresh']],
    );
  });
});
