// The package's `pgferry/decoder` entry: pgferry's own pgoutput decoder, for programs that read a
// logical replication stream themselves. It re-exports engine/cdc/decode, which is pure (bytes in,
// typed messages out) and imports nothing outside itself, so this entry loads no driver and no Pulumi.
export {
  decodePgoutput,
  Tuple,
  UNCHANGED,
  type PgoutputMessage,
  type RelationColumn,
  type ReplicaIdentity,
} from './engine/cdc/decode/pgoutput';
export type { TupleValue } from './engine/cdc/decode/tuple';
export { decodeFrame, encodeStatusUpdate, pgTimeToMs, type ReplicationFrame } from './engine/cdc/decode/frames';
export { ChangeNormalizer } from './engine/cdc/decode/normalizer';
export type { ChangeEvent, Relation, RowEvent, RowOp } from './engine/cdc/decode/changeEvents';
export type { RelationShape, SchemaChange } from './engine/cdc/decode/schemaChange';
export { formatLsn, parseLsn } from './engine/core/lsn';
