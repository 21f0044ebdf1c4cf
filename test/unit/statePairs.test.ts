// The one table of the (state, substate) pairs a migration may be recorded in: Azure's pairs, and
// every other pair refused with an internal error that names what the state allows.
import assert from 'node:assert/strict';
import { ALLOWED_STATE_PAIRS, checkStatePair, isAllowedStatePair } from '../../provider/engine/core/statePairs';
import {
  cleanupSubState,
  isPgferryError,
  MIGRATION_STATES,
  MIGRATION_SUB_STATES,
  registeredSubState,
  streamingSubState,
  waitState,
  type MigrationSubState,
} from '../../provider/engine';

describe('allowed state and substate pairs (unit)', () => {
  it('names every state, and only substates the model knows', () => {
    assert.deepEqual(Object.keys(ALLOWED_STATE_PAIRS).sort(), [...MIGRATION_STATES].sort());
    for (const subStates of Object.values(ALLOWED_STATE_PAIRS)) {
      for (const s of subStates) assert.ok(MIGRATION_SUB_STATES.includes(s), s);
    }
  });

  it('allows the pairs Azure shows: waits for the user, streaming, cleaning up, and Completed for every final state', () => {
    const allowed: [string, string][] = [
      ['InProgress', 'PerformingPreRequisiteSteps'],
      ['InProgress', 'WaitingForDBsToMigrateSpecification'],
      ['InProgress', 'WaitingForDataMigrationScheduling'],
      ['InProgress', 'WaitingForDataMigrationWindow'],
      ['InProgress', 'ValidationInProgress'],
      ['InProgress', 'MigratingData'],
      ['InProgress', 'CompletingMigration'],
      ['InProgress', 'CancelingRequestedDBMigrations'],
      ['WaitingForUserAction', 'WaitingForCutoverTrigger'],
      ['WaitingForUserAction', 'WaitingForApplyFix'],
      ['WaitingForUserAction', 'WaitingForLogicalReplicationSetupRequestOnSourceDB'],
      ['WaitingForUserAction', 'WaitingForTargetDBOverwriteConfirmation'],
      ['CleaningUp', 'CompletingMigration'],
      ['CleaningUp', 'CancelingRequestedDBMigrations'],
      ['Succeeded', 'Completed'],
      ['Failed', 'Completed'],
      ['Canceled', 'Completed'],
      ['ValidationFailed', 'Completed'],
    ];
    const all = MIGRATION_STATES.flatMap((state) => MIGRATION_SUB_STATES.map((sub) => [state, sub] as [string, string]));
    const table = all.filter(([state, sub]) => isAllowedStatePair(state as never, sub as never));
    assert.deepEqual(table.map((p) => p.join('/')).sort(), allowed.map((p) => p.join('/')).sort());
  });

  it('allows every pair the flow derives from the transitions', () => {
    const waits: MigrationSubState[] = [
      'WaitingForLogicalReplicationSetupRequestOnSourceDB',
      'WaitingForTargetDBOverwriteConfirmation',
      'WaitingForDataMigrationWindow',
      'WaitingForDBsToMigrateSpecification',
    ];
    for (const sub of waits) assert.ok(isAllowedStatePair(waitState(sub), sub), sub);
    for (const [canceling, stopped] of [
      [false, false],
      [false, true],
    ] as const) {
      assert.ok(isAllowedStatePair('WaitingForUserAction', streamingSubState(canceling, stopped)));
    }
    assert.ok(isAllowedStatePair('InProgress', streamingSubState(true, false)));
    for (const canceled of [true, false]) assert.ok(isAllowedStatePair('CleaningUp', cleanupSubState(canceled)));
    assert.ok(isAllowedStatePair('InProgress', registeredSubState({ start: '2999-01-01T00:00:00Z' }, Date.now())));
    assert.equal(registeredSubState({}, Date.now(), 0), 'WaitingForDBsToMigrateSpecification');
    assert.ok(isAllowedStatePair('InProgress', registeredSubState({}, Date.now(), 0)));
  });

  it('refuses any other pair with an internal error naming the pair and what the state allows', () => {
    for (const [state, sub] of [
      ['Succeeded', 'MigratingData'],
      ['InProgress', 'Completed'],
      ['WaitingForUserAction', 'MigratingData'],
      ['CleaningUp', 'WaitingForCutoverTrigger'],
    ] as const) {
      assert.throws(
        () => checkStatePair(state, sub),
        (e: unknown) => {
          assert.ok(isPgferryError(e) && e.code === 'STATE_PAIR_NOT_ALLOWED' && e.category === 'internal');
          assert.equal(
            (e as Error).message,
            `state ${state} with substate ${sub} is not a pair Azure has; ${state} allows ${ALLOWED_STATE_PAIRS[state].join(', ')}`,
          );
          return true;
        },
      );
    }
    assert.doesNotThrow(() => checkStatePair('Canceled', 'Completed'));
  });
});
