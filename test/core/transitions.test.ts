// The pure decisions that move a migration between Azure's states: the waits before the copy, the
// window, per-database requests, the substate while streaming and how per-database ends add up.
import assert from 'node:assert/strict';
import {
  endOfDatabases,
  isSettled,
  registeredSubState,
  streamingSubState,
  unknownDatabases,
  waitState,
  windowPhase,
  windowRefusal,
  type MigrationStatus,
} from '../../provider/engine';
import { logicalReplicationNeeds } from '../../provider/engine/flow/preCopyWaits';

const NOW = Date.parse('2026-05-01T12:00:00Z');

describe('state transitions (unit)', () => {
  it('places now before, inside or after a migration window', () => {
    assert.equal(windowPhase({}, NOW), 'open');
    assert.equal(windowPhase({ start: '2026-05-01T13:00:00.000Z' }, NOW), 'before');
    assert.equal(windowPhase({ start: '2026-05-01T11:00:00.000Z' }, NOW), 'open');
    assert.equal(windowPhase({ start: '2026-05-01T11:00:00.000Z', end: '2026-05-01T11:30:00.000Z' }, NOW), 'closed');
    assert.equal(windowPhase({ end: '2026-05-01T12:00:00.000Z' }, NOW), 'closed');
  });

  it('refuses a window that ends before it starts or is already over, naming both times', () => {
    assert.match(
      windowRefusal({ start: '2026-05-02T00:00:00.000Z', end: '2026-05-01T23:00:00.000Z' }, NOW)!,
      /migrationWindowEndTimeInUtc \(2026-05-01T23:00:00.000Z\) must be after migrationWindowStartTimeInUtc \(2026-05-02T00:00:00.000Z\)/,
    );
    assert.match(windowRefusal({ end: '2026-05-01T11:00:00.000Z' }, NOW)!, /is in the past/);
    assert.equal(windowRefusal({ start: '2026-05-01T11:00:00.000Z', end: '2026-05-01T13:00:00.000Z' }, NOW), undefined);
    assert.equal(windowRefusal({}, NOW), undefined);
  });

  it('registers a migration whose window opens later as WaitingForDataMigrationScheduling', () => {
    assert.equal(registeredSubState({ start: '2026-05-01T13:00:00.000Z' }, NOW), 'WaitingForDataMigrationScheduling');
    assert.equal(registeredSubState({}, NOW), 'PerformingPreRequisiteSteps');
  });

  it('shows waits for the user as WaitingForUserAction and the window wait as InProgress', () => {
    assert.equal(waitState('WaitingForTargetDBOverwriteConfirmation'), 'WaitingForUserAction');
    assert.equal(waitState('WaitingForLogicalReplicationSetupRequestOnSourceDB'), 'WaitingForUserAction');
    assert.equal(waitState('WaitingForDataMigrationWindow'), 'InProgress');
  });

  it("ends a run's wait where the migration waits before its copy, not a cancel's", () => {
    const status = (subState: MigrationStatus['subState'], state: MigrationStatus['state'] = 'WaitingForUserAction') =>
      ({ state, subState, mode: 'Online', option: 'Migrate', databases: [] }) as unknown as MigrationStatus;
    assert.equal(isSettled(status('WaitingForTargetDBOverwriteConfirmation'), 'run'), true);
    assert.equal(isSettled(status('WaitingForDataMigrationWindow', 'InProgress'), 'run'), true);
    assert.equal(isSettled(status('WaitingForTargetDBOverwriteConfirmation'), 'cancel'), false);
    assert.equal(isSettled(status('CleaningUp' as never, 'CleaningUp'), 'cancel'), false);
  });

  it('names the databases a per-database request gives that the migration does not migrate', () => {
    assert.equal(unknownDatabases(['a'], ['a', 'b']), undefined);
    assert.equal(unknownDatabases(['c', 'a'], ['a', 'b']), 'c is not migrated by this migration; it migrates a, b');
  });

  it('puts a per-database cancel before a stopped stream and the cutover wait while streaming', () => {
    assert.equal(streamingSubState(true, true), 'CancelingRequestedDBMigrations');
    assert.equal(streamingSubState(false, true), 'WaitingForApplyFix');
    assert.equal(streamingSubState(false, false), 'WaitingForCutoverTrigger');
  });

  it('ends Succeeded when some databases were cut over and the others canceled, Canceled when all were canceled', () => {
    assert.deepEqual(
      endOfDatabases([
        { database: 'a', state: 'Succeeded' },
        { database: 'b', state: 'Succeeded' },
      ]),
      { state: 'Succeeded', message: null },
    );
    assert.deepEqual(
      endOfDatabases([
        { database: 'a', state: 'Succeeded' },
        { database: 'b', state: 'Canceled' },
      ]),
      { state: 'Succeeded', message: 'cut over; b canceled by the user and not migrated' },
    );
    assert.equal(endOfDatabases([{ database: 'b', state: 'Canceled' }]).state, 'Canceled');
  });

  it('says which settings a source lacks for logical replication, and nothing when it has them', () => {
    assert.deepEqual(logicalReplicationNeeds({ wal_level: 'logical', max_slots: 10, max_senders: 10, used_slots: 2 }, 2), []);
    assert.deepEqual(logicalReplicationNeeds({ wal_level: 'replica', max_slots: 2, max_senders: 1, used_slots: 1 }, 2), [
      { setting: 'wal_level', value: 'logical' },
      { setting: 'max_replication_slots', value: '3' },
      { setting: 'max_wal_senders', value: '3' },
    ]);
  });
});
