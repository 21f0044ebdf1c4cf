import assert from 'node:assert/strict';
import { parseMigrationSpec } from '../../provider/engine';
import { compileFilters, treatmentOf } from '../../provider/engine/filter/filters';
import { schemaPattern, tablePattern, matchesTable, type TableFilters } from '../../provider/engine/input/patterns';

const none: TableFilters = {
  includeSchemas: [],
  excludeSchemas: [],
  includeTables: [],
  excludeTables: [],
  schemaOnlyTables: [],
  dataOnlyTables: [],
};

describe('filter patterns (pg_dump syntax)', () => {
  it('matches * and ?, folds unquoted letters and keeps quoted case, dots and wildcards literal', () => {
    assert.ok(matchesTable(tablePattern('sales.order*'), 'sales', 'orders_2024'));
    assert.ok(!matchesTable(tablePattern('sales.order*'), 'salesx', 'orders'));
    assert.ok(matchesTable(tablePattern('Sales.T?'), 'sales', 't1'));
    assert.ok(!matchesTable(tablePattern('Sales.T?'), 'Sales', 't1'));
    assert.ok(matchesTable(tablePattern('"Sales"."T*"'), 'Sales', 'T*'));
    assert.ok(!matchesTable(tablePattern('"Sales"."T*"'), 'Sales', 'Tx'));
    assert.ok(matchesTable(tablePattern('"We""ird Sch.ema".*'), 'We"ird Sch.ema', 'anything'));
    assert.ok(matchesTable(tablePattern('orders'), 'any_schema', 'orders'));
    // regular-expression characters match themselves
    assert.ok(matchesTable(tablePattern('a.b[1]'), 'a', 'b[1]'));
    assert.ok(!matchesTable(tablePattern('a.b[1]'), 'a', 'b1'));
  });

  it('refuses an unclosed quote, an empty part and a third dot with one line each', () => {
    assert.throws(() => tablePattern('"sales.orders'), /unclosed double quote/);
    assert.throws(() => tablePattern('sales.'), /empty part/);
    assert.throws(() => tablePattern('db.sales.orders'), /more than one unquoted dot/);
    assert.throws(() => schemaPattern('a.b'), /unquoted dot/);
  });

  it('a bad pattern in a spec is an input error naming the field and the pattern', () => {
    const spec = { migrationName: 'm', source: { host: 'a', user: 'u' }, target: { host: 'b', user: 'u' }, databases: ['d'] };
    assert.throws(
      () => parseMigrationSpec({ ...spec, excludeTables: ['ok', '"open'] }),
      (e: Error & { code?: string; field?: string }) =>
        e.code === 'INVALID_INPUT' && /excludeTables/.test(`${e.field} ${e.message}`) && /unclosed/.test(e.message),
    );
  });

  it('judges include, exclude, schema-only and data-only in that order', () => {
    const f = compileFilters({
      ...none,
      includeSchemas: ['sales', 'hr'],
      excludeTables: ['sales.tmp_*'],
      schemaOnlyTables: ['hr.*'],
      dataOnlyTables: ['sales.staging'],
    });
    assert.equal(treatmentOf(f, 'sales', 'orders'), 'moves');
    assert.equal(treatmentOf(f, 'sales', 'tmp_1'), 'left-out');
    assert.equal(treatmentOf(f, 'audit', 'log'), 'left-out');
    assert.equal(treatmentOf(f, 'hr', 'people'), 'schema-only');
    assert.equal(treatmentOf(f, 'sales', 'staging'), 'data-only');
    assert.equal(compileFilters(none).active, false);
  });
});
