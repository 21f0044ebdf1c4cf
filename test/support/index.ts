// The one fixture module that gives tests real PostgreSQL servers.
export { startCluster, stopAllClusters, type Cluster, type PgMajor } from '../../provider/localpg/cluster';
export * from './servers';
export * from './copyHold';
export * from './tls';
export { makeManagedTarget, makeReplicationSourceUser, setAllowList, DEFAULT_ALLOW_LIST } from './managed';
export * from './closedPort';
export * from './prerequisite';
export * from './richSchema';
export * from './unsupportedObjects';
export * from './wait';
export * from './pace';
export * from './variedSchema';
export * from './sourceWriter';
export * from './streamObjects';
export { onBothTargets, onTarget } from './targets';
export * from './behindFence';
export * from './resume';
export * from './serverObjects';
