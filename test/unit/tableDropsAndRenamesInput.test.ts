// tableDropsAndRenames as an input (issue 49): `report` by default, `follow` taken from the spec, a
// properties file, the CLI's flag and Pulumi's check; a bad value refused in one line naming the
// field and what is allowed (the scenarios on real servers are test/cdc/tableDropsFollowed.test.ts).
import assert from 'node:assert/strict';
import { parseCli } from '../../provider/cli/input/parse';
import { specFromProperties } from '../../provider/cli/input/body';
import { parseMigrationSpec, PgferryError } from '../../provider/engine';
import { checkInputs } from '../../provider/resource/inputSchema';

const base = {
  migrationName: 'm1',
  source: { host: '10.0.0.4', user: 'postgres' },
  target: { host: 'dst.example.com', user: 'pgadmin' },
  databases: ['sales'],
  mode: 'Online',
};

function inputError(fn: () => unknown): PgferryError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PgferryError, `expected a PgferryError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected an input error');
}

describe('tableDropsAndRenames: the input', () => {
  it('reports by default, follows when asked', () => {
    assert.equal(parseMigrationSpec(base).tableDropsAndRenames, 'report');
    assert.equal(parseMigrationSpec({ ...base, tableDropsAndRenames: 'follow' }).tableDropsAndRenames, 'follow');
  });

  it('refuses a bad value in one line naming the field and what is allowed', () => {
    for (const bad of ['drop', 'Follow ', true, 1]) {
      const error = inputError(() => parseMigrationSpec({ ...base, tableDropsAndRenames: bad }));
      assert.equal(error.message, 'tableDropsAndRenames: must be follow or report', `value ${String(bad)}`);
      assert.equal(error.field, 'tableDropsAndRenames');
    }
    const file = inputError(() =>
      specFromProperties({ ...base, source: 'postgres://u@src/postgres', target: 'postgres://u@dst/postgres', tableDropsAndRenames: 'x' }),
    );
    assert.equal(file.message, 'tableDropsAndRenames: must be follow or report');
  });

  it('takes the CLI flag on create, and a properties file key', () => {
    const args = parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--table-drops-and-renames', 'follow']);
    assert.equal(args.spec.tableDropsAndRenames, 'follow');
    assert.equal(parseCli(['create', '--name', 'm1', '--properties', 'b.json']).spec.tableDropsAndRenames, undefined);
    assert.throws(
      () => parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--table-drops-and-renames', 'drop']),
      /--table-drops-and-renames.*must be follow or report/,
    );
    const spec = specFromProperties({
      ...base,
      source: 'postgres://u@src/postgres',
      target: 'postgres://u@dst/postgres',
      tableDropsAndRenames: 'follow',
    });
    assert.equal(spec.tableDropsAndRenames, 'follow');
  });

  it("fails Pulumi's check naming the input", () => {
    const failures = checkInputs({}, { ...base, tableDropsAndRenames: 'sometimes' });
    assert.deepEqual(
      failures.map((f) => [f.property, f.reason]),
      [['tableDropsAndRenames', 'tableDropsAndRenames: must be follow or report']],
    );
  });
});
