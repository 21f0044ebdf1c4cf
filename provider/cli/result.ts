// What a command prints as its result: a migration as the Azure resource (json, yaml, tsv, --query)
// or pgferry's own table, formatted as --output asks, always through redact().
import type { MigrationStatus, ServerSpec } from '../engine';
import type { CliArgs } from './input/parse';
import { toAzureResource, type ArmScope } from '../azure/shape';
import { formatResult, type Printable } from './format';
import { renderList, renderStatus } from './output';
import { redact } from './secrets';
import { serverNameOf } from '../azure/serverName';

export function printResult(args: CliArgs, result: Printable): void {
  const text = formatResult(result, { output: args.output, query: args.query, color: process.stdout.isTTY === true });
  if (text) process.stdout.write(redact(text));
}

function armScopeOf(args: CliArgs): ArmScope {
  return { subscription: args.subscription, resourceGroup: args.resourceGroup, server: args.server };
}

/** The server name for the id when none was given or recorded: the stored target host's. */
function fallbackServer(status: MigrationStatus, target?: ServerSpec): string {
  const stored = (status.spec.target as { host?: unknown } | undefined)?.host;
  const host = typeof stored === 'string' ? stored : target?.host;
  return host ? serverNameOf(host) : 'unknown';
}

export function migrationResult(args: CliArgs, status: MigrationStatus, target?: ServerSpec): Printable {
  return { value: toAzureResource(status, armScopeOf(args), fallbackServer(status, target)), table: () => renderStatus(status) };
}

export function migrationListResult(args: CliArgs, statuses: readonly MigrationStatus[], target?: ServerSpec): Printable {
  return {
    value: statuses.map((s) => toAzureResource(s, armScopeOf(args), fallbackServer(s, target))),
    table: () => renderList(statuses),
  };
}
