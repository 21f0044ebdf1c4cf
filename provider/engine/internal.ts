// The engine's entry for pgferry's own tools (bench/, faults/): what they need beyond the public
// API of index.ts to set up and judge a scenario (the control catalog's own handle, a migration
// registered or moved to a state by hand, a runner's input, the retry policy, the writer fence's
// names and statements). It is not in the package's exports map: a program that installs pgferry
// cannot reach it, and the CLI, the resource and the console may not import it (the ranks check,
// .dependency-cruiser.cjs).
export { retrying } from './connect/retry';
// the catalog's handle itself (a caller of index.ts holds it as a ControlCatalog)
export { CatalogConnection } from './control/connection';
// what a writer fence changes on a source database: its default_transaction_read_only before, and
// its triggers (the function they call, in the control schema; the statement that drops them)
export { PRIOR_SETTING_SQL } from './footprint/writerFence';
export { liftTriggersStatement } from './footprint/fenceTriggers';
export { CONTROL_SCHEMA, fenceNamesOf } from './core/names';
// the restart lab's agent way (bench/restartLabAgent.ts): it holds a migration's lease, makes it one
// of runtime agents (its spec without passwords) and wakes the agents as `pgferry resume` does
export { leaseKey, REQUEST_CHANNEL } from './core/names';
export { runSpecOf } from './input/runSpec';
export { register, setState } from './control/store';
export { runnerInput } from './input/handOff';
// the argument an agent's spare runner carries on its command line until it is handed a job: the
// fault campaign's judge tells a spare from a runner with a job by it (faults/processes.ts)
export { SPARE_ARGUMENT } from './runner/spareRunner';
