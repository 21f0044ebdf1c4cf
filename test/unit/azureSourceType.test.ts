// Azure's sourceType (azure-native's SourceType): recorded as given, but only one of Azure's own
// kinds, and never an Oracle source, whichever way it comes: the CLI's Azure body or PgMigration's input.
import assert from 'node:assert/strict';
import { sourceTypeRefusal } from '../../provider/azure/names';
import { specFromProperties } from '../../provider/cli/input/body';
import { checkInputs } from '../../provider/resource/inputSchema';

const body = (sourceType: unknown) => ({
  properties: {
    SourceDBServerResourceId: '10.0.0.4:5433@srcadmin',
    targetDbServerFullyQualifiedDomainName: 'dst.postgres.database.azure.com',
    DBsToMigrate: ['sales'],
    sourceType,
  },
});

const inputs = {
  migrationName: 'm1',
  source: { host: 'src', user: 'u', password: 'p' },
  target: { host: 'dst', user: 'u', password: 'p' },
  databases: ['sales'],
};

describe("Azure's sourceType (unit)", () => {
  it('accepts each of Azure’s PostgreSQL kinds whatever the case, and refuses others in one line naming the field', () => {
    for (const t of ['OnPremises', 'onpremises', 'AWS_RDS', 'aws_rds', 'GCP_AlloyDB', 'Supabase_PostgreSQL']) {
      assert.equal(sourceTypeRefusal(t, 'sourceType'), undefined, t);
    }
    assert.match(
      sourceTypeRefusal('Mainframe', 'sourceType')!,
      /^sourceType: "Mainframe" is not one of Azure's source types; allowed: OnPremises, AWS, /,
    );
    assert.match(sourceTypeRefusal(7, 'sourceType')!, /^sourceType: 7 is not one of Azure's source types/);
    assert.match(
      sourceTypeRefusal('EDB_Oracle_Server', 'sourceType')!,
      /^sourceType: EDB_Oracle_Server is an Oracle database; pgferry moves PostgreSQL to PostgreSQL only/,
    );
  });

  it('the CLI refuses an Oracle or unknown sourceType in the body, naming the body’s field, and takes a known one', () => {
    assert.equal(specFromProperties(body('AWS_RDS'), { name: 'm1' }, { PGUSER: 'pgadmin' }).databases.length, 1);
    assert.throws(
      () => specFromProperties(body('EDB_Oracle_Server'), { name: 'm1' }, { PGUSER: 'pgadmin' }),
      (e: Error) => /^properties\.sourceType: EDB_Oracle_Server is an Oracle database/.test(e.message),
    );
    assert.throws(
      () => specFromProperties(body('Mainframe'), { name: 'm1' }, { PGUSER: 'pgadmin' }),
      (e: Error) => /^properties\.sourceType: "Mainframe" is not one of Azure's source types/.test(e.message),
    );
  });

  it('PgMigration refuses them at check, on the sourceType property, and takes a known one', () => {
    assert.deepEqual(checkInputs({}, { ...inputs, sourceType: 'OnPremises' }), []);
    assert.deepEqual(
      checkInputs({}, { ...inputs, sourceType: 'EDB_Oracle_Server' }).map((f) => f.property),
      ['sourceType'],
    );
    assert.match(checkInputs({}, { ...inputs, sourceType: 'x' })[0]!.reason, /^sourceType: "x" is not one of Azure's source types/);
  });
});
