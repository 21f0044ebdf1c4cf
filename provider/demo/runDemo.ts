// `pgferry demo`: embedded source and target servers (or two the user has: --source-url,
// --target-url), the lab's AdventureWorks sample (68 tables), an offline migration with progress and
// verification, then the seeds' online scenario over the same database (a row inserted on the
// source while streaming, cutover, the row read back). On its own servers the online part's
// cutover goes through a local PgBouncer a shop writes through on one connection (pooledApp.ts),
// or, with no PgBouncer on the machine, fences the source's writers. A machine that cannot run it
// is told why and what to do (prerequisites.ts).
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
import { existingServersHint, inspectMachine, ownServersNotes, ownServersProblems, poolerMissing, type DemoMachine } from './prerequisites';
import { POOLED_CART_PREFIX, PooledShop } from './pooledApp';
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

/**
 * How the online part cuts over: through the shop's pooler, with the writer fence (its own servers
 * without PgBouncer), or neither (the user's servers, on which the demo changes nothing but its database).
 */
export type DemoCutover = { readonly way: 'pooler'; readonly shop: PooledShop } | { readonly way: 'fence' | 'none' };

function specFor(servers: DemoServers, migrationName: string, mode: 'Offline' | 'Online', cutover?: DemoCutover): MigrationSpec {
  return parseMigrationSpec({
    migrationName,
    source: servers.source.input,
    target: servers.target.input,
    databases: [SAMPLE_DATABASE],
    mode,
    option: 'ValidateAndMigrate',
    overwriteDbsInTarget: mode === 'Online',
    ...(cutover?.way === 'pooler' ? { pooler: cutover.shop.poolerInput() } : {}),
    ...(cutover?.way === 'fence' ? { fenceWriters: true } : {}),
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

/** How the online part cuts over on these servers: the shop's pooler when PgBouncer is here, else the fence; on the user's servers, neither. */
export async function demoCutover(servers: DemoServers, machine: DemoMachine | undefined, print: Print): Promise<DemoCutover> {
  if (servers.existing || !machine) return { way: 'none' };
  const missing = poolerMissing(machine);
  if (missing) {
    print(missing);
    return { way: 'fence' };
  }
  const shop = await PooledShop.open(servers.source, servers.target, SAMPLE_DATABASE);
  print(
    `pooler: PgBouncer on ${shop.pooler.host}:${shop.pooler.port} in front of the source's "${SAMPLE_DATABASE}" (transaction pooling); a shop writes through it on one connection`,
  );
  return { way: 'pooler', shop };
}

/**
 * Starts the online migration with the console open on it, writes on the source while it streams
 * (through the pooler too, when it cuts over through one), then cuts over; true when it succeeded
 * and the target holds what was written.
 */
export async function onlineMigration(servers: DemoServers, name: string, print: Print, cutover: DemoCutover): Promise<boolean> {
  print(`\n== online migration "${name}" (overwriting the target database) ==`);
  const onlineSpec = specFor(servers, name, 'Online', cutover);
  await startMigration(onlineSpec);
  const running = await openConsole(onlineSpec.target, print);
  try {
    return await streamAndCutOver(servers, onlineSpec, print, cutover);
  } finally {
    await running?.close();
  }
}

/** How the demo says the cutover will reach the applications. */
function cutoverSaying(cutover: DemoCutover): string {
  switch (cutover.way) {
    case 'pooler':
      return 'through the pooler: PgBouncer pauses, pgferry drains and verifies, points it at the target and resumes it';
    case 'fence':
      return "with the writer fence: the source's writers are ended and refused from the fence on";
    case 'none':
      return 'without a pooler or a fence: moving the applications is left to you';
  }
}

/**
 * After a cutover through the pooler: the shop's carts read back on the target (each committed one
 * there once, none other), its one connection asked where it runs now, and what it saw said.
 */
async function shopAfterCutover(target: DemoServer, shop: PooledShop, done: MigrationStatus, print: Print): Promise<boolean> {
  await shop.stopWriting();
  const port = await shop.serverPort().catch((error: unknown) => {
    shop.errors.push(`after the cutover: ${(error as Error).message}`);
    return undefined;
  });
  const rows = await target.query<{ cart: string; n: number }>(
    `SELECT shoppingcartid AS cart, count(*)::int AS n FROM sales.shoppingcartitem WHERE shoppingcartid LIKE $1 GROUP BY 1`,
    [`${POOLED_CART_PREFIX}%`],
    SAMPLE_DATABASE,
  );
  const onTarget = new Map(rows.map((r) => [r.cart, r.n]));
  const once = shop.committed.filter((cart) => onTarget.get(cart) === 1).length;
  const extra = rows.filter((r) => !shop.committed.includes(r.cart)).length;
  const pause = done.databases.find((d) => d.database === SAMPLE_DATABASE)?.poolerPause;
  const targetPort = Number(target.input.port);
  const errors = shop.errors.length === 0 ? 'no error' : `${shop.errors.length} errors (${shop.errors[0]})`;
  print(
    `application: ${shop.committed.length} carts written through the pooler on one connection, ${errors}; ` +
      (port === targetPort
        ? `its connection kept and now on the target (port ${port})`
        : `its session is on port ${port ?? 'none'}, not the target's`),
  );
  print(
    `target: ${once} of the ${shop.committed.length} carts written through the pooler are there once each` +
      (extra > 0 ? `, and ${extra} carts the shop never committed` : ''),
  );
  if (pause?.pauseSeconds !== undefined) {
    print(
      `cutover through the pooler: the application's statements waited ${pause.pauseSeconds.toFixed(2)} s in PgBouncer's pause, then ran on the ${pause.resumedOn ?? 'target'}`,
    );
  }
  return shop.errors.length === 0 && port === targetPort && once === shop.committed.length && shop.committed.length > 0 && extra === 0;
}

/** Waits until the shop has committed `count` carts through the pooler (or met an error). */
async function shopWrote(shop: PooledShop, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (shop.committed.length < count && shop.errors.length === 0) {
    if (Date.now() > deadline)
      throw new Error(`the shop wrote ${shop.committed.length} carts through the pooler within 60 s, not ${count}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function streamAndCutOver(servers: DemoServers, onlineSpec: MigrationSpec, print: Print, cutover: DemoCutover): Promise<boolean> {
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
  if (cutover.way === 'pooler') {
    cutover.shop.startWriting();
    await shopWrote(cutover.shop, 20);
    print(`application: writing shopping carts through the pooler (${cutover.shop.committed.length} so far), on one connection it keeps`);
  }

  const insert = `INSERT INTO humanresources.department VALUES (17, 'Logistics', 'Inventory Management', DEFAULT)`;
  print(`source: ${insert}`);
  await source.query(insert, [], SAMPLE_DATABASE);
  await rowArrives(target, print);
  print(`cutover: ${cutoverSaying(cutover)}`);
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
  const shopOk = cutover.way === 'pooler' ? await shopAfterCutover(target, cutover.shop, done, print) : true;
  return done.state === 'Succeeded' && rows.length === 1 && n === 17 && shopOk;
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

/** The demo's servers (and, for its own, the machine's facts), or undefined after printing why it cannot run and what to do. */
async function demoServers(options: DemoOptions, print: Print): Promise<{ servers: DemoServers; machine?: DemoMachine } | undefined> {
  const printError = options.printError ?? print;
  const hint = existingServersHint(options.command ?? 'pgferry demo', SAMPLE_DATABASE);
  if (options.servers) {
    const servers = await existingServers(options.servers.source, options.servers.target, SAMPLE_DATABASE);
    const problems = await existingServersProblems(servers, SAMPLE_DATABASE);
    if (problems.length === 0) return { servers };
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
  return { servers: await startOwnServers(), machine };
}

/** Migration names: the lab's on the demo's own servers; on the user's, stamped so a later run's never collide. */
function migrationNames(servers: DemoServers): { offline: string; online: string } {
  if (!servers.existing) return { offline: 'offlinemigration', online: 'onlinemigration' };
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  return { offline: `offlinemigration-${stamp}`, online: `onlinemigration-${stamp}` };
}

export async function runDemo(print: Print = (line) => console.log(line), options: DemoOptions = {}): Promise<number> {
  const started = Date.now();
  let cutover: DemoCutover | undefined;
  try {
    const found = await demoServers(options, print);
    if (!found) return 1;
    const { servers } = found;
    print(`source: ${servers.source.label}; target: ${servers.target.label}`);
    const names = migrationNames(servers);
    await loadSample(servers.source, print);
    if (!(await offlineMigration(servers, names.offline, print))) return 1;
    cutover = await demoCutover(servers, found.machine, print);
    const ok = await onlineMigration(servers, names.online, print, cutover);
    print(`\ndemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    if (servers.existing) {
      print(
        `left for you to look at: database "${SAMPLE_DATABASE}" on both servers (DROP DATABASE ${SAMPLE_DATABASE} on each before running the demo again) and migrations ${names.offline} and ${names.online} in the target's catalog (pgferry list --filter all)`,
      );
    }
    return ok ? 0 : 1;
  } finally {
    if (cutover?.way === 'pooler') await cutover.shop.close();
    await stopAllClusters();
  }
}
