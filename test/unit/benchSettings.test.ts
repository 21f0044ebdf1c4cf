// The bench's server settings (bench/settings.ts), native's subscription options
// (bench/consumers.ts) and the offline summary's choice of pgcopydb's faster way (bench/report.ts).
import assert from 'node:assert/strict';
import { nativeSubscriptionOptions } from '../../bench/consumers';
import type { OfflineRun } from '../../bench/offline';
import { offlineSummaryText, summarizeOffline } from '../../bench/report';
import { benchSettings, settingsLabel } from '../../bench/settings';
import type { ToolName } from '../../bench/tools';

/** One offline run of `tool` in `round` taking `seconds`: only what the summary reads. */
function run(tool: ToolName, round: number, seconds: number): OfflineRun {
  return {
    tool,
    round,
    seconds,
    memory: { peakRssBytes: 2 ** 20, peakPssBytes: 2 ** 20, peakProcesses: 1, samples: 1 },
    parts: {},
    steps: [],
    tables: [],
    countsOk: true,
    countsLine: 'ok',
    serverCpuSeconds: { source: 0, target: 0 },
  };
}

/** Settings as one line of name=value pairs, in their order. */
const line = (settings: Readonly<Record<string, string>>) =>
  Object.entries(settings)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

describe('bench settings (bench/settings.ts)', () => {
  it("by default: PostgreSQL's defaults with durability and autovacuum on, plus logical WAL and 16 slots and senders", () => {
    assert.equal(
      line(benchSettings()),
      "shared_buffers='128MB' max_wal_size='1GB' checkpoint_timeout='5min' maintenance_work_mem='64MB' wal_buffers=-1 " +
        'autovacuum=on max_connections=100 wal_level=logical max_replication_slots=16 max_wal_senders=16 ' +
        'fsync=on synchronous_commit=on full_page_writes=on wal_init_zero=on',
    );
  });

  it('--tuned raises memory and WAL and turns autovacuum off, durability still on', () => {
    assert.equal(
      line(benchSettings({ fsyncOff: false, tuned: true })),
      "shared_buffers='512MB' max_wal_size='8GB' checkpoint_timeout='30min' maintenance_work_mem='256MB' wal_buffers='16MB' " +
        'autovacuum=off max_connections=100 wal_level=logical max_replication_slots=16 max_wal_senders=16 ' +
        'fsync=on synchronous_commit=on full_page_writes=on wal_init_zero=on',
    );
  });

  it('--fsync-off turns the four durability settings off and nothing else', () => {
    const off = benchSettings({ fsyncOff: true, tuned: false });
    const on = benchSettings();
    for (const key of ['fsync', 'synchronous_commit', 'full_page_writes', 'wal_init_zero']) assert.equal(off[key], 'off', key);
    assert.deepEqual({ ...off, fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on', wal_init_zero: 'on' }, on);
  });

  it('the settings label names each labelled extra, and none at the defaults', () => {
    assert.doesNotMatch(settingsLabel({ fsyncOff: false, tuned: false }), /LABELLED EXTRA/);
    assert.match(settingsLabel({ fsyncOff: false, tuned: true }), /LABELLED EXTRA --tuned/);
    const both = settingsLabel({ fsyncOff: true, tuned: true });
    assert.match(both, /--tuned/);
    assert.match(both, /--fsync-off/);
  });
});

describe("native's subscription options (bench/consumers.ts)", () => {
  it('binary and streaming from 14, streaming in parallel from 16, none before 14, by the older server', () => {
    assert.deepEqual(nativeSubscriptionOptions(13, 15), []);
    assert.deepEqual(nativeSubscriptionOptions(15, 15), ['binary = true', 'streaming = on']);
    assert.deepEqual(nativeSubscriptionOptions(14, 17), ['binary = true', 'streaming = on']);
    assert.deepEqual(nativeSubscriptionOptions(16, 17), ['binary = true', 'streaming = parallel']);
  });
});

describe("the offline summary's pgcopydb at its best (bench/report.ts)", () => {
  it('takes the way with the lower median wall as pgcopydb and sets the other beside it', () => {
    const runs = [
      run('pgferry', 1, 6),
      run('pgcopydb', 1, 8),
      run('pgcopydb-split', 1, 10),
      run('pgferry', 2, 6),
      run('pgcopydb', 2, 12),
      run('pgcopydb-split', 2, 9),
      run('pgferry', 3, 9),
      run('pgcopydb', 3, 8),
      run('pgcopydb-split', 3, 11),
    ];
    const summary = summarizeOffline(runs);
    assert.equal(summary.pgcopydbBest, 'pgcopydb');
    assert.equal(summary.pgcopydbOther, 'pgcopydb-split');
    assert.equal(summary.ratioVsPgcopydb, 6 / 8);
    assert.deepEqual(summary.perRoundRatioVsPgcopydb, [6 / 8, 6 / 12, 9 / 8]);
    assert.equal(summary.bestRatioVsPgcopydb, 6 / 8);
    const text = offlineSummaryText(summary);
    assert.match(text, /pgcopydb at its best: pgcopydb \(median 8\.0 s\); beside it pgcopydb-split \(median 10\.0 s, 1\.25 x\)/);
  });

  it('with the split faster, the split is pgcopydb at its best', () => {
    const summary = summarizeOffline([run('pgferry', 1, 6), run('pgcopydb', 1, 9), run('pgcopydb-split', 1, 7)]);
    assert.equal(summary.pgcopydbBest, 'pgcopydb-split');
    assert.equal(summary.pgcopydbOther, 'pgcopydb');
    assert.equal(summary.ratioVsPgcopydb, 6 / 7);
  });

  it('with one way only, that way is pgcopydb and nothing stands beside it', () => {
    const summary = summarizeOffline([run('pgferry', 1, 6), run('pgcopydb-split', 1, 8)]);
    assert.equal(summary.pgcopydbBest, 'pgcopydb-split');
    assert.equal(summary.pgcopydbOther, undefined);
    assert.match(offlineSummaryText(summary), /the only way it ran/);
  });
});
