// A migration created without DBsToMigrate, as Azure accepts one: it waits in InProgress /
// WaitingForDBsToMigrateSpecification with nothing changed on either server, until an update names
// the databases (az's `update --db-names`, or an update body with dbsToMigrate, Azure's PATCH).
// Bad names in that update get the one-line errors of a create and change nothing; a cancel while
// it waits changes nothing; a validation-only migration validates the databases named and changes
// nothing. Every check reads the servers or the target's catalog back.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPair, until, type ServerPair } from '../support';
import { runCli, type CliResult } from './helpers';

interface Shown {
  properties: {
    dbsToMigrate?: string[];
    currentStatus: { state: string; currentSubStateDetails: { currentSubState: string } };
    pgferry: { databases: { database: string }[] };
  };
}

describe('dbsToMigrate named after the create: WaitingForDBsToMigrateSpecification (integration)', function () {
  this.timeout(300_000);
  let pair: ServerPair;
  let cwd: string;
  let env: Record<string, string>;
  const run = (argv: string[]): Promise<CliResult> => runCli(argv, env, 120_000, undefined, cwd);
  const az = ['--subscription', 'sub', '--resource-group', 'rg', '--name', 'myflexibleserver'];
  const show = async (migration: string): Promise<Shown> => {
    const result = await run(['show', ...az, '--migration-name', migration, '-o', 'json']);
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as Shown;
  };
  const subState = (s: Shown) => s.properties.currentStatus.currentSubStateDetails.currentSubState;
  /** A create body without DBsToMigrate. */
  const create = async (migration: string, extra: string[] = []): Promise<void> => {
    writeFileSync(
      path.join(cwd, `${migration}.json`),
      JSON.stringify({ properties: { SourceDBServerResourceId: `${pair.source.host}:${pair.source.port}@postgres` } }),
    );
    const created = await run(['create', ...az, '--migration-name', migration, '--properties', `${migration}.json`, ...extra]);
    assert.equal(created.code, 0, created.stderr);
  };
  /** The runner's wait, read back from the catalog (the registered substate is the same, so a runner event too). */
  const waiting = (migration: string) =>
    until(`${migration} to wait for its databases`, async () => {
      const s = await show(migration);
      return subState(s) === 'WaitingForDBsToMigrateSpecification' && s.properties.currentStatus.state === 'InProgress' ? s : undefined;
    });
  /** What the servers hold that a migration could have changed: target databases, source slots and publications. */
  const footprint = async () => ({
    targetDatabases: (await pair.target.query<{ datname: string }>('SELECT datname FROM pg_database ORDER BY 1')).map((r) => r.datname),
    slots: (await pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_replication_slots'))[0]!.n,
    publications: (await pair.source.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_publication', [], 'later1'))[0]!.n,
  });

  before(async () => {
    pair = await startPair();
    cwd = mkdtempSync(path.join(os.tmpdir(), 'pgferry-dbslater-'));
    for (const db of ['later1', 'later2']) {
      await pair.source.query(`CREATE DATABASE ${db}`);
      await pair.source.query(
        `CREATE TABLE entries (id int PRIMARY KEY, note text); INSERT INTO entries SELECT g, 'n' || g FROM generate_series(1, 100) g`,
        [],
        db,
      );
    }
    assert.equal(pair.source.password, pair.target.password);
    env = {
      PGFERRY_SERVER_HOSTS: `myflexibleserver=postgres@${pair.target.host}:${pair.target.port}?sslmode=prefer`,
      PGPASSWORD: pair.target.password,
    };
  });
  after(async () => {
    if (cwd) rmSync(cwd, { recursive: true, force: true });
    await pair?.stop();
  });

  it('waits with nothing changed, refuses bad names in one line, then migrates the databases an update body names', async () => {
    await namedByBody(run, create, waiting, show, footprint, pair);
  });

  it('a cancel while it waits ends it Canceled and changes nothing on either server', async () => {
    const before = await footprint();
    await create('waitcancel', ['--migration-mode', 'online']);
    await waiting('waitcancel');
    const canceled = await run(['update', ...az, '--migration-name', 'waitcancel', '--cancel', '--wait']);
    assert.equal(canceled.code, 0, canceled.stderr);
    assert.equal((await show('waitcancel')).properties.currentStatus.state, 'Canceled');
    assert.deepEqual(await footprint(), before);
    const late = await run(['update', ...az, '--migration-name', 'waitcancel', '--db-names', 'later1']);
    assert.equal(late.code, 2, late.stderr);
    assert.equal(late.errLines.length, 1, late.stderr);
    assert.match(
      late.errLines[0]!,
      /--db-names: migration "waitcancel" is already Canceled; it may be given only in WaitingForDBsToMigrateSpecification/,
    );
    assert.deepEqual((await show('waitcancel')).properties.pgferry.databases, [], 'no database recorded');
  });

  it('a validation-only migration validates the databases --db-names names, and changes nothing', async () => {
    const before = await footprint();
    await create('waitvalidate', ['--migration-option', 'Validate', '--migration-mode', 'online']);
    await waiting('waitvalidate');
    const named = await run(['update', ...az, '--migration-name', 'waitvalidate', '--db-names', 'later2', '--wait']);
    assert.equal(named.code, 0, named.stderr);
    const done = await until('the validation to end', async () => {
      const s = await show('waitvalidate');
      return s.properties.currentStatus.state === 'Succeeded' ? s : undefined;
    });
    assert.equal(subState(done), 'Completed');
    assert.deepEqual(done.properties.dbsToMigrate, ['later2']);
    assert.deepEqual(await footprint(), before);
  });
});

/** The first scenario, on its own: created, waiting, bad names refused, named, copied. */
async function namedByBody(
  run: (argv: string[]) => Promise<CliResult>,
  create: (migration: string, extra?: string[]) => Promise<void>,
  waiting: (migration: string) => Promise<Shown>,
  show: (migration: string) => Promise<Shown>,
  footprint: () => Promise<unknown>,
  pair: ServerPair,
): Promise<void> {
  const az = ['--subscription', 'sub', '--resource-group', 'rg', '--name', 'myflexibleserver', '--migration-name', 'waitdbs'];
  const before = await footprint();
  await create('waitdbs');
  const shown = await waiting('waitdbs');
  assert.deepEqual(shown.properties.pgferry.databases, []);
  assert.deepEqual(await footprint(), before, 'nothing changed while it waits');
  // list and show's table print the substate too
  const listed = await run(['list', '--subscription', 'sub', '--resource-group', 'rg', '--name', 'myflexibleserver']);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /waitdbs +Offline +InProgress +WaitingForDBsToMigrateSpecification/);
  // the runner's message (written once it took the migration up) says how to name them
  const table = await until('the runner to say how to name the databases', async () => {
    const t = await run(['show', ...az]);
    return /created without dbsToMigrate: the migration waits for the databases to migrate/.test(t.stdout) ? t : undefined;
  });
  assert.match(table.stdout, /WaitingForDBsToMigrateSpecification/);

  // the same one-line errors as a create body's, and nothing recorded
  for (const [argv, pattern] of [
    [['--db-names', 'later1', 'later1'], /^pgferry update: --db-names: must not name a database twice/],
    [['--db-names', 'postgres'], /^pgferry update: --db-names: must not include "postgres", the target's maintenance database/],
    [
      ['--properties', JSON.stringify({ properties: { dbsToMigrate: ['template0'] } })],
      /^pgferry update: properties\.dbsToMigrate: must not include template0 or template1/,
    ],
  ] as const) {
    const refused = await run(['update', ...az, ...argv]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.equal(refused.errLines.length, 1, refused.stderr);
    assert.match(refused.errLines[0]!, pattern);
  }
  const still = await show('waitdbs');
  assert.equal(still.properties.currentStatus.currentSubStateDetails.currentSubState, 'WaitingForDBsToMigrateSpecification');
  assert.deepEqual(still.properties.pgferry.databases, []);
  assert.deepEqual(await footprint(), before);

  // Azure's PATCH of dbsToMigrate: the migration goes on with them
  const named = await run(['update', ...az, '--properties', JSON.stringify({ properties: { dbsToMigrate: ['later1'] } }), '--wait']);
  assert.equal(named.code, 0, named.stderr);
  const done = await until('the offline migration to end', async () => {
    const s = await show('waitdbs');
    return ['Succeeded', 'Failed', 'ValidationFailed'].includes(s.properties.currentStatus.state) ? s : undefined;
  });
  assert.equal(done.properties.currentStatus.state, 'Succeeded', JSON.stringify(done.properties.currentStatus));
  assert.deepEqual(done.properties.dbsToMigrate, ['later1']);
  const rows = await pair.target.query<{ n: number; s: string }>(
    'SELECT count(*)::int AS n, sum(id)::text AS s FROM entries',
    [],
    'later1',
  );
  assert.deepEqual(rows[0], { n: 100, s: '5050' });
  assert.equal((await pair.target.query(`SELECT 1 FROM pg_database WHERE datname = 'later2'`)).length, 0, 'only the named database');

  // named once: another list is refused, the same list again changes nothing
  const again = await run(['update', ...az, '--db-names', 'later2']);
  assert.equal(again.code, 2, again.stderr);
  assert.match(again.errLines[0]!, /--db-names: migration "waitdbs" is already Succeeded/);
}
