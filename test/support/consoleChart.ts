// A console chart read against the counters beside it, in one moment of the page: its last point
// (its caption, set from the data the chart draws) and the counters are the same numbers.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';

/** Which chart of a database, and the counters it ends on. */
export interface ChartOf {
  /** The chart's attribute naming its database: data-chart (forward) or data-chart-window (the reverse stream). */
  readonly chart: 'data-chart' | 'data-chart-window';
  readonly latency: string;
  readonly pending: string;
}

const FORWARD_CHART: ChartOf = { chart: 'data-chart', latency: 'latency', pending: 'pending' };
export const WINDOW_CHART: ChartOf = { chart: 'data-chart-window', latency: 'fallback-lag', pending: 'fallback-pending' };

/** A database's chart ends on the figures its counters show, read three times a poll apart. */
export async function chartAgreesWithCounters(page: Page, database: string, which: ChartOf = FORWARD_CHART): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const read = await page.evaluate(
      ({ db, w }) => {
        const chart = document.querySelector(`[${w.chart}="${db}"] [data-field="chart-now"]`);
        const card = (f: string) => document.querySelector(`[data-database="${db}"] [data-field="${f}"]`)?.getAttribute('data-value');
        return {
          chart: { latency: chart?.getAttribute('data-latency'), pending: chart?.getAttribute('data-pending') },
          counters: { latency: card(w.latency), pending: card(w.pending) },
        };
      },
      { db: database, w: which },
    );
    assert.ok(read.chart.pending !== undefined && read.chart.pending !== null, `the ${which.chart} chart has a last point`);
    assert.deepEqual(read.chart, read.counters, `the ${which.chart} chart and the counters beside it`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}
