// The root Pulumi program (Pulumi.yaml): the migration lab of lab-stack/ and the PgMigration
// resources declared in its stack config (`migrations`: offline and online), which target the
// lab's Flexible Server and wait for it. Pulumi takes the returned object as the stack outputs.
import { createLab, readLabConfig, stackOutputs } from './lab-stack/lab';
import type { MigrationFactory } from './lab-stack/labMigrations';
import { PgMigration } from './provider';

const pgMigrations: MigrationFactory = (name, args, opts) => new PgMigration(name, args, opts);

function rootProgram(): Record<string, unknown> {
  const lab = createLab(readLabConfig(), { migrationFactory: pgMigrations });
  // Per migration: where it is and, after a cutover, how long writes were stopped.
  const migrations = Object.fromEntries(
    [...lab.migrations].map(([name, resource]) => {
      const migration = resource as PgMigration;
      return [name, { state: migration.state, subState: migration.subState, downtimeSeconds: migration.downtimeSeconds }];
    }),
  );
  return { ...stackOutputs(lab), migrations };
}

export = rootProgram;
