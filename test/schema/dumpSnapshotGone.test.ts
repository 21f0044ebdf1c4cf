// pg_dump reads the schema in the copy's exported snapshot, which the copy holds until the dump
// ends. A snapshot pg_dump cannot import went away with the session that held it (a reset, a
// restart): that failure is transient, so the database's copy starts again instead of failing the
// migration (a fault campaign trial, a source reset at streaming#10, once failed here).
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { isRetryable } from '../../provider/engine/connect/sqlstate';
import { isPgferryError } from '../../provider/engine/core/errors';
import { dumpSchema } from '../../provider/engine/schema/dumpRestore';
import { serverSpec, startCluster, type Cluster } from '../support';

const BIN = '/usr/lib/postgresql/15/bin';
const tools = {
  binDir: BIN,
  pgDump: path.join(BIN, 'pg_dump'),
  pgRestore: path.join(BIN, 'pg_restore'),
  pgDumpall: path.join(BIN, 'pg_dumpall'),
};

describe('pg_dump in a snapshot that is gone', function () {
  this.timeout(120_000);
  let source: Cluster;
  before(async () => {
    source = await startCluster({ major: 15, label: 'dump-snap' });
    await source.query('CREATE DATABASE shop');
  });
  after(async () => source?.stop());

  const dump = (snapshot?: string, file = path.join(os.tmpdir(), `pgferry-dump-snap-${process.pid}.dump`)) =>
    dumpSchema({ tools, source: serverSpec(source), database: 'shop', ...(snapshot === undefined ? {} : { snapshot }), file });

  it('is a transient failure, retried like a lost connection', async () => {
    const error = await dump('00000003-0000000F-1').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isPgferryError(error) && error.code === 'SCHEMA_DUMP', String(error));
    assert.match(error.message, /invalid snapshot identifier/);
    assert.equal(isRetryable(error), true);
  });

  it('a dump that fails for another reason (its file cannot be written) is not', async () => {
    const error = await dump(undefined, '/nonexistent-pgferry-dir/schema.dump').then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isPgferryError(error) && error.code === 'SCHEMA_DUMP', String(error));
    assert.equal(isRetryable(error), false);
  });
});
