// An unknown field in a migration's input is refused in one line that names it and the fields its
// object allows, so a user who wrote `database` for the target sees `maintenanceDatabase`; the spec,
// the CLI's body (plain and Azure) and Azure's body read by the resource say it in the same words,
// `<path>: unknown field "x"; allowed: a, b, c`.
import assert from 'node:assert/strict';
import { readAzureProperties } from '../../provider/azure/body';
import { mapProperties } from '../../provider/cli/input/body';
import { parseMigrationSpec, PgferryError } from '../../provider/engine';

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

/** The message of the input error `fn` throws. */
function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof PgferryError && error.code === 'UNKNOWN_FIELD', String(error));
    assert.ok(!error.message.includes('\n'), error.message);
    return error.message;
  }
  assert.fail('expected an input error');
}

describe('input: an unknown field, in the same words in every body', () => {
  it("the CLI's plain body: the top level named (root), the unknown key, every allowed key, and the Azure form as the fix", () => {
    assert.throws(
      () => mapProperties({ databases: ['a'], source: {}, colour: 'blue' }, { target: { host: 'h' } }),
      (error: PgferryError) => {
        assert.match(error.message, /^\(root\): unknown field "colour"; allowed: migrationName, .*\bdatabases\b/);
        assert.equal(error.field, 'colour');
        assert.match(error.fix ?? '', /\{"properties": \{\.\.\.\}\}/);
        return true;
      },
    );
  });

  it("the CLI's Azure body: the object's path as the user spelled it, the unknown key, the object's allowed keys", () => {
    assert.match(
      messageOf(() => mapProperties({ properties: { DBsToMigrat: ['a'] } }, {})),
      /^properties: unknown field "DBsToMigrat"; allowed: .*\bdbsToMigrate\b/i,
    );
    assert.match(
      messageOf(() => mapProperties({ properties: { DBsToMigrate: ['a'] }, tagz: {} }, {})),
      /^\(root\): unknown field "tagz"; allowed: properties, location, tags, id, name, type, systemData$/,
    );
  });

  it("Azure's body as the resource reads it (azure-native's inputs): a nested object's path, the unknown key and what it allows, no password", () => {
    const message = messageOf(() =>
      readAzureProperties({ secretParameters: { adminCredentials: { sourceServerPassword: 'pw', targetPassword: 'pw2' } } }, ''),
    );
    assert.match(
      message,
      /^secretParameters\.adminCredentials: unknown field "targetPassword"; allowed: SourceServerPassword, TargetServerPassword$/,
    );
    assert.ok(!message.includes('pw2'), message);
  });
});
