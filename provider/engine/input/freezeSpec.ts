// The frozen form of a parsed spec, shared by the parser and the runner's hand-off: its own file,
// without zod, so that a runner taking a parsed spec does not load the parser (handOff.ts).
import type { MigrationSpec } from './migrationSpec';

/** Frozen as parseMigrationSpec returns it. */
export function freezeSpec(spec: MigrationSpec): MigrationSpec {
  return Object.freeze({
    ...spec,
    source: Object.freeze({ ...spec.source }),
    target: Object.freeze({ ...spec.target }),
    databases: Object.freeze([...spec.databases]),
  });
}
