// Root hooks: no cluster outlives the test run.
import { stopAllClusters } from '../../provider/localpg/cluster';

export const mochaHooks = {
  async afterAll(): Promise<void> {
    await stopAllClusters();
  },
};
