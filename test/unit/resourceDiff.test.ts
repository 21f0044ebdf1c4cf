// The diff rules of PgMigration: replace, update, no-op and refused changes.
import assert from 'node:assert/strict';
import { diffInputs, RefusedChangeError } from '../../provider/resource/diff';
import { withDefaults } from '../../provider/resource/defaults';
import { UNKNOWN } from '../../provider/resource/unknown';

const base = {
  migrationName: 'm1',
  source: { host: 'src', port: 5432, user: 'postgres', password: 'a' },
  target: { host: 'dst', user: 'pgadmin', password: 'b', sslMode: 'require' },
  databases: ['app', 'sales'],
  mode: 'Online',
  cutover: false,
  tableJobs: 4,
};
const withChange = (change: Record<string, unknown>) => ({ ...base, ...change });
/** Stored outputs of a migration in `state`. */
const stored = (state: string, change: Record<string, unknown> = {}) => ({ ...base, state, ...change });

describe('resource diff rules: no change', () => {
  it('reports no change for identical inputs', () => {
    const d = diffInputs(base, structuredClone(base));
    assert.equal(d.changes, false);
    assert.deepEqual(d.replaces, []);
  });

  it('compares databases as a set: reordering them is no change', () => {
    const d = diffInputs(base, withChange({ databases: ['sales', 'app'] }));
    assert.equal(d.changes, false);
    assert.deepEqual(d.replaces, []);
  });

  it('compares filter patterns as sets, and an old state without filters equals empty lists', () => {
    const filtered = withChange({ excludeTables: ['a.*', 'b.c'] });
    assert.equal(diffInputs(filtered, withChange({ excludeTables: ['b.c', 'a.*'] })).changes, false);
    assert.equal(diffInputs(base, withChange({ excludeTables: [], includeSchemas: [] })).changes, false);
  });

  it('sees no change when only customTimeouts or the import id change', () => {
    for (const change of [{ customTimeouts: { create: '6h' } }, { importId: 'dst:5432/m1' }]) {
      const d = diffInputs({ ...base, customTimeouts: { create: '1h' } }, withChange(change));
      assert.equal(d.changes, false, JSON.stringify(change));
    }
  });

  it('treats defaults and their explicit values as the same (old state without defaults diffs clean)', () => {
    const implicit = { ...base, mode: undefined, source: { host: 'src', user: 'postgres', password: 'a' } };
    const explicit = withDefaults({ ...base, mode: 'Offline', source: { host: 'src', port: 5432, user: 'postgres', password: 'a' } });
    assert.equal(explicit.option, 'ValidateAndMigrate');
    assert.equal((explicit.source as { sslMode: string }).sslMode, 'prefer');
    assert.equal(explicit.tableJobs, 4, 'given tableJobs kept');
    assert.equal(withDefaults({}).tableJobs, undefined, 'machine-dependent default left out');
    assert.equal(diffInputs({ ...implicit, mode: 'Offline' }, explicit).changes, false);
  });
});

describe('resource diff rules: replace', () => {
  for (const [label, change, key] of [
    ['migrationName', { migrationName: 'm2' }, 'migrationName'],
    ['databases', { databases: ['app', 'other'] }, 'databases'],
    ['mode', { mode: 'Offline' }, 'mode'],
    ['source host', { source: { ...base.source, host: 'src2' } }, 'source'],
    ['source port', { source: { ...base.source, port: 5433 } }, 'source'],
    ['source user', { source: { ...base.source, user: 'other' } }, 'source'],
    ['target host', { target: { ...base.target, host: 'dst2' } }, 'target'],
    ['excludeTables', { excludeTables: ['sales.tmp_*'] }, 'excludeTables'],
    ['includeSchemas', { includeSchemas: ['sales'] }, 'includeSchemas'],
    ['schemaOnlyTables', { schemaOnlyTables: ['sales.notes'] }, 'schemaOnlyTables'],
  ] as const) {
    it(`replaces on a ${label} change`, () => {
      const d = diffInputs(base, withChange(change));
      assert.equal(d.changes, true);
      assert.deepEqual(d.replaces, [key]);
    });
  }

  it('deletes first when the old and new migration could meet on one target', () => {
    const dbr = (change: Record<string, unknown>) => diffInputs(base, withChange(change)).deleteBeforeReplace;
    assert.equal(dbr({ databases: ['x'] }), true, 'same name: names are unique on the target');
    assert.equal(dbr({ migrationName: 'm2' }), true, 'renamed, same target and databases');
    assert.equal(dbr({ migrationName: 'm2', databases: ['sales', 'more'] }), true, 'renamed, one database in common');
    assert.equal(dbr({ migrationName: 'm2', databases: ['other'] }), false, 'renamed, no database in common');
    assert.equal(dbr({ migrationName: 'm2', target: { ...base.target, host: 'dst2' } }), false, 'renamed, another target');
    assert.equal(dbr({ migrationName: 'm2', target: { ...base.target, host: UNKNOWN } }), true, 'an unknown target may be the same');
  });

  it('plans a replace when a replace-key is unknown at preview, as Terraform-bridged providers do', () => {
    for (const [change, key] of [
      [{ target: UNKNOWN }, 'target'],
      [{ target: { ...base.target, host: UNKNOWN } }, 'target'],
      [{ databases: [UNKNOWN] }, 'databases'],
      [{ migrationName: UNKNOWN }, 'migrationName'],
    ] as const) {
      const d = diffInputs(base, withChange(change));
      assert.equal(d.changes, true);
      assert.deepEqual(d.replaces, [key], JSON.stringify(change));
      assert.equal(d.deleteBeforeReplace, true);
    }
  });
});

describe('resource diff rules: update, or refused', () => {
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
    ['allowReplaceAfterCutover', { allowReplaceAfterCutover: true }],
  ] as const) {
    it(`updates without replacing on a ${label} change`, () => {
      const d = diffInputs(base, withChange(change));
      assert.equal(d.changes, true);
      assert.deepEqual(d.replaces, []);
    });
  }

  it('an unknown password is an update, not a replace', () => {
    const d = diffInputs(base, withChange({ target: { ...base.target, password: UNKNOWN } }));
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, []);
  });

  it('reports a change when refresh found the runner dead, so up restarts it', () => {
    assert.equal(diffInputs(stored('InProgress', { runnerAlive: false }), base).changes, true);
    assert.equal(diffInputs(stored('InProgress', { runnerAlive: true }), base).changes, false);
    assert.equal(diffInputs(stored('Failed', { runnerAlive: false }), base).changes, false);
  });
});

describe('resource diff rules: a migration that has cut over (never destroy)', () => {
  it('refuses a replace without allowReplaceAfterCutover, naming the input', () => {
    assert.throws(
      () => diffInputs(stored('Succeeded'), withChange({ databases: ['other'] })),
      (error: Error) => error instanceof RefusedChangeError && /^allowReplaceAfterCutover: /.test(error.message),
    );
  });

  it('refuses it when only the live state (a CLI cutover since the last refresh) says Succeeded', () => {
    assert.throws(() => diffInputs(stored('WaitingForUserAction'), withChange({ databases: ['other'] }), { liveState: 'Succeeded' }));
  });

  it('replaces with allowReplaceAfterCutover set in the same program, and says what happens to the databases', () => {
    const d = diffInputs(
      stored('Succeeded', { dropTargetDatabasesOnDelete: true }),
      withChange({ databases: ['other'], allowReplaceAfterCutover: true }),
    );
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, ['databases']);
    assert.ok(d.notes.some((n) => /target databases are kept/.test(n)));
    const named = diffInputs(
      stored('Succeeded', { dropTargetDatabasesOnDelete: true }),
      withChange({ databases: ['other'], allowReplaceAfterCutover: true }),
      { dropAllowed: (name) => name === 'm1' },
    );
    assert.ok(named.notes.some((n) => /WILL BE DROPPED/.test(n)));
  });

  it('a Validate-only migration that Succeeded copied nothing: moving on to migrate is an ordinary replace', () => {
    const d = diffInputs(stored('Succeeded', { option: 'Validate' }), withChange({ option: 'ValidateAndMigrate' }));
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, ['option']);
  });

  it('updates in place on tuning changes and cutover edits', () => {
    const d = diffInputs(stored('Succeeded'), withChange({ tableJobs: 2 }));
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, []);
  });

  it('does not plan a replace it would refuse when a replace-key is unknown: up compares the real value', () => {
    const d = diffInputs(stored('Succeeded'), withChange({ target: { ...base.target, host: UNKNOWN } }));
    assert.equal(d.changes, true);
    assert.deepEqual(d.replaces, []);
    assert.ok(d.notes.some((n) => /not known until up/.test(n)));
  });
});

describe('resource diff rules: a source named by an Azure resource id (identity is not environment)', () => {
  const id = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.DBforPostgreSQL/flexibleServers/srcflex';
  const at = (host: string) => ({ sourceDbServerResourceId: id, source: { host, port: 5432, user: 'postgres', password: 'a' } });

  it('refuses the replace of a running migration whose source id resolves to another address here, naming both and the fix', () => {
    assert.throws(
      () => diffInputs(stored('InProgress', at('10.0.0.4')), withChange(at('127.0.0.1'))),
      (e: unknown) =>
        e instanceof RefusedChangeError &&
        e.message.startsWith(
          'source: server "srcflex" (sourceDbServerResourceId) resolves to 127.0.0.1:5432 on this machine and to 10.0.0.4:5432 where migration "m1" was created or last updated',
        ) &&
        e.message.includes('PGFERRY_ALLOW_HOST_CHANGE=m1'),
    );
  });

  it('plans the replace, delete first, when PGFERRY_ALLOW_HOST_CHANGE names it, once the migration ended, or when the id itself changes', () => {
    const allowed = diffInputs(stored('InProgress', at('10.0.0.4')), withChange(at('127.0.0.1')), {
      hostChangeAllowed: (name) => name === 'm1',
    });
    assert.deepEqual(allowed.replaces, ['source']);
    assert.equal(allowed.deleteBeforeReplace, true);
    assert.deepEqual(diffInputs(stored('Failed', at('10.0.0.4')), withChange(at('127.0.0.1'))).replaces, ['source']);
    const other = { ...at('127.0.0.1'), sourceDbServerResourceId: id.replace('srcflex', 'other') };
    assert.deepEqual(diffInputs(stored('InProgress', at('10.0.0.4')), withChange(other)).replaces, ['source']);
  });
});
