// pgferry's own status object, as `show --output json` printed it before the Azure shape: now
// properties.pgferry of that shape (`--query properties.pgferry` gives it back whole).
import { recommendedServerParameters, type MigrationStatus } from '../engine';

/** The `show` object: MigrationStatus with start/end always present (null until known). */
export function statusJson(status: MigrationStatus): Record<string, unknown> {
  const { name, state, subState, mode, option, message, createdAt, startedAt, endedAt, ...rest } = status;
  return {
    name,
    state,
    subState,
    mode,
    option,
    message: message ?? null,
    createdAt,
    startedAt: startedAt ?? null,
    endedAt: endedAt ?? null,
    ...rest,
    // the lab's server.parameters shape, from the validation's parameter report
    recommendedServerParameters: recommendedServerParameters(status.validation),
  };
}
