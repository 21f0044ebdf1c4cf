// The one fixture module that gives tests real PostgreSQL servers.
export { startCluster, stopAllClusters, type Cluster, type PgMajor } from '../../provider/localpg/cluster';
export * from './servers';
