// Which migration a spec names (a resume, an adoption): its servers, databases, mode and filters.
// The migration window is not part of it: it only schedules the start and can be moved while the
// migration waits (moveMigrationWindow), so a resume with the window the user moved it to, or with
// the first one, names the same migration; another database does not.
import assert from 'node:assert/strict';
import { parseMigrationSpec } from '../../provider/engine';
import { NAMED_LATER_KEY, publicSpec, sameMigration } from '../../provider/engine/input/publicSpec';

const server = (port: number) => ({ host: '127.0.0.1', port, user: 'postgres', password: 'pw' });
const spec = (over: Record<string, unknown> = {}) =>
  parseMigrationSpec({ migrationName: 'm', source: server(5432), target: server(5433), databases: ['a'], ...over });

describe('publicSpec: which migration a spec names', () => {
  it('a moved window names the same migration; another database does not', () => {
    const stored = { spec: publicSpec(spec({ migrationWindowStartTimeInUtc: '2030-01-01T00:00:00Z' })) };
    assert.equal(sameMigration(stored, spec({ migrationWindowStartTimeInUtc: '2030-02-01T00:00:00Z' })), true);
    assert.equal(sameMigration(stored, spec()), true);
    assert.equal(sameMigration(stored, spec({ databases: ['b'] })), false);
    assert.equal(sameMigration(stored, spec({ mode: 'Online' })), false);
  });

  it('databases named after the create: the spec without them, or with them, names it; others do not', () => {
    const created = spec({ databases: undefined });
    assert.deepEqual(created.databases, []);
    // as control/databasesToMigrate.ts stores it once an update named them
    const stored = { spec: { ...publicSpec(created), databases: ['a'], [NAMED_LATER_KEY]: true } };
    assert.equal(sameMigration(stored, created), true);
    assert.equal(sameMigration(stored, spec()), true);
    assert.equal(sameMigration(stored, spec({ databases: ['b'] })), false);
    assert.equal(sameMigration(stored, spec({ databases: undefined, mode: 'Online' })), false);
    // a migration created with its databases is not named by a spec without them
    assert.equal(sameMigration({ spec: publicSpec(spec()) }, created), false);
  });

  it("keeps the name the target's certificate carries, and a spec with another one, or none, names the same migration", () => {
    const named = spec({ target: { ...server(5433), sslServerName: 'db.postgres.database.azure.com', sslMode: 'verify-full' } });
    const stored = publicSpec(named);
    assert.equal((stored.target as Record<string, unknown>).sslServerName, 'db.postgres.database.azure.com');
    assert.equal(sameMigration({ spec: stored }, spec({ target: { ...server(5433), sslMode: 'verify-full' } })), true);
    assert.equal(sameMigration({ spec: publicSpec(spec({ target: { ...server(5433), sslMode: 'verify-full' } })) }, named), true);
    assert.equal(sameMigration({ spec: stored }, spec({ target: { ...server(5434), sslMode: 'verify-full' } })), false);
  });
});
