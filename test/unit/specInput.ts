// What the unit tests of one spec field share: a spec with nothing else set, and the refusal each
// bad value must get from the engine's parse (one line naming the field, with the field set).
import assert from 'node:assert/strict';
import { parseMigrationSpec, PgferryError } from '../../provider/engine';

export const base = {
  migrationName: 'm1',
  source: { host: '10.0.0.4', user: 'postgres' },
  target: { host: 'dst.example.com', user: 'pgadmin' },
  databases: ['sales'],
};

export const urls = { source: 'postgres://u@src/postgres', target: 'postgres://u@dst/postgres' };

/** Each of `values` under `field` is refused with exactly `message`, naming the field. */
export function refusesEach(field: string, values: readonly unknown[], message: string): void {
  for (const bad of values) {
    try {
      parseMigrationSpec({ ...base, [field]: bad });
      assert.fail(`accepted ${String(bad)}`);
    } catch (error) {
      assert.ok(error instanceof PgferryError, String(error));
      assert.equal(error.message, message);
      assert.equal(error.field, field);
    }
  }
}
