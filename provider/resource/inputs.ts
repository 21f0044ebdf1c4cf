// Which stored properties are inputs: read and delete receive only the stored outputs, which echo
// the inputs beside the status, and rebuild the spec from them.
import * as engine from '../engine';
import { PULUMI_ONLY_KEYS } from './inputKeys';
import { withPgferrySpellings } from './aliases';

type Props = Record<string, unknown>;

/** The property names of the inputs: the engine spec's fields plus the Pulumi-only ones. */
const INPUT_KEYS: readonly string[] = [...Object.keys(engine.migrationSpecSchema.shape), ...PULUMI_ONLY_KEYS];

/** The inputs inside stored outputs. */
export function inputsOf(outputs: Props): Props {
  return withPgferrySpellings(Object.fromEntries(Object.entries(outputs).filter(([k]) => INPUT_KEYS.includes(k))));
}
