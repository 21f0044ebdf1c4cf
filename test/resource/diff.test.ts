// The diff rules of PgMigration: replace, update, no-op and refused changes.
import assert from 'node:assert/strict';
import { diffInputs, RefusedChangeError } from '../../provider/resource/diff';
import { UNKNOWN } from '../../provider/resource/unknown';

const base = {
  migrationName: 'm1',
  source: { host: 'src', port: 5432, user: 'postgres', password: 'a' },
  target: { host: 'dst', user: 'pgadmin', password: 'b', sslMode: 'require' },
  databases: ['app'],
  mode: 'Online',
  cutover: false,
  tableJobs: 4,
};
const withChange = (change: Record<string, unknown>) => ({ ...base, ...change });

describe('resource diff rules', () => {
  it('reports no change for identical inputs', () => {
    const d = diffInputs(base, structuredClone(base));
    assert.equal(d.changes, false);
    assert.deepEqual(d.replaces, []);
  });

  for (const [label, change, key] of [
    ['migrationName', { migrationName: 'm2' }, 'migrationName'],
    ['databases', { databases: ['app', 'other'] }, 'databases'],
    ['mode', { mode: 'Offline' }, 'mode'],
    ['source host', { source: { ...base.source, host: 'src2' } }, 'source'],
    ['source port', { source: { ...base.source, port: 5433 } }, 'source'],
    ['source user', { source: { ...base.source, user: 'other' } }, 'source'],
    ['target host', { target: { ...base.target, host: 'dst2' } }, 'target'],
  ] as const) {
    it(`replaces on a ${label} change`, () => {
      const d = diffInputs(base, withChange(change));
      assert.equal(d.changes, true);
      assert.deepEqual(d.replaces, [key]);
    });
  }

  it('deletes before replacing when the name stays (names are unique on the target)', () => {
    assert.equal(diffInputs(base, withChange({ databases: ['x'] })).deleteBeforeReplace, true);
    assert.equal(diffInputs(base, withChange({ migrationName: 'm2' })).deleteBeforeReplace, false);
  });

  it('updates for cutover false → true', () => {
    const d = diffInputs(base, withChange({ cutover: true }));
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, []);
  });

  it('refuses cutover true → false', () => {
    assert.throws(() => diffInputs(withChange({ cutover: true }), base), RefusedChangeError);
  });

  for (const [label, change] of [
    ['tableJobs', { tableJobs: 8 }],
    ['source password', { source: { ...base.source, password: 'rotated' } }],
    ['target sslMode', { target: { ...base.target, sslMode: 'verify-full' } }],
    ['customTimeouts', { customTimeouts: { create: '6h' } }],
  ] as const) {
    it(`updates without replacing on a ${label} change`, () => {
      const d = diffInputs(base, withChange(change));
      assert.equal(d.changes, true);
      assert.deepEqual(d.replaces, []);
    });
  }

  it('treats defaults and their explicit values as the same', () => {
    const implicit = { ...base, mode: undefined, source: { host: 'src', user: 'postgres', password: 'a' } };
    const explicit = { ...base, mode: 'Offline', source: { host: 'src', port: 5432, user: 'postgres', password: 'a', sslMode: 'prefer' } };
    const d = diffInputs(implicit, explicit);
    assert.deepEqual(d.replaces, []);
  });

  it('does not promise a replace for values unknown during preview', () => {
    for (const change of [{ target: UNKNOWN }, { target: { ...base.target, host: UNKNOWN } }, { databases: [UNKNOWN] }]) {
      const d = diffInputs(base, withChange(change));
      assert.equal(d.changes, true);
      assert.deepEqual(d.replaces, [], JSON.stringify(change));
    }
  });
});
