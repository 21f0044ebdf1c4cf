// The `migrationRuntime` config key: VMs in the lab's VNet that run `pgferry agent`, so a
// migration with `runtime: agents` goes on after the `pulumi up` that declared it has ended.
import { z } from 'zod';
import { parseCidr } from './cidr';
import { vmAdminUsernameSchema } from './schemaParts';

/** Most agent VMs one lab runs: a migration runtime, not a fleet (each VM holds `concurrency` items). */
export const MAX_RUNTIME_VMS = 10;

/**
 * Where the VMs install pgferry from (npm's install spec, passed to `npm install --global`): the
 * package tarball at an https URL (`npm pack`'s .tgz), a git URL (npm runs the package's `prepare`,
 * which builds dist/), or the registry (`pgferry@0.2.0`). Nothing with white space or a shell
 * character: the spec is quoted in the script, but a mistyped spec should fail here, not at boot.
 */
const PACKAGE_SPEC =
  /^(https:\/\/[^\s'"`$\\]+\.tgz|git\+(https|ssh):\/\/[^\s'"`$\\]+|github:[\w.-]+\/[\w.-]+(#[\w./-]+)?|pgferry(@[\w.^~-]+)?)$/;
const PACKAGE_SPEC_ALLOWED =
  'must be an https URL of the package tarball (…/pgferry-0.2.0.tgz), a git URL (git+https://…/pgferry.git#ref, github:owner/repo#ref) or pgferry@<version>';

/** Azure's image URN, as `az vm create --image` takes it: publisher:offer:sku:version. */
const IMAGE_URN = /^[A-Za-z0-9][A-Za-z0-9._-]*:[A-Za-z0-9][A-Za-z0-9._-]*:[A-Za-z0-9][A-Za-z0-9._-]*:[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** `pulumi config set --path migrationRuntime.count 3` stores 3; a quoted "3" is taken too. */
const wholeNumber = (min: number, max: number) =>
  z
    .union([z.number(), z.string().regex(/^\d+$/)], { error: `must be a whole number from ${min} to ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int(`must be a whole number from ${min} to ${max}`)
        .min(min, `must be from ${min} to ${max}`)
        .max(max, `must be from ${min} to ${max}`),
    );

export const migrationRuntimeSchema = z
  .strictObject(
    {
      enabled: z.boolean({ error: 'must be true or false' }).default(false),
      count: wholeNumber(1, MAX_RUNTIME_VMS).default(1),
      vmSize: z
        .string({ error: 'must be a VM size such as Standard_D4s_v5' })
        .regex(/^Standard_[A-Za-z0-9]+(_[A-Za-z0-9]+)*$/, 'must be an Azure VM size such as Standard_D4s_v5 or Standard_B2s')
        .default('Standard_D2s_v5'),
      image: z
        .string({ error: 'must be an image URN publisher:offer:sku:version' })
        .regex(IMAGE_URN, 'must be an image URN publisher:offer:sku:version such as Canonical:ubuntu-24_04-lts:server:latest')
        .default('Canonical:ubuntu-24_04-lts:server:latest'),
      package: z.string({ error: PACKAGE_SPEC_ALLOWED }).regex(PACKAGE_SPEC, PACKAGE_SPEC_ALLOWED).optional(),
      /** Work items each agent runs at once (`pgferry agent --concurrency`). */
      concurrency: wholeNumber(1, 64).default(2),
      /** The client tools' major (pg_dump must be at least the source's); default: the newest of the lab's servers. */
      postgresClientVersion: z
        .union([z.string(), z.number()], { error: 'must be a PostgreSQL major such as 16' })
        .transform(String)
        .pipe(z.enum(['13', '14', '15', '16', '17', '18'], { error: 'must be one of 13, 14, 15, 16, 17, 18' }))
        .optional(),
      adminUsername: vmAdminUsernameSchema(['pgferry', 'postgres'], "the agent's system account and PostgreSQL's"),
      /** Omitted: sourceVm.sshPublicKey. The VMs have no password login and no public IP. */
      sshPublicKey: z
        .string({ error: 'must be an OpenSSH public key' })
        .regex(
          /^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/,
          'must be an OpenSSH public key line (ssh-rsa, ssh-ed25519 or ecdsa-sha2-*)',
        )
        .optional(),
      /**
       * Networks outside the lab's subnets where sources live (on premises over the gateway, a
       * peered VNet): the agents' network security group lets them reach port 5432 there.
       */
      sourceCidrs: z
        .array(
          z
            .string({ error: 'must be an IPv4 CIDR block such as 192.168.10.0/24' })
            .refine((v) => parseCidr(v) !== undefined, 'must be an IPv4 CIDR block such as 192.168.10.0/24, with no host bits set'),
          { error: 'must be a list of IPv4 CIDR blocks' },
        )
        .default([]),
    },
    { error: 'must be an object with keys such as enabled, count, vmSize, image, package' },
  )
  .prefault({});
