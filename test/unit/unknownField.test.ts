// An unknown field in a migration's input is refused in one line that names it and the fields its
// object allows, so a user who wrote `database` for the target sees `maintenanceDatabase`.
import assert from 'node:assert/strict';
import { parseMigrationSpec } from '../../provider/engine';

const server = (port: number) => ({ host: '127.0.0.1', port, user: 'postgres', password: 'pw' });

describe('input: an unknown field names what its object allows', () => {
  it('target.database: the error names the field, its object and every allowed key, maintenanceDatabase among them', () => {
    assert.throws(
      () => parseMigrationSpec({ migrationName: 'm', source: server(5432), target: { ...server(5433), database: 'd' }, databases: ['a'] }),
      (error: Error) => {
        assert.match(error.message, /^target: unknown field "database"; allowed: host, port, user, password, .*\bmaintenanceDatabase\b/);
        assert.ok(!error.message.includes('\n'), error.message);
        assert.ok(!error.message.includes('pw'), error.message);
        return true;
      },
    );
  });

  it('two unknown fields at the top: both named, with the top level allowed keys', () => {
    assert.throws(
      () =>
        parseMigrationSpec({
          migrationName: 'm',
          source: server(5432),
          target: server(5433),
          databases: ['a'],
          tabelJobs: 2,
          mdoe: 'Online',
        }),
      /\(root\): unknown fields "tabelJobs", "mdoe"; allowed: .*\bmode\b.*/,
    );
  });
});
