// `pgferry demo`: embedded source and target servers (or two the user has: --source-url,
// --target-url), the lab's AdventureWorks sample (68 tables), an offline migration with progress and
// verification, then the seeds' online scenario over the same database (a row inserted on the
// source while streaming, cutover, the row read back). A machine that cannot run it is told why
// and what to do (prerequisites.ts).
import {
  parseMigrationSpec,
  requestCutover,
  runMigration,
  startMigration,
  waitForMigration,
  type MigrationSpec,
  type MigrationStatus,
  type ProgressEvent,
  FINAL_STATES,
} from '../engine';
import { startConsole, type RunningConsole } from '../console/command';
import { stopAllClusters } from '../localpg/cluster';
import {
  ADVENTUREWORKS_DATABASE as SAMPLE_DATABASE,
  ADVENTUREWORKS_READINESS_SQL,
  ADVENTUREWORKS_READY_ANSWER,
  ADVENTUREWORKS_SQL,
} from './adventureworks/script';
import { ident } from '../engine';
import { existingServersHint, inspectMachine, ownServersNotes, ownServersProblems, type DemoMachine } from './prerequisites';
import { existingServers, existingServersProblems, startOwnServers, type DemoServer, type DemoServers } from './servers';

type Print = (line: string) => void;

function describeEvent(event: ProgressEvent): string | undefined {
  switch (event.kind) {
    case 'step-done':
      return `  ${event.step} (${event.seconds.toFixed(1)} s)`;
    case 'table-done':
      return `    ${event.table.padEnd(44)} ${String(event.rows).padStart(8)} rows ${(event.bytes / 1024 / 1024).toFixed(1).padStart(7)} MB`;
    case 'warning':
      return `  warning: ${event.message}`;
    default:
      return undefined;
  }
}

function summary(status: MigrationStatus, print: Print): void {
  print(`state: ${status.state} / ${status.subState}${status.message ? ` (${status.message})` : ''}`);
  for (const db of status.databases) {
    print(
      `  ${db.database}: ${db.state}, tables ${db.tables.completed}/${db.tables.total}, ${db.rowsCopied} rows, ${(db.bytesCopied / 1024 / 1024).toFixed(1)} MB` +
        (status.mode === 'Online' ? `, cdc +${db.inserts}/~${db.updates}/-${db.deletes}` : ''),
    );
  }
  if (status.verification) {
    const v = status.verification;
    // The verification's list also holds "(large objects)" and "(sequences)": count the tables alone.
    const tables = v.tables.filter((t) => !t.table.startsWith('(')).length;
    print(
      `verification: ${v.ok ? 'identical' : `MISMATCH: ${v.firstMismatch}`} (${tables} tables compared by row count and checksum, with large objects and sequences)`,
    );
  }
}

/** Creates the sample database on the source and checks it holds what the Azure lab counts. */
async function loadSample(source: DemoServer, print: Print): Promise<void> {
  print(`loading the lab's AdventureWorks sample into "${SAMPLE_DATABASE}" on the source ...`);
  await source.query(`CREATE DATABASE ${ident(SAMPLE_DATABASE)}`);
  await source.query(ADVENTUREWORKS_SQL, [], SAMPLE_DATABASE);
  const [{ ready: answer }] = (await source.query(ADVENTUREWORKS_READINESS_SQL, [], SAMPLE_DATABASE)) as [{ ready: string }];
  if (answer !== ADVENTUREWORKS_READY_ANSWER)
    throw new Error(`the sample loaded wrong: ${answer}, expected ${ADVENTUREWORKS_READY_ANSWER}`);
  print(`source: ${answer.replace('tables=', 'tables ').replace('departments=', 'humanresources.department rows ')}`);
}

function specFor(servers: DemoServers, migrationName: string, mode: 'Offline' | 'Online'): MigrationSpec {
  return parseMigrationSpec({
    migrationName,
    source: servers.source.input,
    target: servers.target.input,
    databases: [SAMPLE_DATABASE],
    mode,
    option: 'ValidateAndMigrate',
    overwriteDbsInTarget: mode === 'Online',
  });
}

async function offlineMigration(servers: DemoServers, name: string, print: Print): Promise<boolean> {
  print(`\n== offline migration "${name}" ==`);
  const onProgress = (e: ProgressEvent) => {
    const line = describeEvent(e);
    if (line) print(line);
  };
  const offline = await runMigration(specFor(servers, name, 'Offline'), { onProgress });
  summary(offline, print);
  return offline.state === 'Succeeded';
}

/** Waits until a row inserted on the source is on the target. */
async function rowArrives(target: DemoServer, print: Print): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = await target.query(`SELECT name FROM humanresources.department WHERE departmentid = 17`, [], SAMPLE_DATABASE);
    if (rows.length > 0) break;
    if (Date.now() > deadline) throw new Error('the inserted row did not reach the target within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  print('target: the row arrived while streaming; requesting the cutover ...');
}

/**
 * The web console on the target while the online migration runs (`pgferry console`): on port 8080,
 * or any free one when 8080 is taken. The demo goes on without it when it cannot start.
 */
async function openConsole(target: MigrationSpec['target'], print: Print): Promise<RunningConsole | undefined> {
  for (const port of [8080, 0]) {
    try {
      const running = await startConsole({ target, port });
      print(`console: ${running.url} (the migrations' pages in a browser, \`pgferry console\`; open while the online migration runs)`);
      return running;
    } catch (error) {
      if (port === 0) print(`console: not started (${(error as Error).message})`);
    }
  }
  return undefined;
}

/** Starts the online migration with the console open on it, writes on the source while it streams, then cuts over. */
async function onlineMigration(servers: DemoServers, name: string, print: Print): Promise<boolean> {
  print(`\n== online migration "${name}" (overwriting the target database) ==`);
  const onlineSpec = specFor(servers, name, 'Online');
  await startMigration(onlineSpec);
  const running = await openConsole(onlineSpec.target, print);
  try {
    return await streamAndCutOver(servers, onlineSpec, print);
  } finally {
    await running?.close();
  }
}

async function streamAndCutOver(servers: DemoServers, onlineSpec: MigrationSpec, print: Print): Promise<boolean> {
  const { source, target } = servers;
  const name = onlineSpec.migrationName;
  const targetServer = onlineSpec.target;
  const streaming = await waitForMigration(
    targetServer,
    name,
    (s) => s.subState === 'WaitingForCutoverTrigger' || FINAL_STATES.has(s.state),
    { intervalMs: 500, timeoutMs: 300_000 },
  );
  summary(streaming, print);
  if (streaming.subState !== 'WaitingForCutoverTrigger') return false;

  const insert = `INSERT INTO humanresources.department VALUES (17, 'Logistics', 'Inventory Management', DEFAULT)`;
  print(`source: ${insert}`);
  await source.query(insert, [], SAMPLE_DATABASE);
  await rowArrives(target, print);
  await requestCutover(targetServer, name);
  const done = await waitForMigration(targetServer, name, (s) => FINAL_STATES.has(s.state), {
    intervalMs: 250,
    timeoutMs: 300_000,
  });
  summary(done, print);
  if (done.downtimeSeconds !== undefined) print(`cutover downtime: ${done.downtimeSeconds.toFixed(2)} s`);
  const rows = await target.query(
    `SELECT departmentid, name, groupname FROM humanresources.department WHERE departmentid = 17`,
    [],
    SAMPLE_DATABASE,
  );
  print(`target: ${JSON.stringify(rows)}`);
  const [{ n }] = (await target.query('SELECT count(*)::int AS n FROM humanresources.department', [], SAMPLE_DATABASE)) as [{ n: number }];
  // The tutorial's portal shows 69 "tables copied" here: its 68 plus the online tool's own
  // bookkeeping table on the source (lab-stack/README.md, "The lab's own data"). pgferry keeps no table on the
  // source, so the count to compare is the 68 tables and the 17th department.
  print(`target: humanresources.department has ${n} rows (the 16 of the offline copy and the one streamed)`);
  return done.state === 'Succeeded' && rows.length === 1 && n === 17;
}

export interface DemoOptions {
  /** Two servers the user has (server inputs, as --source-url and --target-url give them) instead of the demo's own. */
  readonly servers?: { readonly source: Record<string, unknown>; readonly target: Record<string, unknown> };
  /** The machine's facts; inspected when not given (tests give their own). */
  readonly machine?: DemoMachine;
  /** Where a refusal is printed (the command's stderr); `print` when not given. */
  readonly printError?: Print;
  /** How the demo was started, for the hint (`npm run demo --`, `pgferry demo`). */
  readonly command?: string;
}

/** The demo's servers, or undefined after printing why it cannot run and what to do. */
async function demoServers(options: DemoOptions, print: Print): Promise<DemoServers | undefined> {
  const printError = options.printError ?? print;
  const hint = existingServersHint(options.command ?? 'pgferry demo', SAMPLE_DATABASE);
  if (options.servers) {
    const servers = await existingServers(options.servers.source, options.servers.target, SAMPLE_DATABASE);
    const problems = await existingServersProblems(servers, SAMPLE_DATABASE);
    if (problems.length === 0) return servers;
    for (const line of ['pgferry demo cannot use these servers (nothing was changed on them):', ...problems.map((p) => `  - ${p}`)])
      printError(line);
    return undefined;
  }
  const machine = options.machine ?? (await inspectMachine());
  const problems = ownServersProblems(machine);
  if (problems.length > 0) {
    for (const line of ['pgferry demo cannot start its own PostgreSQL servers here:', ...problems.map((p) => `  - ${p}`), ...hint])
      printError(line);
    return undefined;
  }
  for (const note of ownServersNotes(machine)) print(note);
  return startOwnServers();
}

/** Migration names: the lab's on the demo's own servers; on the user's, stamped so a later run's never collide. */
function migrationNames(servers: DemoServers): { offline: string; online: string } {
  if (!servers.existing) return { offline: 'offlinemigration', online: 'onlinemigration' };
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  return { offline: `offlinemigration-${stamp}`, online: `onlinemigration-${stamp}` };
}

export async function runDemo(print: Print = (line) => console.log(line), options: DemoOptions = {}): Promise<number> {
  const started = Date.now();
  try {
    const servers = await demoServers(options, print);
    if (!servers) return 1;
    print(`source: ${servers.source.label}; target: ${servers.target.label}`);
    const names = migrationNames(servers);
    await loadSample(servers.source, print);
    if (!(await offlineMigration(servers, names.offline, print))) return 1;
    const ok = await onlineMigration(servers, names.online, print);
    print(`\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (servers.existing) {
      print(
        `left for you to look at: database "${SAMPLE_DATABASE}" on both servers (DROP DATABASE ${SAMPLE_DATABASE} on each before running the demo again) and migrations ${names.offline} and ${names.online} in the target's catalog (pgferry list --filter all)`,
      );
    }
    return ok ? 0 : 1;
  } finally {
    await stopAllClusters();
  }
}
