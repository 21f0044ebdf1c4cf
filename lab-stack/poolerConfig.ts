// The `pooler` config key: a PgBouncer the lab runs beside the migration runtime's first agent, in
// front of the source VM's databases, which the lab's online migrations from that VM name as their
// `pooler`, so their cutover pauses it, points it at the server and resumes it (docs/pooler.md).
// Off by default: the applications must connect through it before a cutover can spare them anything.
import { z } from 'zod';
import { identifierSchema } from './schemaParts';

/** The secret config keys of the lab's PgBouncer: pgferry's admin login, the applications' login. */
export const POOLER_ADMIN_SECRET = 'poolerAdminPassword';
export const POOLER_APP_SECRET = 'poolerAppPassword';

/** PgBouncer's own port (Debian's default), where the applications connect instead of 5432. */
const DEFAULT_POOLER_PORT = 6432;

/** `pulumi config set --path pooler.port 6433` stores 6433; a quoted "6433" is taken too. */
const portSchema = z
  .union([z.number(), z.string().regex(/^\d+$/)], { error: 'must be a port number from 1024 to 65535' })
  .transform(Number)
  .pipe(z.number().int('must be a whole number').min(1024, 'must be from 1024 to 65535').max(65535, 'must be from 1024 to 65535'));

export const poolerSchema = z
  .strictObject(
    {
      enabled: z.boolean({ error: 'must be true or false' }).default(false),
      /** PgBouncer's listen_port on the runtime VM. */
      port: portSchema.default(DEFAULT_POOLER_PORT),
      /** The admin_users login pgferry pauses, reloads and resumes it with (password: secret poolerAdminPassword). */
      adminUser: identifierSchema.default('pgferry_pooler'),
      /**
       * The applications' login through it (password: secret poolerAppPassword). PgBouncer logs in
       * to a server as its client: the login must exist on the source and, before the cutover, on the server.
       */
      appUser: identifierSchema.default('lab_app'),
    },
    { error: 'must be an object with keys such as enabled, port, adminUser, appUser' },
  )
  .prefault({});
