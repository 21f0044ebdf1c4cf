// The control catalog's schema, as numbered migrations. A released migration is never edited:
// add the next number instead. Each runs in a transaction that first records its version.

export interface ControlMigration {
  readonly version: number;
  readonly sql: string;
}

export const CONTROL_MIGRATIONS: readonly ControlMigration[] = [
  {
    version: 1,
    sql: `
CREATE TABLE pgferry.migration (
  name                 text PRIMARY KEY,
  mode                 text NOT NULL,
  option               text NOT NULL,
  spec                 jsonb NOT NULL,
  state                text NOT NULL,
  sub_state            text NOT NULL,
  message              text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  started_at           timestamptz,
  ended_at             timestamptz,
  source_version       text,
  target_version       text,
  validation           jsonb NOT NULL DEFAULT '[]',
  verification         jsonb,
  cancel_requested     boolean NOT NULL DEFAULT false,
  cutover_requested_at timestamptz,
  cutover_started_at   timestamptz,
  downtime_seconds     double precision,
  runner               jsonb
);
CREATE TABLE pgferry.migration_database (
  migration           text NOT NULL REFERENCES pgferry.migration (name) ON DELETE CASCADE,
  database            text NOT NULL,
  ordinal             integer NOT NULL,
  state               text NOT NULL DEFAULT 'Queued',
  message             text,
  started_at          timestamptz,
  ended_at            timestamptz,
  rows_copied         bigint NOT NULL DEFAULT 0,
  bytes_copied        bigint NOT NULL DEFAULT 0,
  inserts             bigint NOT NULL DEFAULT 0,
  updates             bigint NOT NULL DEFAULT 0,
  deletes             bigint NOT NULL DEFAULT 0,
  latency_seconds     double precision,
  pending_bytes       bigint,
  slot_retained_bytes bigint,
  applied_lsn         text,
  PRIMARY KEY (migration, database)
);
CREATE TABLE pgferry.migration_table (
  migration   text NOT NULL,
  database    text NOT NULL,
  table_name  text NOT NULL,
  state       text NOT NULL DEFAULT 'Queued',
  rows        bigint NOT NULL DEFAULT 0,
  bytes       bigint NOT NULL DEFAULT 0,
  parts       integer NOT NULL DEFAULT 1,
  parts_done  integer NOT NULL DEFAULT 0,
  started_at  timestamptz,
  ended_at    timestamptz,
  message     text,
  PRIMARY KEY (migration, database, table_name),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
CREATE TABLE pgferry.event (
  id        bigserial PRIMARY KEY,
  migration text NOT NULL REFERENCES pgferry.migration (name) ON DELETE CASCADE,
  at        timestamptz NOT NULL DEFAULT now(),
  level     text NOT NULL,
  database  text,
  message   text NOT NULL
);
CREATE INDEX event_migration_idx ON pgferry.event (migration, id);
`,
  },
  {
    // What a migration owns: its instance (the names of its slots, publications and origins derive
    // from it), the target databases it created (only those may ever be dropped, matched by OID),
    // and how far an online cutover got in each database (a killed runner resumes it).
    version: 2,
    sql: `
ALTER TABLE pgferry.migration ADD COLUMN instance text;
ALTER TABLE pgferry.migration_database
  ADD COLUMN target_database_action text CHECK (target_database_action IN ('creating', 'created', 'overwriting', 'overwritten')),
  ADD COLUMN target_database_oid bigint,
  ADD COLUMN cutover_step text CHECK (cutover_step IN ('drained', 'verified', 'released'));
`,
  },
  {
    // What an online migration did to, or could not stream from, each source table (provider/engine/control/sourceTables.ts).
    version: 3,
    sql: `
CREATE TABLE pgferry.source_table (
  migration             text NOT NULL,
  database              text NOT NULL,
  relid                 bigint NOT NULL,
  schema_name           text NOT NULL,
  table_name            text NOT NULL,
  not_streamed          text,
  identity_before       text,
  identity_index_before text,
  identity_restored_at  timestamptz,
  recorded_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (migration, database, relid),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
COMMENT ON COLUMN pgferry.source_table.relid IS 'the table''s OID on the source: stable across renames';
COMMENT ON COLUMN pgferry.source_table.not_streamed IS 'why its changes do not reach the target; NULL when they do';
COMMENT ON COLUMN pgferry.source_table.identity_before IS 'relreplident (d, n, i) before pgferry set REPLICA IDENTITY FULL; NULL if pgferry did not';
`,
  },
  {
    // An online stream stopped on an error the user can fix (engine/flow/streamStops.ts): what failed,
    // kept while the slot holds the changes, and the user's request to try again now.
    version: 4,
    sql: `
ALTER TABLE pgferry.migration ADD COLUMN apply_retry_requests integer NOT NULL DEFAULT 0;
ALTER TABLE pgferry.migration_database ADD COLUMN apply_stop jsonb;
COMMENT ON COLUMN pgferry.migration_database.apply_stop IS 'why the stream stopped (table, statement without values, error, fix); NULL while it streams';
`,
  },
  {
    // Foreign keys pgferry drops on a target that cannot apply with replica role, recorded before
    // the drop and added back at cutover, cancel or failure (footprint/targetForeignKeys.ts).
    version: 5,
    sql: `
CREATE TABLE pgferry.target_foreign_key (
  migration          text NOT NULL,
  database           text NOT NULL,
  schema_name        text NOT NULL,
  table_name         text NOT NULL,
  constraint_name    text NOT NULL,
  definition         text NOT NULL,
  validated          boolean NOT NULL,
  columns            text[] NOT NULL,
  referenced_schema  text NOT NULL,
  referenced_table   text NOT NULL,
  referenced_columns text[] NOT NULL,
  match_full         boolean NOT NULL,
  recorded_at        timestamptz NOT NULL DEFAULT now(),
  restored_at        timestamptz,
  outcome            text CHECK (outcome IN ('added', 'not valid', 'left out')),
  violating_rows     bigint,
  detail             text,
  PRIMARY KEY (migration, database, schema_name, table_name, constraint_name),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
COMMENT ON COLUMN pgferry.target_foreign_key.definition IS 'pg_get_constraintdef on the target (search_path empty: names qualified), as restored from the source';
COMMENT ON COLUMN pgferry.target_foreign_key.outcome IS 'added: as recorded; not valid: rows violate it (NOT VALID, as the source holds them); left out: it could not be added (detail says why); NULL: not added back yet';
`,
  },
  {
    // What the CLI shows beside the engine's own figures: each table's size before its copy starts
    // (percent and ETA of the copy), and what an az-style command line said that pgferry does not
    // act on (subscription, resource group, server name: the migration's ARM-like id).
    version: 6,
    sql: `
ALTER TABLE pgferry.migration_table ADD COLUMN size_bytes bigint;
ALTER TABLE pgferry.migration ADD COLUMN azure_context jsonb;
COMMENT ON COLUMN pgferry.migration_table.size_bytes IS 'pg_table_size on the source, read in the copy''s snapshot; NULL when registered before version 6';
COMMENT ON COLUMN pgferry.migration.azure_context IS 'subscription, resourceGroup, server, sourceType, migrateRoles as pgferry create was given them; never a secret';
`,
  },
  {
    // Each table's last verification (control/tableVerification.ts): in the background while
    // changes stream, pinned to a source position, and at cutover, where only what changed after
    // that position is read again (docs/verification.md).
    version: 7,
    sql: `
CREATE TABLE pgferry.table_verification (
  migration    text NOT NULL,
  database     text NOT NULL,
  table_name   text NOT NULL,
  method       text NOT NULL CHECK (method IN ('background', 'cutover-full', 'cutover-keys', 'cutover-count')),
  verified_lsn text,
  source_rows  bigint NOT NULL,
  target_rows  bigint NOT NULL,
  keys_checked bigint,
  matches      boolean NOT NULL,
  reason       text,
  verified_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (migration, database, table_name),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
COMMENT ON COLUMN pgferry.table_verification.verified_lsn IS 'background: the source position both sides were read at (the apply held there); NULL at cutover';
COMMENT ON COLUMN pgferry.table_verification.method IS 'background: whole table at verified_lsn; cutover-keys: the keys changed since, plus the row count; cutover-count: unchanged since, row count only; cutover-full: whole table';
`,
  },
  {
    // The copy as explicit work items (control/copyItems.ts): one per table, or per part of a split
    // table, with the numbers of its range (never SQL text), its claim's fencing epoch and, once its
    // rows committed on the target, their count. copy_plan is what a resumed copy checks the source
    // against: the first snapshot's xmin and the schema's signature (copy/resumeCheck.ts).
    version: 8,
    sql: `
CREATE TABLE pgferry.copy_item (
  migration    text NOT NULL,
  database     text NOT NULL,
  item         text NOT NULL,
  table_oid    bigint NOT NULL,
  table_name   text NOT NULL,
  part         integer,
  parts        integer NOT NULL DEFAULT 1,
  range        jsonb,
  relfilenode  bigint NOT NULL,
  state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done')),
  epoch        bigint NOT NULL DEFAULT 0,
  holder       text,
  claimed_at   timestamptz,
  rows         bigint,
  bytes        bigint,
  done_at      timestamptz,
  PRIMARY KEY (migration, database, item),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
ALTER TABLE pgferry.migration_database ADD COLUMN copy_plan jsonb;
COMMENT ON COLUMN pgferry.copy_item.item IS 'the table''s source OID, then /part for a part of a split table';
COMMENT ON COLUMN pgferry.copy_item.range IS 'the part''s bounds as numbers (copy/plan.ts RangeBounds); NULL for a whole table';
COMMENT ON COLUMN pgferry.copy_item.epoch IS 'raised by every claim; the commit of the item''s rows checks it on the target (copy_fence)';
COMMENT ON COLUMN pgferry.migration_database.copy_plan IS 'the first copy snapshot''s xmin, the schema signature, and whether post-data started';
`,
  },
  {
    // Azure's per-database cutover and cancel (dbsToTriggerCutoverOn, dbsToCancelMigrationOn): one
    // database cut over or canceled while the others stream on (engine/flow/databaseRequests.ts).
    version: 9,
    sql: `
ALTER TABLE pgferry.migration_database
  ADD COLUMN cutover_requested_at timestamptz,
  ADD COLUMN cancel_requested_at timestamptz;
COMMENT ON COLUMN pgferry.migration_database.cutover_requested_at IS 'this database''s own cutover was asked for (dbsToTriggerCutoverOn); NULL once a stopped cutover clears it';
COMMENT ON COLUMN pgferry.migration_database.cancel_requested_at IS 'this database''s own cancel was asked for (dbsToCancelMigrationOn)';
`,
  },
  {
    // Where a migration runs (runtime: local, its own runner; agents, any `pgferry agent` that has
    // its credentials) and the agents registered on this target (control/agents.ts). An agent lists
    // the server keys (host:port/database) it holds credentials for, never the credentials.
    version: 10,
    sql: `
ALTER TABLE pgferry.migration ADD COLUMN runtime text NOT NULL DEFAULT 'local' CHECK (runtime IN ('local', 'agents'));
CREATE TABLE pgferry.agent (
  name         text PRIMARY KEY,
  host         text NOT NULL,
  pid          integer NOT NULL,
  version      text NOT NULL,
  concurrency  integer NOT NULL CHECK (concurrency > 0),
  server_keys  text[] NOT NULL DEFAULT '{}',
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN pgferry.migration.runtime IS 'local: a runner started by the caller; agents: only registered, run by pgferry agent processes';
COMMENT ON COLUMN pgferry.agent.server_keys IS 'host:port/database of each server the agent holds credentials for (from its environment); never a secret';
`,
  },
  {
    // What an agent runs a migration of runtime agents from: the parsed spec without its
    // passwords (the agent adds its own credentials). The stored public spec alone lacks the
    // tuning (jobs, split thresholds, verify) a run needs.
    version: 11,
    sql: `
ALTER TABLE pgferry.migration ADD COLUMN run_spec jsonb;
COMMENT ON COLUMN pgferry.migration.run_spec IS 'runtime agents: the parsed spec without passwords, which an agent runs with its own credentials';
`,
  },
  {
    // The overwrite confirmation (Azure's PATCH of overwriteDbsInTarget) recorded apart from the
    // spec the migration was created with, so a resume with that spec is still the same migration;
    // and each database's own cutover downtime (per-database cutovers run at different times).
    version: 12,
    sql: `
ALTER TABLE pgferry.migration ADD COLUMN overwrite_confirmed_at timestamptz;
ALTER TABLE pgferry.migration_database ADD COLUMN downtime_seconds double precision;
COMMENT ON COLUMN pgferry.migration.overwrite_confirmed_at IS 'the user allowed overwriting existing target databases while the migration waited (WaitingForTargetDBOverwriteConfirmation)';
COMMENT ON COLUMN pgferry.migration_database.downtime_seconds IS 'seconds from the start of the cutover that included this database to its end';
`,
  },
  {
    // Two requests Azure's update (PATCH) carries: the source's logical replication setup (az
    // update --setup-replication) and the start of a data migration created with
    // startDataMigration: False. Each is acted on by the runner that waits for it.
    version: 13,
    sql: `
ALTER TABLE pgferry.migration ADD COLUMN replication_setup_requested_at timestamptz;
ALTER TABLE pgferry.migration ADD COLUMN data_migration_start_requested_at timestamptz;
COMMENT ON COLUMN pgferry.migration.replication_setup_requested_at IS 'the user let pgferry set up logical replication on the source (update --setup-replication) while it waited';
COMMENT ON COLUMN pgferry.migration.data_migration_start_requested_at IS 'the user started the data migration of a migration created with startDataMigration: False';
`,
  },
  {
    // Copy rounds shared among agents: the coordinator (the runner holding the lease) publishes its
    // copy snapshot, and agents with the source's credentials claim the pending items in rank order.
    // A claim is alive while the claimer's target session holds the advisory lock named by
    // claim_lock (it dies with that session) and its heartbeat is fresh (a stopped process's is not).
    version: 14,
    sql: `
ALTER TABLE pgferry.copy_item ADD COLUMN rank integer NOT NULL DEFAULT 0;
ALTER TABLE pgferry.copy_item ADD COLUMN claim_lock bigint;
ALTER TABLE pgferry.copy_item ADD COLUMN heartbeat_at timestamptz;
ALTER TABLE pgferry.migration_database ADD COLUMN copy_round jsonb;
COMMENT ON COLUMN pgferry.copy_item.rank IS 'the item''s place in the copy order (biggest tables first, a split table''s parts together)';
COMMENT ON COLUMN pgferry.copy_item.claim_lock IS 'the advisory lock key the holder''s target session holds while its claim lives';
COMMENT ON COLUMN pgferry.copy_item.heartbeat_at IS 'the holder''s last sign of life for this claim';
COMMENT ON COLUMN pgferry.migration_database.copy_round IS 'the open copy round agents may help: the exported snapshot''s name (not a secret), set while the coordinator copies';
`,
  },
  {
    // Fencing writers at cutover (fenceWriters; footprint/writerFence.ts): per database, when the
    // source database was made read-only for new transactions and the value of its own
    // default_transaction_read_only before (so it is set back exactly), recorded before the ALTER
    // DATABASE; and what a cutover request set for that cutover alone (fenceWriters, lag budget).
    version: 15,
    sql: `
CREATE TABLE pgferry.writer_fence (
  migration      text NOT NULL,
  database       text NOT NULL,
  prior_setting  text,
  fenced_at      timestamptz NOT NULL DEFAULT now(),
  sessions_ended integer,
  kept_at        timestamptz,
  PRIMARY KEY (migration, database),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
ALTER TABLE pgferry.migration ADD COLUMN cutover_options jsonb;
COMMENT ON TABLE pgferry.writer_fence IS 'a source database made read-only for new transactions at cutover; the row is deleted once the fence is lifted';
COMMENT ON COLUMN pgferry.writer_fence.prior_setting IS 'the database''s own default_transaction_read_only (pg_db_role_setting, all roles) before the fence; NULL when it had none (lifted with RESET)';
COMMENT ON COLUMN pgferry.writer_fence.kept_at IS 'the database was cut over: the fence stays on the source on purpose (writes there would be lost)';
COMMENT ON COLUMN pgferry.migration.cutover_options IS 'what the pending cutover request set for that cutover alone: fenceWriters, cutoverLagBudgetSeconds';
`,
  },
  {
    // A foreign key set aside while streaming comes back whole: its COMMENT is recorded with its
    // definition (footprint/targetForeignKeys.ts), since dropping the key drops the comment too.
    version: 16,
    sql: `
ALTER TABLE pgferry.target_foreign_key ADD COLUMN comment text;
COMMENT ON COLUMN pgferry.target_foreign_key.comment IS 'the key''s COMMENT on the target before it was dropped, set again when it is added back';
`,
  },
  {
    // The console's live charts (control/streamSamples.ts): a streaming database's latency and
    // pending bytes, one row every few seconds written by its runner, the last hour kept.
    version: 17,
    sql: `
CREATE TABLE pgferry.stream_sample (
  migration       text NOT NULL,
  database        text NOT NULL,
  at              timestamptz NOT NULL DEFAULT now(),
  latency_seconds double precision,
  pending_bytes   bigint,
  PRIMARY KEY (migration, database, at),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
COMMENT ON TABLE pgferry.stream_sample IS 'a streaming database''s latency and pending bytes over the last hour, one row every few seconds (the console''s charts)';
`,
  },
  {
    // One word per concept (docs/glossary.md): the copy's epoch table in each target database is
    // copy_epoch now, not copy_fence ("fence" is the writer fence alone).
    version: 18,
    sql: `
COMMENT ON COLUMN pgferry.copy_item.epoch IS 'raised by every claim; the commit of the item''s rows checks it on the target (copy_epoch)';
`,
  },
  {
    // One table resynchronised while the others stream (flow/tableResync.ts): asked for by the
    // user (`pgferry update --resync`), or recorded by the table watch for a table created on the
    // source while streaming, before anything is done for it, so a crash anywhere leaves a pending
    // request that the next runner carries out again from the start.
    version: 19,
    sql: `
CREATE TABLE pgferry.table_resync (
  migration     text NOT NULL,
  database      text NOT NULL,
  schema_name   text NOT NULL,
  table_name    text NOT NULL,
  reason        text NOT NULL,
  requested_at  timestamptz NOT NULL DEFAULT now(),
  attempts      integer NOT NULL DEFAULT 0,
  created_on_target boolean NOT NULL DEFAULT false,
  done_at       timestamptz,
  resynced_lsn  text,
  rows_copied   bigint,
  error         text,
  PRIMARY KEY (migration, database, schema_name, table_name),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
COMMENT ON TABLE pgferry.table_resync IS 'a table copied again at a pinned source position while the others stream: requested, or created on the source while streaming';
COMMENT ON COLUMN pgferry.table_resync.reason IS 'requested (pgferry update --resync) or created (a table created on the source while streaming, followed)';
COMMENT ON COLUMN pgferry.table_resync.created_on_target IS 'pgferry created the table on the target for this request (from pg_dump of the source table)';
COMMENT ON COLUMN pgferry.table_resync.resynced_lsn IS 'the source position the copy was taken at: the stream applied every change before it, the copy holds them, the stream applies every change from it';
`,
  },
  {
    // One ledger for the footprint (footprint/ledger.ts, imported by engine/footprint/ alone): every reversible
    // change pgferry makes on a server, one row each, written before it is made, with what undoes
    // it. The rows an older pgferry kept in writer_fence, target_foreign_key and source_table's
    // identity columns move here, so a migration it started is released exactly by this one. What
    // is not footprint stays: source_table keeps why a table is not streamed; a foreign key's
    // outcome (added, not valid, left out) is reported in its row's detail.
    version: 20,
    sql: `
CREATE TABLE pgferry.footprint (
  migration  text NOT NULL,
  database   text NOT NULL,
  change     text NOT NULL,
  object     text NOT NULL,
  undo       jsonb NOT NULL,
  detail     jsonb NOT NULL DEFAULT '{}',
  made_at    timestamptz NOT NULL DEFAULT now(),
  undone_at  timestamptz,
  kept_at    timestamptz,
  PRIMARY KEY (migration, database, change, object),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
COMMENT ON TABLE pgferry.footprint IS 'what an online migration changed on a server and gives back at release, one row per change, written before the change is made';
COMMENT ON COLUMN pgferry.footprint.change IS 'the footprint module that made it (engine/footprint/): writerFence, targetForeignKeys, replicaIdentity';
COMMENT ON COLUMN pgferry.footprint.object IS 'what it changed in the database: empty for the database itself, a table''s source OID, a constraint as "schema"."table"."name"';
COMMENT ON COLUMN pgferry.footprint.undo IS 'what gives it back: the earlier default_transaction_read_only, a foreign key''s definition, a table''s earlier replica identity';
COMMENT ON COLUMN pgferry.footprint.detail IS 'what was learned on the way, never needed to undo it: sessions a fence ended, how a foreign key came back';
COMMENT ON COLUMN pgferry.footprint.undone_at IS 'given back; NULL while pending';
COMMENT ON COLUMN pgferry.footprint.kept_at IS 'stays on purpose: the writer fence of a database that was cut over (writes on the source would be lost)';
INSERT INTO pgferry.footprint (migration, database, change, object, undo, detail, made_at, kept_at)
SELECT migration, database, 'writerFence', '', jsonb_build_object('priorSetting', prior_setting),
       jsonb_strip_nulls(jsonb_build_object('sessionsEnded', sessions_ended)), fenced_at, kept_at
  FROM pgferry.writer_fence;
INSERT INTO pgferry.footprint (migration, database, change, object, undo, detail, made_at, undone_at)
SELECT migration, database, 'targetForeignKeys',
       '"' || replace(schema_name, '"', '""') || '"."' || replace(table_name, '"', '""') || '"."' || replace(constraint_name, '"', '""') || '"',
       jsonb_build_object('schema', schema_name, 'table', table_name, 'name', constraint_name, 'definition', definition,
                          'validated', validated, 'columns', to_jsonb(columns), 'referencedSchema', referenced_schema,
                          'referencedTable', referenced_table, 'referencedColumns', to_jsonb(referenced_columns),
                          'matchFull', match_full, 'comment', comment),
       jsonb_strip_nulls(jsonb_build_object('outcome', outcome, 'violatingRows', violating_rows, 'detail', detail)), recorded_at, restored_at
  FROM pgferry.target_foreign_key;
INSERT INTO pgferry.footprint (migration, database, change, object, undo, made_at, undone_at)
SELECT migration, database, 'replicaIdentity', relid::text,
       jsonb_strip_nulls(jsonb_build_object('schema', schema_name, 'name', table_name, 'before', identity_before, 'beforeIndex', identity_index_before)),
       recorded_at, identity_restored_at
  FROM pgferry.source_table WHERE identity_before IS NOT NULL;
DROP TABLE pgferry.writer_fence;
DROP TABLE pgferry.target_foreign_key;
DELETE FROM pgferry.source_table WHERE not_streamed IS NULL;
ALTER TABLE pgferry.source_table DROP COLUMN identity_before, DROP COLUMN identity_index_before, DROP COLUMN identity_restored_at;
COMMENT ON TABLE pgferry.source_table IS 'source tables whose changes do not reach the target, and why (replica identities set FULL are in footprint)';
`,
  },
  {
    // The schema objects a drop on the source may take from the target (control/knownObjects.ts):
    // what the copy restored and what the schema watch saw on the source. An object someone made
    // on the target alone is in neither, so pgferry never drops it (DESIGN: never destroy).
    version: 21,
    sql: `
CREATE TABLE pgferry.known_object (
  migration  text NOT NULL,
  database   text NOT NULL,
  object     text NOT NULL,
  attnum     integer,
  known_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (migration, database, object),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
COMMENT ON TABLE pgferry.known_object IS 'schema objects of a streamed database that the copy restored on the target or the schema watch saw on the source: only these are dropped on the target when the source drops them';
COMMENT ON COLUMN pgferry.known_object.object IS 'the object''s identity as a JSON array: kind, schema, relation, name, arguments';
COMMENT ON COLUMN pgferry.known_object.attnum IS 'a column''s attnum on the source when first known: a rename keeps it, a drop and an add do not';
`,
  },
  {
    // The fallback window (docs/fallback.md; control/fallbackWindows.ts): per database cut over with
    // a window, recorded before its reverse slot and publication are created on the target, so a
    // crash anywhere leaves a record that says what to drop.
    version: 22,
    sql: `
CREATE TABLE pgferry.fallback_window (
  migration     text NOT NULL,
  database      text NOT NULL,
  opened_at     timestamptz NOT NULL DEFAULT now(),
  ends_at       timestamptz NOT NULL,
  state         text NOT NULL DEFAULT 'Opening',
  opened_lsn    text,
  applied_lsn   text,
  close_requested_at timestamptz,
  closed_at     timestamptz,
  message       text,
  latency_seconds double precision,
  pending_bytes bigint,
  retained_bytes bigint,
  stopped_lsn   text,
  fall_back_requested_at timestamptz,
  fall_back_started_at timestamptz,
  fall_back_released boolean NOT NULL DEFAULT false,
  fell_back_at  timestamptz,
  downtime_seconds double precision,
  PRIMARY KEY (migration, database),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
COMMENT ON TABLE pgferry.fallback_window IS 'a database cut over with a fallback window: the reverse stream applies the target''s writes to the old source until it closes';
COMMENT ON COLUMN pgferry.fallback_window.state IS 'Opening (recorded, slot not yet made), Open (the reverse stream applies), Stopped (it stopped on an error, retried), FallingBack (update --fall-back under way), FellBack (the old source is the primary again), Closed (slot and publication dropped)';
COMMENT ON COLUMN pgferry.fallback_window.stopped_lsn IS 'Stopped: how far the old source had applied when the reverse stream stopped; it is Open again once it applies past it';
COMMENT ON COLUMN pgferry.fallback_window.fall_back_released IS 'the fall-back passed its verification and gives back the reverse stream and the old source''s fence: a resumed runner finishes that, never stops it';
COMMENT ON COLUMN pgferry.fallback_window.fall_back_started_at IS 'when the fall-back fenced the target: its downtime runs from here to the old source''s fence lifted (fell_back_at)';
COMMENT ON COLUMN pgferry.fallback_window.opened_lsn IS 'the reverse slot''s consistent point on the target: the cutover point, where the reverse stream starts';
COMMENT ON COLUMN pgferry.fallback_window.retained_bytes IS 'WAL the reverse slot keeps on the target (what the window costs it), as the runner last read it';
COMMENT ON COLUMN pgferry.fallback_window.applied_lsn IS 'how far the old source has applied the reverse stream (reported; the position itself commits on the old source)';
`,
  },
  {
    // The forward stream again after a fall-back (docs/fallback.md "The forward stream again"):
    // asked with the fall-back, the forward slot's consistent point on the old source, and when the
    // migration was switched back to streaming (so a second cutover's record is not switched twice).
    version: 23,
    sql: `
ALTER TABLE pgferry.fallback_window ADD COLUMN forward_again boolean NOT NULL DEFAULT false,
  ADD COLUMN forward_lsn text, ADD COLUMN forward_reopened_at timestamptz;
COMMENT ON COLUMN pgferry.fallback_window.forward_again IS 'the fall-back was asked with --resume-forward: the forward stream starts again from the fall-back point';
COMMENT ON COLUMN pgferry.fallback_window.forward_lsn IS 'the new forward slot''s consistent point on the old source, made before its fence was lifted';
COMMENT ON COLUMN pgferry.fallback_window.forward_reopened_at IS 'when the database was switched back to streaming forward (WaitingForCutoverTrigger)';
`,
  },
  {
    // How many times each database was cut over (docs/fallback.md "The forward stream again"): a
    // fall-back with --resume-forward and a second cutover make it 2, and PgMigration's
    // cutoverCount input is compared with it, so `pulumi up` cuts over again only when asked.
    // Every database cut over before this version was cut over once: a window records one cutover.
    version: 24,
    sql: `
ALTER TABLE pgferry.migration_database ADD COLUMN cutovers integer NOT NULL DEFAULT 0;
UPDATE pgferry.migration_database d SET cutovers = 1
  FROM pgferry.migration m
 WHERE m.name = d.migration AND m.mode = 'Online'
   AND (d.state = 'Succeeded' OR EXISTS (SELECT 1 FROM pgferry.fallback_window w WHERE w.migration = d.migration AND w.database = d.database));
COMMENT ON COLUMN pgferry.migration_database.cutovers IS 'online: how many times the database was cut over (a fall-back with --resume-forward and a cutover again add one)';
`,
  },
  {
    // The large objects pgferry moved (control/movedLargeObjects.ts): the copy's, and those a
    // cutover or a fall-back created on the other server. Only these are unlinked when the server
    // they came from no longer has them; one made on the other server alone is kept (DESIGN: what
    // pgferry did not make is not pgferry's). A migration copied before this version has none
    // recorded, so its cutover keeps every object the source lacks.
    version: 25,
    sql: `
CREATE TABLE pgferry.moved_large_object (
  migration  text NOT NULL,
  database   text NOT NULL,
  oid        bigint NOT NULL,
  moved_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (migration, database, oid),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
COMMENT ON TABLE pgferry.moved_large_object IS 'large objects pgferry copied or created on the other server: only these are unlinked when the server they came from no longer has them';
`,
  },
  {
    // Which declarative resource owns the migration (docs/pulumi.md "Who owns a migration"): the
    // random id a PgMigration's create drew and keeps in its Pulumi state, moved only by an
    // explicit adoption (import). A delete whose state holds another id leaves the migration as
    // it is. Migrations registered before this version, and by the CLI, have none.
    version: 26,
    sql: `
ALTER TABLE pgferry.migration ADD COLUMN resource_owner text;
COMMENT ON COLUMN pgferry.migration.resource_owner IS 'the random id of the PgMigration resource that created or adopted the migration (kept in its Pulumi state); a delete by a resource holding another id leaves the migration untouched';
`,
  },
  {
    // A known part of a table's identity on the target (control/knownObjects.ts): the OIDs of the
    // object the copy restored or a look found equal to the source's and of its table, and a digest of
    // its definition. One of that name on the same table with another OID and definition was made
    // by someone else (a DBA who dropped the migration's and made their own): kept, never dropped or
    // altered as the migration's. Objects known before this version have none, and are matched by
    // name until a look finds them equal to the source's.
    version: 27,
    sql: `
ALTER TABLE pgferry.known_object ADD COLUMN target_identity text;
COMMENT ON COLUMN pgferry.known_object.target_identity IS 'table OID:object OID:definition digest on the target of the part the copy restored or a look found equal to the source''s: one of the same name on the same table with another OID and definition is someone else''s';
`,
  },
  {
    // The reverse stream's samples (control/streamSamples.ts): a fallback window's lag and the
    // target's WAL pending for the old source, recorded with the figures `show` gives, for the
    // console's chart of the window. The samples before this version are the forward stream's.
    version: 28,
    sql: `
ALTER TABLE pgferry.stream_sample ADD COLUMN direction text NOT NULL DEFAULT 'forward' CHECK (direction IN ('forward', 'reverse'));
ALTER TABLE pgferry.stream_sample DROP CONSTRAINT stream_sample_pkey;
ALTER TABLE pgferry.stream_sample ADD PRIMARY KEY (migration, database, direction, at);
COMMENT ON COLUMN pgferry.stream_sample.direction IS 'forward: the stream from the source to the target; reverse: a fallback window''s stream from the target back to the old source';
`,
  },
  {
    // A reverse stream's stop recorded as a forward stream's is (flow/streamStops.ts): the cause and
    // its fix, since when, the attempts and the retry requests seen, so that a runner resumed while a
    // window is Stopped goes on from them instead of starting its count and its back-off again.
    version: 29,
    sql: `
ALTER TABLE pgferry.fallback_window ADD COLUMN apply_stop jsonb;
COMMENT ON COLUMN pgferry.fallback_window.apply_stop IS 'Stopped: the reverse stream''s stop, recorded as migration_database.apply_stop records the forward stream''s (cause, fix, since, attempts, how far the old source had applied); cleared once it applies again';
`,
  },
  {
    // A table asked for again while its resync runs (control/tableResyncs.ts): each request counts
    // one, and a copy ends the request only if none came since it started, so a change the stream
    // met after the copy's pin (the table emptied again, its changes skipped) is copied again.
    version: 30,
    sql: `
ALTER TABLE pgferry.table_resync ADD COLUMN requests integer NOT NULL DEFAULT 1;
COMMENT ON COLUMN pgferry.table_resync.requests IS 'how many times the table was asked for; a resync ends the request only if this is the count it read when it started, else it runs again';
`,
  },
  {
    // The rows of extensions' configuration tables pgferry wrote (control/extensionConfigRows.ts):
    // a row's key is recorded as copied before pgferry inserts it on the other server, so that a row
    // the server it came from deleted since is deleted there too, and only then; a row the written
    // server had of its own at the cutover (a DBA's SRID) is recorded as kept, so that a fall-back
    // neither carries it back nor compares it. A migration copied before this version has none
    // recorded: its cutover deletes no such row.
    version: 31,
    sql: `
CREATE TABLE pgferry.extension_config_row (
  migration     text NOT NULL,
  database      text NOT NULL,
  config_table  text NOT NULL,
  key           text NOT NULL,
  kept          boolean NOT NULL DEFAULT false,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (migration, database, config_table, key),
  FOREIGN KEY (migration, database) REFERENCES pgferry.migration_database (migration, database) ON DELETE CASCADE
);
COMMENT ON TABLE pgferry.extension_config_row IS 'rows of extensions'' configuration tables by key: copied (pgferry inserted them, so it may delete them when the server they came from no longer has them) or kept (the target''s own at the cutover, never deleted, carried back or compared)';
`,
  },
  {
    // What pgferry wrote under a copied key of an extension's configuration table (the md5 of the
    // row's text as it was written): a row pgferry copied that a DBA then edited on the server
    // written, under the same key, is kept rather than deleted when the server it came from deletes
    // it. A key recorded before this version has none: its row is kept and reported too, never
    // deleted on a guess.
    version: 32,
    sql: `
ALTER TABLE pgferry.extension_config_row ADD COLUMN row_md5 text;
COMMENT ON COLUMN pgferry.extension_config_row.row_md5 IS 'md5 of the row''s text as pgferry last wrote it (copied keys): a row found otherwise was edited where it was written, and is kept';
`,
  },
  {
    // The rows of a table's copy progress, its verification and its copy items keyed by the table's
    // schema and name themselves, not by the text a message prints for it: that text changed (names
    // are quoted now), and a migration an older pgferry started, resumed by this one, must keep
    // every row. The printed text is read back into its two parts: the quoted form of the builds
    // that quote, and the plain schema.name of earlier ones, which is certain only with one dot. A
    // verification whose name is not certain, or that two rows claim, is dropped (the cutover then
    // reads that table whole); a progress row or a copy item is split at its first dot. The function
    // that reads a name back lives in the catalog's schema for this migration alone, and is dropped.
    version: 33,
    sql: `
CREATE FUNCTION pgferry.name_parts_v33(printed text) RETURNS text[] LANGUAGE plpgsql IMMUTABLE AS $parts$
DECLARE
  parts text[] := '{}';
  n integer := length(printed);
  i integer := 1;
  c text;
  part text;
  unicode boolean;
BEGIN
  LOOP
    unicode := substr(printed, i, 3) = 'U&"';
    IF unicode THEN i := i + 2; END IF;
    IF substr(printed, i, 1) = '"' THEN
      part := '';
      i := i + 1;
      LOOP
        IF i > n THEN part := NULL; EXIT; END IF;
        c := substr(printed, i, 1);
        IF c = '"' AND substr(printed, i + 1, 1) = '"' THEN part := part || '"'; i := i + 2;
        ELSIF c = '"' THEN i := i + 1; EXIT;
        ELSIF unicode AND c = '\\' AND substr(printed, i + 1, 1) = '\\' THEN part := part || '\\'; i := i + 2;
        ELSIF unicode AND c = '\\' AND substr(printed, i + 1, 4) ~ '^[0-9A-F]{4}$' THEN
          part := part || chr(('x' || lpad(substr(printed, i + 1, 4), 8, '0'))::bit(32)::integer);
          i := i + 5;
        ELSIF unicode AND c = '\\' THEN part := NULL; EXIT;
        ELSE part := part || c; i := i + 1;
        END IF;
      END LOOP;
    ELSE
      part := substring(substr(printed, i) FROM '^[a-z_][a-z0-9_$]*');
      IF part IS NOT NULL THEN i := i + length(part); END IF;
    END IF;
    EXIT WHEN part IS NULL;
    parts := parts || part;
    EXIT WHEN i > n OR substr(printed, i, 1) <> '.';
    i := i + 1;
  END LOOP;
  IF part IS NOT NULL AND i > n AND cardinality(parts) = 2 THEN RETURN parts; END IF;
  IF printed ~ '^[^.]+[.][^.]+$' THEN RETURN string_to_array(printed, '.'); END IF;
  RETURN NULL;
END
$parts$;
ALTER TABLE pgferry.migration_table ADD COLUMN schema_name text;
ALTER TABLE pgferry.migration_table DROP CONSTRAINT migration_table_pkey;
UPDATE pgferry.migration_table t
   SET (schema_name, table_name) = (SELECT coalesce(p.parts[1], split_part(t.table_name, '.', 1)),
                                           coalesce(p.parts[2], substr(t.table_name, strpos(t.table_name, '.') + 1))
                                      FROM (SELECT pgferry.name_parts_v33(t.table_name) AS parts) p);
DELETE FROM pgferry.migration_table a USING pgferry.migration_table b
 WHERE a.migration = b.migration AND a.database = b.database AND a.schema_name = b.schema_name
   AND a.table_name = b.table_name AND a.ctid < b.ctid;
ALTER TABLE pgferry.migration_table ALTER COLUMN schema_name SET NOT NULL;
ALTER TABLE pgferry.migration_table ADD PRIMARY KEY (migration, database, schema_name, table_name);
ALTER TABLE pgferry.table_verification ADD COLUMN schema_name text;
ALTER TABLE pgferry.table_verification DROP CONSTRAINT table_verification_pkey;
DELETE FROM pgferry.table_verification WHERE pgferry.name_parts_v33(table_name) IS NULL;
UPDATE pgferry.table_verification t
   SET (schema_name, table_name) = (SELECT p.parts[1], p.parts[2] FROM (SELECT pgferry.name_parts_v33(t.table_name) AS parts) p);
DELETE FROM pgferry.table_verification a USING pgferry.table_verification b
 WHERE a.migration = b.migration AND a.database = b.database AND a.schema_name = b.schema_name
   AND a.table_name = b.table_name AND a.ctid <> b.ctid;
ALTER TABLE pgferry.table_verification ALTER COLUMN schema_name SET NOT NULL;
ALTER TABLE pgferry.table_verification ADD PRIMARY KEY (migration, database, schema_name, table_name);
ALTER TABLE pgferry.copy_item ADD COLUMN schema_name text;
UPDATE pgferry.copy_item t
   SET (schema_name, table_name) = (SELECT coalesce(p.parts[1], split_part(t.table_name, '.', 1)),
                                           coalesce(p.parts[2], substr(t.table_name, strpos(t.table_name, '.') + 1))
                                      FROM (SELECT pgferry.name_parts_v33(t.table_name) AS parts) p);
ALTER TABLE pgferry.copy_item ALTER COLUMN schema_name SET NOT NULL;
UPDATE pgferry.migration_database d
   SET copy_plan = jsonb_set(d.copy_plan, '{partitionedParents}', (
         SELECT coalesce(jsonb_agg(CASE WHEN p.parts IS NULL THEN e.value
                                        ELSE jsonb_build_object('oid', e.value -> 'oid', 'schema', p.parts[1], 'name', p.parts[2]) END
                                   ORDER BY e.n), '[]'::jsonb)
           FROM jsonb_array_elements(d.copy_plan -> 'partitionedParents') WITH ORDINALITY AS e(value, n),
                LATERAL (SELECT pgferry.name_parts_v33(e.value ->> 'name') AS parts) p))
 WHERE jsonb_typeof(d.copy_plan -> 'partitionedParents') = 'array';
DROP FUNCTION pgferry.name_parts_v33(text);
COMMENT ON COLUMN pgferry.migration_table.table_name IS 'the table''s name on the source, without its schema (schema_name); before version 33 the printed schema.name';
COMMENT ON COLUMN pgferry.table_verification.table_name IS 'the table''s name on the source, without its schema (schema_name); before version 33 the printed schema.name';
COMMENT ON COLUMN pgferry.copy_item.table_name IS 'the table''s name on the source when planned, without its schema (schema_name)';
`,
  },
  {
    // The new server's tables when a fallback window opens (the cutover point: the applications
    // still point at the fenced old source), by OID: a table made there later, in the window, is
    // the applications', and its rows must not be left behind by a fall-back; one that was there
    // before is a DBA's own and stays on the new server (flow/tablesLeftBehind.ts). A window opened
    // before this version has none: its fall-back makes no such check, as before.
    version: 34,
    sql: `
ALTER TABLE pgferry.fallback_window ADD COLUMN target_tables oid[];
COMMENT ON COLUMN pgferry.fallback_window.target_tables IS 'OIDs of the target database''s tables when the window opened: a table not among them was made in the window';
`,
  },
  {
    // The source's OID of each known enum type, as it was when the target's type last matched it
    // (control/knownObjects.ts, flow/enumRemake.ts): the copy's snapshot records it, a look records
    // it once the target's labels are the source's. A type of that name with another OID on the
    // source was made again there (drizzle-kit's DROP TYPE and CREATE TYPE, Prisma's rename aside),
    // which a look tells from a label renamed in place even when no runner saw the change happen (a
    // runner killed and resumed).
    version: 35,
    sql: `
ALTER TABLE pgferry.known_object ADD COLUMN source_oid oid;
COMMENT ON COLUMN pgferry.known_object.source_oid IS 'an enum type''s OID on the source when the target''s type last matched it: another OID under its name there means the source made the type again';
`,
  },
  {
    // The new server's free-standing sequences when a fallback window opens, each with its OID and the
    // OID of the old source's it is paired with (by name then, the cutover's verification just found
    // them alike; none for one that is not the migration's): a fall-back pairs them again by those
    // OIDs (switchover/sequenceSync.ts), never by the name alone, which the applications may give in
    // the window to another sequence (one renamed away, one dropped and made again), and takes one
    // made since for the applications'. A window opened before this version has none: by name, as before.
    version: 36,
    sql: `
ALTER TABLE pgferry.fallback_window ADD COLUMN sequences jsonb;
COMMENT ON COLUMN pgferry.fallback_window.sequences IS 'the new server''s free-standing sequences when the window opened: schema, name, OID there (target) and of the old source''s it was paired with (source, null for none)';
`,
  },
];

/** The highest control-catalog version this build installs (`pgferry version` prints it). */
export const CONTROL_SCHEMA_VERSION = Math.max(...CONTROL_MIGRATIONS.map((m) => m.version));
