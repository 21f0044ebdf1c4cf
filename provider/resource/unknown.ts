// Values Pulumi does not know yet (during preview, outputs of resources still to be updated) travel
// to the provider as this sentinel string; check and diff must not judge them.

/** The sentinel the engine sends in place of an unknown value. */
export const UNKNOWN = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';

/** Whether the value is, or holds anywhere inside it, an unknown. */
export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(containsUnknown);
  return false;
}
