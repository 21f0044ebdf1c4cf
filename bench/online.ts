// The online benchmark (issue 3): drain rate vs native logical replication, lag under load,
// cutover downtime and runner memory.
import type { OnlineOptions, OnlineResult } from './onlineTypes';

export async function runOnlineBench(options: OnlineOptions): Promise<OnlineResult> {
  const { runOnlineScenarios } = await import('./onlineScenarios');
  return runOnlineScenarios(options);
}
