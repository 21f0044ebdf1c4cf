// Placeholder until the online engine lands: see online.ts.
import type { OnlineOptions, OnlineResult } from './online';

export async function runOnlineScenarios(_options: OnlineOptions): Promise<OnlineResult> {
  return { skipped: 'online scenarios not written yet', figures: {}, lines: ['skipped: online scenarios not written yet'] };
}
