// Usage errors: unknown commands and flags, contradictory or missing flags — exit 2, one line.
import assert from 'node:assert/strict';
import { parseCli } from '../../provider/cli/input/parse';
import { waitDone, waitExitCode } from '../../provider/cli/wait';
import type { MigrationStatus } from '../../provider/engine';
import { runCli } from './helpers';

const USAGE_CASES: { title: string; args: string[]; field: RegExp }[] = [
  { title: 'no command', args: [], field: /command/ },
  { title: 'an unknown command', args: ['launch'], field: /command/ },
  { title: 'an unknown flag', args: ['show', '--name', 'm1', '--target-host', 'h', '--colour', 'red'], field: /--colour/ },
  { title: 'a flag of another command', args: ['list', '--target-host', 'h', '--cutover'], field: /--cutover/ },
  { title: '--cutover with --cancel', args: ['update', '--name', 'm1', '--target-host', 'h', '--cutover', '--cancel'], field: /--cutover/ },
  { title: 'update without --cutover or --cancel', args: ['update', '--name', 'm1', '--target-host', 'h'], field: /--cutover/ },
  {
    title: '--target-url with --target-host',
    args: ['show', '--name', 'm1', '--target-host', 'h', '--target-url', 'postgres://h/'],
    field: /--target-url/,
  },
  { title: 'a positional argument', args: ['show', 'm1', '--target-host', 'h'], field: /positional/ },
  { title: 'a bad --output', args: ['list', '--target-host', 'h', '--output', 'xml'], field: /--output/ },
  { title: 'a bad --filter', args: ['list', '--target-host', 'h', '--filter', 'recent'], field: /--filter/ },
  { title: 'show without --name', args: ['show', '--target-host', 'h'], field: /--name/ },
  { title: 'create without --properties', args: ['create', '--name', 'm1', '--target-host', 'h'], field: /--properties/ },
  { title: 'a flag missing its value', args: ['show', '--target-host', 'h', '--name'], field: /--name/ },
  { title: 'a bad --option', args: ['create', '--name', 'm1', '--properties', 'x.json', '--option', 'everything'], field: /--option/ },
  { title: 'show without any target', args: ['show', '--name', 'm1'], field: /target/ },
];

describe('pgferry update: per-database cutover and cancel, the overwrite confirmation', () => {
  it("reads `--cutover db1 db2` (az's older spelling) as a cutover of those databases only", () => {
    const args = parseCli(['update', '--name', 'm1', '--target-host', 'h', '--cutover', 'db1', 'db2']);
    assert.deepEqual([args.cutover, args.cancel, args.databases], [true, false, ['db1', 'db2']]);
  });

  it('reads `--cancel db1` as a cancel of that database only, and a bare --cutover as every database', () => {
    const cancel = parseCli(['update', '--name', 'm1', '--target-host', 'h', '--cancel', 'db1']);
    assert.deepEqual([cancel.cancel, cancel.databases], [true, ['db1']]);
    const all = parseCli(['update', '--name', 'm1', '--cutover', '--target-host', 'h']);
    assert.deepEqual([all.cutover, all.databases], [true, undefined]);
  });

  it('reads --overwrite-dbs-in-target alone, and refuses it beside --cutover in one line', async () => {
    assert.equal(parseCli(['update', '--name', 'm1', '--target-host', 'h', '--overwrite-dbs-in-target']).overwrite, true);
    const result = await runCli(['update', '--name', 'm1', '--target-host', 'h', '--overwrite-dbs-in-target', '--cutover']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.errLines[0]!,
      /give exactly one of --cutover, --cancel, --overwrite-dbs-in-target, --setup-replication, --start-data-migration, --db-names, --resync, --close-fallback or --fall-back/,
    );
  });

  it('reads --fall-back alone, and refuses it beside --close-fallback in one line', async () => {
    assert.equal(parseCli(['update', '--name', 'm1', '--target-host', 'h', '--fall-back', '--wait']).fallBack, true);
    const result = await runCli(['update', '--name', 'm1', '--target-host', 'h', '--fall-back', '--close-fallback']);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.errLines.length, 1, result.stderr);
    assert.match(result.errLines[0]!, /give exactly one of/);
  });

  it('reads --resume-forward beside --fall-back, and refuses it alone in one line', async () => {
    const args = parseCli(['update', '--name', 'm1', '--target-host', 'h', '--fall-back', '--resume-forward']);
    assert.equal(args.fallBack, true);
    assert.equal(args.resumeForward, true);
    assert.equal(parseCli(['update', '--name', 'm1', '--target-host', 'h', '--fall-back']).resumeForward, false);
    const result = await runCli(['update', '--name', 'm1', '--target-host', 'h', '--cutover', '--resume-forward']);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.errLines.length, 1, result.stderr);
    assert.match(result.errLines[0]!, /--resume-forward: applies only with --fall-back/);
  });

  it('reads `fence lift --server` as a command of two words, and refuses the group alone or the lift without --server in one line', async () => {
    const args = parseCli(['fence', 'lift', '--name', 'm1', '--target-host', 'h', '--server', 'Target']);
    assert.equal(args.command, 'fence lift');
    assert.equal(args.fencedServer, 'target');
    for (const [argv, line] of [
      [['fence', '--name', 'm1'], /^pgferry: command: `pgferry fence` needs one of lift /],
      [['fence', 'lift', '--name', 'm1', '--target-host', 'h'], /^pgferry fence lift: --server: required: source or target /],
      [
        ['fence', 'lift', '--name', 'm1', '--target-host', 'h', '--server', 'old'],
        /^pgferry fence lift: --server: must be source or target /,
      ],
    ] as const) {
      const result = await runCli(argv);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.errLines.length, 1, result.stderr);
      assert.match(result.errLines[0]!, line);
    }
    const help = await runCli(['fence', 'lift', '--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /Usage: pgferry fence lift/);
    assert.match(help.stdout, /--server <server>/);
  });

  it("reads az's --setup-replication and --start-data-migration, each alone", async () => {
    assert.equal(parseCli(['update', '--name', 'm1', '--target-host', 'h', '--setup-replication']).setupReplication, true);
    assert.equal(parseCli(['update', '--name', 'm1', '--target-host', 'h', '--start-data-migration']).startDataMigration, true);
    const result = await runCli(['update', '--name', 'm1', '--target-host', 'h', '--setup-replication', '--cancel']);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.errLines[0]!, /give exactly one of/);
  });
});

describe('pgferry usage errors', () => {
  for (const c of USAGE_CASES) {
    it(`refuses ${c.title} with exit 2 and one line`, async () => {
      const result = await runCli(c.args);
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.errLines.length, 1, result.stderr);
      assert.match(result.errLines[0]!, c.field);
      assert.equal(result.stdout, '');
    });
  }

  it('prints usage for --help with exit 0', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /pgferry <command>/);
    const sub = await runCli(['create', '--help']);
    assert.equal(sub.code, 0);
    assert.match(sub.stdout, /--properties <file>/);
    assert.match(sub.stdout, /--allow-replica-identity-full/);
    assert.match(sub.stdout, /--schema-change-capture <capture>/);
  });

  it('validates resume input before touching any server', async () => {
    const bad = await runCli(['resume', '--name', 'm1', '--properties', '/nonexistent.json', '--target-host', 'h']);
    assert.equal(bad.code, 2);
  });

  it('parses flags case-insensitively into the spec values', () => {
    const args = parseCli([
      'create',
      '--name',
      'm-1',
      '--properties',
      'b.json',
      '--mode',
      'ONLINE',
      '--option',
      'validate-and-migrate',
      '--target-url',
      'postgres://h/',
      '--target-ssl-mode',
      'verify-full',
      '-o',
      'json',
    ]);
    assert.equal(args.spec.mode, 'Online');
    assert.equal(args.spec.option, 'ValidateAndMigrate');
    assert.equal(args.output, 'json');
    assert.equal(args.target.sslMode, 'verify-full');
    assert.equal(args.spec.skipUnsupportedObjects, undefined);
  });

  it('takes --skip-unsupported-objects on create and resume only', async () => {
    for (const command of ['create', 'resume']) {
      const args = parseCli([command, '--name', 'm-1', '--properties', 'b.json', '--skip-unsupported-objects']);
      assert.equal(args.spec.skipUnsupportedObjects, true, command);
    }
    const refused = await runCli(['show', '--name', 'm1', '--target-host', 'h', '--skip-unsupported-objects']);
    assert.equal(refused.code, 2);
    assert.match(refused.errLines[0]!, /--skip-unsupported-objects/);
  });
});

describe('pgferry --wait outcomes', () => {
  const status = (s: Partial<MigrationStatus>): MigrationStatus =>
    ({
      name: 'm',
      state: 'InProgress',
      subState: 'MigratingData',
      mode: 'Offline',
      option: 'ValidateAndMigrate',
      createdAt: '',
      validation: [],
      databases: [],
      spec: {},
      ...s,
    }) as MigrationStatus;

  it('ends an online create at WaitingForCutoverTrigger, an offline one only at a final state', () => {
    const waiting = status({ state: 'WaitingForUserAction', subState: 'WaitingForCutoverTrigger', mode: 'Online' });
    assert.equal(waitDone('run')(waiting), true);
    assert.equal(waitExitCode('run', waiting), 0);
    // a cutover asked for and not acted on yet is waited for; one cleared again (rolled back, stopped) ends the wait
    assert.equal(waitDone('cutover')({ ...waiting, cutoverRequested: true }), false);
    assert.equal(waitDone('cutover')({ ...waiting, cutoverRequested: false, message: 'cutover rolled back: ...' }), true);
    assert.equal(waitDone('run')(status({})), false);
    assert.equal(waitDone('run')(status({ state: 'Failed' })), true);
  });

  it('exits 0 only for Succeeded, for Validate when no check failed, and for Canceled after --cancel', () => {
    assert.equal(waitExitCode('run', status({ state: 'Succeeded', subState: 'Completed' })), 0);
    assert.equal(waitExitCode('run', status({ state: 'Failed' })), 1);
    assert.equal(waitExitCode('run', status({ state: 'Canceled' })), 1);
    assert.equal(waitExitCode('cutover', status({ state: 'Succeeded', mode: 'Online' })), 0);
    assert.equal(
      waitExitCode('cutover', status({ state: 'WaitingForUserAction', subState: 'WaitingForCutoverTrigger', mode: 'Online' })),
      1,
    );
    const warn = { code: 'X', type: 't', status: 'Warning' as const, message: 'm' };
    const fail = { ...warn, status: 'Failed' as const };
    assert.equal(waitExitCode('run', status({ option: 'Validate', state: 'Succeeded', validation: [warn] })), 0);
    assert.equal(waitExitCode('run', status({ option: 'Validate', state: 'ValidationFailed', validation: [warn, fail] })), 1);
    assert.equal(waitExitCode('cancel', status({ state: 'Canceled' })), 0);
  });
});
