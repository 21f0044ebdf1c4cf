// What Pulumi's check is told of one input it refuses: the property and why. A type of its own,
// shared by the input schema (inputSchema.ts) and the checks of azure-native's spellings it calls
// (aliases.ts, azureNative.ts).

/** One refused input, as the provider's Check returns it to Pulumi. */
export interface CheckFailure {
  readonly property: string;
  readonly reason: string;
}
