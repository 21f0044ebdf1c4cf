// `check` validation: the engine's zod schema, failures named by input path, unknowns skipped.
import assert from 'node:assert/strict';
import { checkInputs, parseDuration, toMigrationSpec, toSpecInput, UNKNOWN } from '../../provider/resource/inputSchema';

const valid = {
  migrationName: 'aw-online',
  source: { host: '10.0.0.4', port: 5432, user: 'postgres', password: 'pw', sslMode: 'prefer' },
  target: { host: 'dst.example.com', user: 'pgadmin', password: 'pw2', sslMode: 'require' },
  databases: ['adventureworks'],
  mode: 'Online',
  cutover: false,
  __provider: 'exports.handler = …',
};

describe('resource check', () => {
  it('accepts valid inputs', () => {
    assert.deepEqual(checkInputs({}, valid), []);
  });

  it('names the field of a bad input', () => {
    const failures = checkInputs({}, { ...valid, source: { ...valid.source, port: 70000 } });
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.property, 'source.port');
    assert.match(failures[0]!.reason, /^source\.port: /);
  });

  it('reports every bad field, not only the first', () => {
    const failures = checkInputs({}, { ...valid, migrationName: '-bad', mode: 'Sideways' });
    assert.deepEqual(failures.map((f) => f.property).sort(), ['migrationName', 'mode']);
  });

  it('rejects unknown fields', () => {
    const failures = checkInputs({}, { ...valid, tabelJobs: 3 });
    assert.equal(failures.length, 1);
    assert.match(failures[0]!.reason, /tabelJobs/);
    // the one line names what is allowed, so the misspelling's right word is in it
    assert.match(failures[0]!.reason, /; allowed: .*\btableJobs\b/);
  });

  it('checks the Pulumi-only fields', () => {
    const failures = checkInputs({}, { ...valid, cutover: 'yes', allowReplaceAfterCutover: 1, customTimeouts: { create: 'soon' } });
    assert.deepEqual(failures.map((f) => f.property).sort(), ['allowReplaceAfterCutover', 'customTimeouts.create', 'cutover']);
  });

  it('checks an import id: <target host>:<port>/<migrationName>', () => {
    assert.deepEqual(checkInputs({}, { ...valid, importId: 'dst.example.com:5432/m1' }), []);
    assert.deepEqual(checkInputs({}, { ...valid, importId: '[::1]:5433/m1' }), []);
    for (const bad of ['m1', 'dst:port/m1', 'dst:5432/']) {
      assert.deepEqual(
        checkInputs({}, { ...valid, importId: bad }).map((f) => f.property),
        ['importId'],
        bad,
      );
    }
  });

  it('does not judge values unknown during preview', () => {
    const failures = checkInputs({}, { ...valid, target: { ...valid.target, host: UNKNOWN }, source: { ...valid.source, port: UNKNOWN } });
    assert.deepEqual(failures, []);
  });

  it('refuses cutover true → false', () => {
    const failures = checkInputs({ ...valid, cutover: true }, valid);
    assert.deepEqual(
      failures.map((f) => f.property),
      ['cutover'],
    );
  });

  it('takes skipUnsupportedObjects (default false) and refuses a non-boolean', () => {
    assert.equal(toMigrationSpec(valid).skipUnsupportedObjects, false);
    assert.equal(toMigrationSpec({ ...valid, skipUnsupportedObjects: true }).skipUnsupportedObjects, true);
    const failures = checkInputs({}, { ...valid, skipUnsupportedObjects: 'yes' });
    assert.deepEqual(
      failures.map((f) => f.property),
      ['skipUnsupportedObjects'],
    );
  });

  it('keeps Pulumi-only and reserved keys out of the engine spec', () => {
    const spec = toSpecInput({ ...valid, dropTargetDatabasesOnDelete: true, customTimeouts: { create: '1h' } });
    assert.deepEqual(Object.keys(spec).sort(), ['databases', 'migrationName', 'mode', 'source', 'target']);
  });

  it('parses Pulumi durations', () => {
    assert.equal(parseDuration('6h'), 6 * 3_600_000);
    assert.equal(parseDuration('1h30m'), 90 * 60_000);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration(undefined), undefined);
    assert.throws(() => parseDuration('tomorrow'));
  });
});
