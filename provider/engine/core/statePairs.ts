// The (state, substate) pairs a migration may be recorded in: those the Azure migration service
// shows (and pgferry's own WaitingForApplyFix), in one table. The control store refuses any other
// pair before writing it, so a flow that would show Azure's clients a combination they never see
// from Azure fails loudly in pgferry's own tests instead.
import { PgferryError } from './errors';
import type { MigrationState, MigrationSubState } from './model';

export const ALLOWED_STATE_PAIRS: Readonly<Record<MigrationState, readonly MigrationSubState[]>> = {
  InProgress: [
    'PerformingPreRequisiteSteps',
    'WaitingForDBsToMigrateSpecification',
    'WaitingForDataMigrationScheduling',
    'WaitingForDataMigrationWindow',
    'ValidationInProgress',
    'MigratingData',
    'CompletingMigration',
    'CancelingRequestedDBMigrations',
  ],
  WaitingForUserAction: [
    'WaitingForLogicalReplicationSetupRequestOnSourceDB',
    'WaitingForTargetDBOverwriteConfirmation',
    'WaitingForCutoverTrigger',
    'WaitingForApplyFix',
  ],
  // while slots, publications and origins are dropped: at the end of a cutover, or of a cancel or failure
  CleaningUp: ['CompletingMigration', 'CancelingRequestedDBMigrations'],
  Succeeded: ['Completed'],
  Failed: ['Completed'],
  Canceled: ['Completed'],
  ValidationFailed: ['Completed'],
};

export function isAllowedStatePair(state: MigrationState, subState: MigrationSubState): boolean {
  return ALLOWED_STATE_PAIRS[state]?.includes(subState) === true;
}

/** Throws an internal error naming the pair and the substates the state allows. */
export function checkStatePair(state: MigrationState, subState: MigrationSubState): void {
  if (isAllowedStatePair(state, subState)) return;
  const allowed = ALLOWED_STATE_PAIRS[state];
  throw new PgferryError(
    'STATE_PAIR_NOT_ALLOWED',
    `state ${state} with substate ${subState} is not a pair Azure has; ${state} allows ${allowed ? allowed.join(', ') : 'no substate (unknown state)'}`,
    { category: 'internal', field: 'subState' },
  );
}
