// A developer's loop for the offline copy (not part of `npm run bench`): the bench's two clusters
// and dataset, then runs of the tools given, each traced on one timeline every 250 ms: how busy
// the machine's CPUs were, the CPU of the source server, the target server and the tool's process
// tree in that slice, and what the target's backends were running (pg_stat_activity). It shows
// where the wall time goes: idle CPUs, the critical path (the last COPY, index build or VACUUM).
//   node dist/bench/offlineLab.js [--runs pgferry,pgcopydb,pgferry@1024] [--scale 20] [--wide-rows 500000] [--split-mb 256] [--defaults]
// (tool@N: pgferry with a split threshold of N MB for that run; --defaults: the bench's default
// settings, PostgreSQL's own, in place of the tuned set the labs keep)
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { startCluster, stopAllClusters, type Cluster } from '../provider/localpg/cluster';
import { BENCH_DB, loadDataset } from './dataset';
import { treeCpuSeconds } from './procTree';
import { benchSettings } from './settings';
import { runTool, tempWorkDir, type ToolName } from './tools';
import { readEndState } from './endState';

const log = (line: string) => process.stderr.write(`[offlineLab ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at >= 0 ? (process.argv[at + 1] ?? fallback) : fallback;
}

async function postmasterPid(cluster: Cluster): Promise<number> {
  return Number((await fs.readFile(path.join(cluster.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

/** Busy and total jiffies of the whole machine (/proc/stat's first line). */
async function machineTicks(): Promise<{ busy: number; total: number }> {
  const fields = (await fs.readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((s, n) => s + n, 0);
  const idle = fields[3]! + fields[4]!;
  return { busy: total - idle, total };
}

/** What the target's backends of the bench database run now, shortened. */
async function targetActivity(target: Cluster): Promise<string> {
  const rows = await target
    .query<{ q: string }>(
      `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 48) AS q FROM pg_stat_activity
        WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid() ORDER BY backend_start`,
      [BENCH_DB],
    )
    .catch(() => []);
  return rows.map((r) => r.q).join(' | ');
}

/** Samples the timeline until stop(); prints it. */
function traceTimeline(source: number, target: number, targetCluster: Cluster, toolRoot: () => number | undefined) {
  let running = true;
  const lines: string[] = [];
  const loop = (async () => {
    const started = Date.now();
    let last = { m: await machineTicks(), s: await treeCpuSeconds(source), t: await treeCpuSeconds(target), p: 0 };
    while (running) {
      await new Promise((r) => setTimeout(r, 250));
      const root = toolRoot();
      const now = {
        m: await machineTicks(),
        s: await treeCpuSeconds(source),
        t: await treeCpuSeconds(target),
        p: root ? await treeCpuSeconds(root) : 0,
      };
      const cpus = ((now.m.busy - last.m.busy) / (now.m.total - last.m.total || 1)) * 2;
      const dt = 0.25;
      const activity = await targetActivity(targetCluster);
      lines.push(
        `${((Date.now() - started) / 1000).toFixed(2).padStart(6)}  busy ${cpus.toFixed(2)}  src ${((now.s - last.s) / dt).toFixed(2)}  dst ${((now.t - last.t) / dt).toFixed(2)}  tool ${(Math.max(0, now.p - last.p) / dt).toFixed(2)}  ${activity}`,
      );
      last = now;
    }
  })();
  return {
    async stop(): Promise<string[]> {
      running = false;
      await loop;
      return lines;
    },
  };
}

async function main(): Promise<void> {
  const runs = option('--runs', 'pgferry,pgcopydb,pgferry').split(',');
  const scale = Number(option('--scale', '20'));
  const wideRows = Number(option('--wide-rows', '500000'));
  const splitBytes = Number(option('--split-mb', '256')) * 2 ** 20;
  const settings = benchSettings({ fsyncOff: false, tuned: !process.argv.includes('--defaults') });
  const [source, target] = await Promise.all([
    startCluster({ major: 15, label: 'olab-src', settings, password: 'offline-lab-src' }),
    startCluster({ major: 15, label: 'olab-dst', settings, password: 'offline-lab-dst' }),
  ]);
  const workDir = await tempWorkDir();
  try {
    const dataset = await loadDataset(source, { scale, wideRows });
    log(`dataset ${(dataset.databaseBytes / 1e9).toFixed(2)} GB`);
    const [sourcePid, targetPid] = [await postmasterPid(source), await postmasterPid(target)];
    for (const [i, name] of runs.entries()) {
      const [tool, splitMb] = name.split('@') as [ToolName, string | undefined];
      await target.query(`DROP DATABASE IF EXISTS ${BENCH_DB} WITH (FORCE)`);
      await target.query(`CREATE DATABASE ${BENCH_DB} TEMPLATE template0`);
      await target.query('CHECKPOINT');
      await source.query('CHECKPOINT');
      // the tool's process: the newest child of this process once it started
      const self = process.pid;
      let toolPid: number | undefined;
      const findTool = setInterval(() => {
        void fs
          .readFile(`/proc/${self}/task/${self}/children`, 'utf8')
          .then((text) => {
            const pids = text.trim().split(/\s+/).filter(Boolean).map(Number);
            toolPid = pids[pids.length - 1];
          })
          .catch(() => undefined);
      }, 50);
      const trace = traceTimeline(sourcePid, targetPid, target, () => toolPid);
      const before = [await treeCpuSeconds(sourcePid), await treeCpuSeconds(targetPid)];
      const pgferrySplitBytes = splitMb === undefined ? undefined : Number(splitMb) * 2 ** 20;
      const run = await runTool(tool, { source, target, jobs: 2, splitBytes, pgferrySplitBytes, workDir, round: i + 1, fsyncOff: false });
      const after = [await treeCpuSeconds(sourcePid), await treeCpuSeconds(targetPid)];
      clearInterval(findTool);
      const lines = await trace.stop();
      const end = await readEndState(target);
      process.stdout.write(
        `\n== run ${i + 1}: ${name} ${run.seconds.toFixed(2)} s; CPU tool ${run.toolCpuSeconds?.toFixed(2)} source ${(after[0]! - before[0]!).toFixed(2)} target ${(after[1]! - before[1]!).toFixed(2)}; ${end.line}\n`,
      );
      for (const s of run.steps) process.stdout.write(`   step ${s.step} at ${s.at.toFixed(2)} for ${s.seconds.toFixed(2)}\n`);
      for (const t of run.tables)
        process.stdout.write(`   table ${t.table} at ${t.at.toFixed(2)} for ${t.seconds.toFixed(2)} (${t.parts} parts)\n`);
      for (const [k, v] of Object.entries(run.parts)) process.stdout.write(`   ${k}: ${v.toFixed(2)}\n`);
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  } finally {
    await stopAllClusters();
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`offlineLab failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
