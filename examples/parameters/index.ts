// The source's server parameters onto an Azure Flexible Server: a Validate-only PgMigration reads
// the source's non-default parameters and compares them with the target's; its
// recommendedServerParameters output (name → value, only what Azure lets a user set and the target
// lacks) becomes one azure-native Configuration per parameter. Run it before the migration itself.
import * as pulumi from '@pulumi/pulumi';
import * as dbforpostgresql from '@pulumi/azure-native/dbforpostgresql';
import { PgMigration, type SslMode } from 'pgferry';

const cfg = new pulumi.Config();

const report = new PgMigration('parameters', {
  migrationName: cfg.get('migrationName') ?? 'parameter-report',
  source: {
    host: cfg.require('sourceHost'),
    port: cfg.getNumber('sourcePort') ?? 5432,
    user: cfg.get('sourceUser') ?? 'postgres',
    password: cfg.requireSecret('sourcePassword'),
    sslMode: (cfg.get('sourceSslMode') ?? 'prefer') as SslMode,
  },
  target: {
    host: cfg.require('targetHost'),
    user: cfg.require('targetUser'),
    password: cfg.requireSecret('targetPassword'),
    sslMode: 'require',
  },
  databases: cfg.requireObject<string[]>('databases'),
  // Only the checks: nothing is copied, both servers stay as they are.
  option: 'Validate',
});

const resourceGroupName = cfg.require('resourceGroupName');
const serverName = cfg.require('serverName');

// The parameter names are known only once the report has run, so the Configurations are declared
// inside apply: the first preview cannot list them (a later one does). Flexible Server refuses
// concurrent parameter writes ("ServerIsBusy"), so each waits for the one before it. Parameters
// that need a restart (the report's needsRestart) take effect after one: restart the server from
// the portal or with `az postgres flexible-server restart`, as lab-stack/serverRestart.ts does.
export const configured = report.recommendedServerParameters.apply((parameters) => {
  let previous: dbforpostgresql.Configuration | undefined;
  const names: string[] = [];
  for (const [name, value] of Object.entries(parameters).sort(([a], [b]) => a.localeCompare(b))) {
    previous = new dbforpostgresql.Configuration(
      `param-${name.replace(/[^a-z0-9]+/gi, '-')}`,
      { resourceGroupName, serverName, configurationName: name, value, source: 'user-override' },
      previous ? { dependsOn: [previous] } : {},
    );
    names.push(name);
  }
  return names;
});

export const recommendedServerParameters = report.recommendedServerParameters;
export const validation = report.validation;
