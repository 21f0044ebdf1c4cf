// schemaChangeCapture (issue 49): the input, one line naming the field and what is allowed, the same
// from the spec, a properties file, the CLI and Pulumi's check; and the pure plan that makes a
// target table's indexes and constraints the ones the source's event trigger told
// (verify/schema/partsFollow.ts). The scenarios on real servers are test/cdc/eventTrigger.test.ts.
import assert from 'node:assert/strict';
import { parseCli } from '../../provider/cli/input/parse';
import { specFromProperties } from '../../provider/cli/input/body';
import { parseMigrationSpec, PgferryError } from '../../provider/engine';
import type { TableParts } from '../../provider/engine/cdc/apply/ddlFollow';
import { partKeys, planPartsFollow } from '../../provider/engine/verify/schema/partsFollow';
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
    assert.equal(error.category, 'input');
    assert.ok(!error.message.includes('\n'));
    return error;
  }
  assert.fail('expected an input error');
}

const table = (parts: TableParts['parts']): TableParts => ({ schema: 'public', name: 'orders', oid: '16400', parts });
const pkey = { kind: 'constraint', name: 'orders_pkey', definition: 'PRIMARY KEY (id)' } as const;
const pkeyIndex = {
  kind: 'index',
  name: 'orders_pkey',
  definition: 'CREATE UNIQUE INDEX orders_pkey ON public.orders USING btree (id)',
} as const;

describe('schemaChangeCapture: the input', () => {
  it('defaults to catalog and takes eventTrigger for an online migration that follows schema changes', () => {
    assert.equal(parseMigrationSpec(base).schemaChangeCapture, 'catalog');
    assert.equal(parseMigrationSpec({ ...base, schemaChangeCapture: 'eventTrigger' }).schemaChangeCapture, 'eventTrigger');
  });

  it('refuses a bad value, an offline migration and followSchemaChanges off, in one line each', () => {
    assert.equal(
      inputError(() => parseMigrationSpec({ ...base, schemaChangeCapture: 'trigger' })).message,
      'schemaChangeCapture: must be catalog or eventTrigger',
    );
    const offline = inputError(() => parseMigrationSpec({ ...base, mode: 'Offline', schemaChangeCapture: 'eventTrigger' }));
    assert.equal(offline.field, 'schemaChangeCapture');
    assert.match(offline.message, /applies only to an Online migration \(mode\) with followSchemaChanges: true; use catalog$/);
    const off = inputError(() => parseMigrationSpec({ ...base, followSchemaChanges: false, schemaChangeCapture: 'eventTrigger' }));
    assert.match(off.message, /use catalog or set followSchemaChanges: true$/);
  });

  it('is read from a properties file, the CLI flag and Pulumi inputs', () => {
    const spec = specFromProperties(
      {
        properties: {
          SourceDBServerResourceId: '10.0.0.4:5432@postgres',
          targetDbServerFullyQualifiedDomainName: 'dst.example.com',
          DBsToMigrate: ['sales'],
          MigrationMode: 'Online',
          schemaChangeCapture: 'eventTrigger',
        },
      },
      { name: 'm1' },
      { PGUSER: 'pgadmin' },
    );
    assert.equal(spec.schemaChangeCapture, 'eventTrigger');
    assert.equal(
      parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--schema-change-capture', 'event-trigger']).spec.schemaChangeCapture,
      'eventTrigger',
    );
    const bad = inputError(() => parseCli(['create', '--name', 'm1', '--properties', 'b.json', '--schema-change-capture', 'x']));
    assert.match(bad.message, /--schema-change-capture.*must be catalog or event-trigger/);
    const failures = checkInputs({}, { ...base, schemaChangeCapture: 'ddl' });
    assert.deepEqual(
      failures.map((f) => f.property),
      ['schemaChangeCapture'],
    );
  });
});

describe('schemaChangeCapture: the table parts followed from the stream', () => {
  it('creates a unique index plainly (in the apply transaction), and a CHECK NOT VALID then validated', () => {
    const unique = {
      kind: 'index',
      name: 'orders_code',
      definition: 'CREATE UNIQUE INDEX orders_code ON public.orders USING btree (code)',
    } as const;
    const check = { kind: 'constraint', name: 'n_nonneg', definition: 'CHECK ((n >= 0))' } as const;
    const plan = planPartsFollow(table([pkey, pkeyIndex, unique, check]), table([pkey, pkeyIndex]), new Set());
    assert.deepEqual(plan.followed, ['index public.orders_code created', 'constraint n_nonneg on public.orders created']);
    assert.equal(plan.statements.length, 3);
    assert.match(plan.statements[0]!, /EXECUTE 'CREATE UNIQUE INDEX orders_code ON public\.orders USING btree \(code\);'/);
    assert.doesNotMatch(plan.statements.join('\n'), /CONCURRENTLY/);
    assert.match(plan.statements[1]!, /ADD CONSTRAINT "n_nonneg" CHECK \(\(n >= 0\)\) NOT VALID;/);
    assert.match(plan.statements[2]!, /VALIDATE CONSTRAINT "n_nonneg";/);
  });

  it('drops what the source dropped, a constraint before its index; never a foreign key; leaves a renamed column to the Relation message', () => {
    const unique = { kind: 'constraint', name: 'orders_code_key', definition: 'UNIQUE (code)' } as const;
    const uniqueIndex = {
      kind: 'index',
      name: 'orders_code_key',
      definition: 'CREATE UNIQUE INDEX orders_code_key ON public.orders USING btree (code)',
    } as const;
    const fk = {
      kind: 'constraint',
      name: 'orders_customer_fk',
      definition: 'FOREIGN KEY (c) REFERENCES public.customers(id)',
      'foreign key': true,
    } as const;
    const byLabel = {
      kind: 'index',
      name: 'orders_label',
      definition: 'CREATE INDEX orders_label ON public.orders USING btree (label)',
    } as const;
    const byTitle = { ...byLabel, definition: 'CREATE INDEX orders_label ON public.orders USING btree (title)' };
    const target = table([pkey, pkeyIndex, byLabel, unique, uniqueIndex]);
    const plan = planPartsFollow(table([pkey, pkeyIndex, byTitle, fk]), target, new Set(partKeys(target)));
    assert.deepEqual(plan.followed, ['constraint orders_code_key on public.orders dropped']);
    assert.match(plan.statements[0]!, /DROP CONSTRAINT "orders_code_key"/);
  });

  it('keeps what the target has that the migration never knew (made on the target alone)', () => {
    const mine = { kind: 'index', name: 'orders_mine', definition: 'CREATE INDEX orders_mine ON public.orders USING btree (n)' } as const;
    const known = new Set(partKeys(table([pkey, pkeyIndex])));
    const plan = planPartsFollow(table([pkey, pkeyIndex]), table([pkey, pkeyIndex, mine]), known);
    assert.deepEqual(plan.statements, []);
    assert.deepEqual(partKeys(table([mine])), ['["index","public","orders","orders_mine",""]']);
  });

  it('keeps a part someone made under the name of one pgferry made, on the table its identity was recorded on', () => {
    const ours = {
      kind: 'index',
      name: 'orders_st',
      oid: '501',
      definition: 'CREATE INDEX orders_st ON public.orders USING btree (st)',
    } as const;
    // a DBA dropped the copy's index and made their own: another OID on the same table
    const theirs = { ...ours, oid: '777', definition: 'CREATE INDEX orders_st ON public.orders USING btree (st, id)' };
    const target = table([pkey, pkeyIndex, theirs]);
    const [key] = partKeys(table([ours]));
    const identities = new Map([[key!, `${target.oid}:501:digest`]]);
    const known = new Set(partKeys(target));
    assert.deepEqual(planPartsFollow(table([pkey, pkeyIndex]), target, known, identities).statements, [], "the DBA's index is not dropped");
    // the one recorded, still there: the source's drop is followed
    const same = table([pkey, pkeyIndex, ours]);
    assert.deepEqual(planPartsFollow(table([pkey, pkeyIndex]), same, known, identities).followed, ['index public.orders_st dropped']);
  });

  it('quotes a statement holding the dollar quote it would be wrapped in', () => {
    const odd = { kind: 'constraint', name: 'odd', definition: "CHECK ((note <> '$pgferry$'::text))" } as const;
    const [add] = planPartsFollow(table([odd]), table([]), new Set()).statements;
    assert.match(add!, /^DO \$pgferry0\$ BEGIN EXECUTE 'ALTER TABLE/);
    assert.match(add!, /END \$pgferry0\$$/);
  });
});
