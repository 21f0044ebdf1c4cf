// The lab's stack config: one zod schema, parsed once into a frozen LabConfig. Every problem is
// reported as one line naming the config key (`pgferry-lab:server.version`) and what is allowed.
import { z, type RefinementCtx } from 'zod';
import { cidrContains, cidrContainsIp, cidrsOverlap, parseCidr, parseIp, type Cidr } from './cidr';
import { migrationOptionShape, migrationSchema } from './migrationConfig';
import { poolerSchema } from './poolerConfig';
import { MAX_RUNTIME_VMS, migrationRuntimeSchema } from './runtimeConfig';
import { identifierSchema, oneOf, vmAdminUsernameSchema } from './schemaParts';

/** The namespace the lab's keys live under (the `name` in lab-stack/Pulumi.yaml). */
export const LAB_NAMESPACE = 'pgferry-lab';

/** Extensions the seeds allow-list on every target; `server.extensions` adds the source's own. */
export const DEFAULT_EXTENSIONS = ['TABLEFUNC', 'UUID-OSSP'] as const;

/** Majors a source may run (the lab VM installs them from PGDG). */
const POSTGRES_VERSIONS = ['11', '12', '13', '14', '15', '16', '17', '18'] as const;
/**
 * Majors Azure still creates Flexible Servers of. 11 and 12 are retired: past their end of support
 * in Azure's version policy, and the Azure CLI no longer offers 12 for create (Azure/azure-cli#31363,
 * "Support for PostgreSQL 12 has officially ended"); 13 runs in extended support.
 */
const SERVER_VERSIONS = ['13', '14', '15', '16', '17', '18'] as const;
const RETIRED_SERVER_VERSIONS = ['11', '12'];
const SERVER_TIERS = ['Burstable', 'GeneralPurpose', 'MemoryOptimized'] as const;
const HA_MODES = ['Disabled', 'ZoneRedundant', 'SameZone'] as const;
/** Flexible Server's provisioned storage sizes in GiB (anything else is rejected by Azure). */
const STORAGE_SIZES_GB = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767] as const;
/**
 * Route-based gateway SKUs with point-to-site over IKEv2/OpenVPN, zone-redundant ("AZ"): Azure no
 * longer creates the non-AZ VpnGw1-5 (deployment error NonAzSkusNotAllowedForVPNGateway; the SKU
 * consolidation retires them on 2026-09-30, Azure updates "VpnGw1-5 non-AZ SKUs will be retired")
 * and refuses Basic for P2S with IKEv2/OpenVPN.
 */
export const VPN_SKUS = ['VpnGw1AZ', 'VpnGw2AZ', 'VpnGw3AZ', 'VpnGw4AZ', 'VpnGw5AZ'] as const;
/** The non-AZ SKUs, recognised only to say what replaces them. */
const NON_AZ_VPN_SKUS = ['VpnGw1', 'VpnGw2', 'VpnGw3', 'VpnGw4', 'VpnGw5'] as const;
/**
 * Which gateway generation each SKU size exists in ("Gateway SKUs by tunnel, connection, and
 * throughput" in Azure's VPN Gateway settings article): VpnGw1 only as Generation1, VpnGw4 and
 * VpnGw5 only as Generation2 (Azure accepts the config of VpnGw4/5 with Generation1 and fails later).
 */
export const VPN_GENERATIONS: Readonly<Record<(typeof VPN_SKUS)[number], readonly ('Generation1' | 'Generation2')[]>> = {
  VpnGw1AZ: ['Generation1'],
  VpnGw2AZ: ['Generation1', 'Generation2'],
  VpnGw3AZ: ['Generation1', 'Generation2'],
  VpnGw4AZ: ['Generation2'],
  VpnGw5AZ: ['Generation2'],
};
const VPN_PROTOCOLS = ['IkeV2', 'SSTP', 'OpenVPN'] as const;
/** Names Azure refuses as the Flexible Server administrator login. */
const RESERVED_LOGINS = ['azure_superuser', 'azure_pg_admin', 'admin', 'administrator', 'root', 'guest', 'public'];

/** Accepts 16 as well as "16": `pulumi config set` stores numbers-looking values as strings or numbers. */
const versionSchema = z
  .union([z.string(), z.number()], { error: `must be one of ${POSTGRES_VERSIONS.join(', ')}` })
  .transform(String)
  .pipe(oneOf(POSTGRES_VERSIONS));

const serverVersionSchema = z
  .union([z.string(), z.number()], { error: `must be one of ${SERVER_VERSIONS.join(', ')}` })
  .transform(String)
  .refine((v) => !RETIRED_SERVER_VERSIONS.includes(v), {
    error: (issue) => `must be one of ${SERVER_VERSIONS.join(', ')}: Azure no longer creates PostgreSQL ${String(issue.input)} servers`,
  })
  .pipe(oneOf(SERVER_VERSIONS));

const cidrSchema = z
  .string({ error: 'must be an IPv4 CIDR block such as 10.20.1.0/24' })
  .refine((v) => parseCidr(v) !== undefined, 'must be an IPv4 CIDR block such as 10.20.1.0/24, with no host bits set');

const ipSchema = z
  .string({ error: 'must be an IPv4 address such as 10.20.2.4' })
  .refine((v) => parseIp(v) !== undefined, 'must be an IPv4 address such as 10.20.2.4');

const networkSchema = z
  .strictObject(
    {
      addressSpace: cidrSchema.default('10.20.0.0/16'),
      gatewaySubnet: cidrSchema.default('10.20.0.0/27'),
      serverSubnet: cidrSchema.default('10.20.1.0/24'),
      sourceSubnet: cidrSchema.default('10.20.2.0/24'),
      /** The DNS resolver's inbound endpoint (delegated to it alone): /28 to /24. */
      resolverSubnet: cidrSchema.default('10.20.3.0/28'),
      /** The migration runtime's VMs (migrationRuntime.enabled), behind their own network security group. */
      runtimeSubnet: cidrSchema.default('10.20.4.0/24'),
    },
    { error: 'must be an object with keys addressSpace, gatewaySubnet, serverSubnet, sourceSubnet, resolverSubnet, runtimeSubnet' },
  )
  .prefault({});

const parameterValueSchema = z
  .union([z.string(), z.number(), z.boolean()], { error: 'must be a string, number or boolean' })
  .transform((v) => (typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)));

const serverSchema = z
  .strictObject(
    {
      name: z
        .string({ error: 'must be a server name' })
        .regex(
          /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
          'must be 3-63 lowercase letters, digits or hyphens, not starting or ending with a hyphen',
        )
        .optional(),
      version: serverVersionSchema.default('16'),
      skuName: z
        .string({ error: 'must be a SKU name such as Standard_D2ds_v5' })
        .regex(/^Standard_[A-Za-z0-9_]+$/, 'must be a SKU name such as Standard_D2ds_v5 or Standard_B1ms')
        .default('Standard_D2ds_v5'),
      tier: oneOf(SERVER_TIERS).default('GeneralPurpose'),
      storageSizeGb: z
        .number({ error: `must be one of ${STORAGE_SIZES_GB.join(', ')}` })
        .refine((v) => (STORAGE_SIZES_GB as readonly number[]).includes(v), `must be one of ${STORAGE_SIZES_GB.join(', ')}`)
        .default(128),
      storageAutoGrow: z.boolean({ error: 'must be true or false' }).default(false),
      administratorLogin: z
        .string({ error: 'must be a login name' })
        .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be lowercase letters, digits or underscores, starting with a letter or underscore')
        .refine((v) => !RESERVED_LOGINS.includes(v) && !v.startsWith('pg_'), `must not be ${RESERVED_LOGINS.join(', ')} or start with pg_`)
        .default('pgadmin'),
      highAvailability: oneOf(HA_MODES).default('Disabled'),
      availabilityZone: z.enum(['1', '2', '3'], { error: 'must be 1, 2 or 3' }).optional(),
      backupRetentionDays: z
        .number({ error: 'must be a whole number of days from 7 to 35' })
        .int('must be a whole number of days from 7 to 35')
        .min(7, 'must be from 7 to 35')
        .max(35, 'must be from 7 to 35')
        .default(7),
      extensions: z
        .array(z.string({ error: 'must be an extension name' }).regex(/^[A-Za-z0-9_-]+$/, 'must be an extension name such as PG_TRGM'), {
          error: 'must be a list of extension names',
        })
        .default([]),
      parameters: z
        .record(
          z.string().regex(/^[a-z_][a-z0-9_.]*$/, 'parameter names are lowercase letters, digits, underscores and dots'),
          parameterValueSchema,
          { error: 'must be a map of server parameter names to values' },
        )
        .refine((p) => !('azure.extensions' in p), 'must not set azure.extensions: list extensions in server.extensions instead')
        .default({}),
    },
    { error: 'must be an object with keys such as version, skuName, parameters' },
  )
  .prefault({});

const certificateSchema = z
  .string({ error: 'must be the base64 body of the root certificate' })
  .refine((v) => !v.includes('-----'), 'must be the base64 body of the root certificate, without the -----BEGIN/END CERTIFICATE----- lines')
  .transform((v) => v.replace(/\s+/g, ''))
  .refine(
    (v) => /^[A-Za-z0-9+/]+={0,2}$/.test(v) && v.length >= 64,
    'must be the base64 body of the root certificate (at least 64 base64 characters)',
  );

const vpnSchema = z
  .strictObject(
    {
      enabled: z.boolean({ error: 'must be true or false' }).default(true),
      skuName: z
        .string({ error: `must be one of ${VPN_SKUS.join(', ')}` })
        .refine((v) => !(NON_AZ_VPN_SKUS as readonly string[]).includes(v), {
          error: (issue) =>
            `must be a zone-redundant SKU: Azure no longer creates ${String(issue.input)} (NonAzSkusNotAllowedForVPNGateway); use ${String(issue.input)}AZ, with vpn.zones [] in a region without availability zones`,
        })
        .pipe(oneOf(VPN_SKUS))
        .default('VpnGw1AZ'),
      generation: oneOf(['Generation1', 'Generation2'] as const).optional(),
      /**
       * Zones of the gateway's Standard public IP. An AZ SKU needs them (otherwise
       * VmssVpnGatewayPublicIpsMustHaveZonesConfigured); [] for a region without availability zones.
       */
      zones: z
        .array(z.enum(['1', '2', '3'], { error: 'must be 1, 2 or 3' }), { error: 'must be a list of zones such as ["1", "2", "3"]' })
        .refine((zones) => new Set(zones).size === zones.length, 'must not name a zone twice')
        .default(['1', '2', '3']),
      clientAddressPool: cidrSchema.default('172.16.201.0/24'),
      rootCertificateName: z
        .string({ error: 'must be a certificate name' })
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/, 'must be letters, digits, _ . or -, starting with a letter or digit')
        .default('P2SRootCert'),
      rootCertificateData: certificateSchema.optional(),
      /** A DNS Private Resolver whose address VPN clients get, so they resolve the server's private FQDN. */
      dnsResolver: z.boolean({ error: 'must be true or false' }).default(true),
      protocols: z
        .array(oneOf(VPN_PROTOCOLS), { error: `must be a list drawn from ${VPN_PROTOCOLS.join(', ')}` })
        .min(1, `must name at least one of ${VPN_PROTOCOLS.join(', ')}`)
        // Azure offers OpenVPN, SSTP, IKEv2, IKEv2+OpenVPN and IKEv2+SSTP; the two SSL tunnels exclude each other.
        .refine((p) => !(p.includes('OpenVPN') && p.includes('SSTP')), 'must not combine OpenVPN and SSTP (Azure allows IkeV2 with either)')
        .default(['IkeV2', 'OpenVPN']),
    },
    { error: 'must be an object with keys such as enabled, rootCertificateData, protocols' },
  )
  .prefault({});

const sourceVmSchema = z
  .strictObject(
    {
      enabled: z.boolean({ error: 'must be true or false' }).default(false),
      vmSize: z
        .string({ error: 'must be a VM size such as Standard_B2s' })
        .regex(/^Standard_[A-Za-z0-9_]+$/, 'must be a VM size such as Standard_B2s')
        .default('Standard_B2s'),
      adminUsername: vmAdminUsernameSchema(['postgres'], 'the account PostgreSQL runs as'),
      sshPublicKey: z
        .string({ error: 'must be an OpenSSH public key' })
        .regex(
          /^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/,
          'must be an OpenSSH public key line (ssh-rsa, ssh-ed25519 or ecdsa-sha2-*)',
        )
        .optional(),
      privateIp: ipSchema.optional(),
      postgresVersion: versionSchema.default('16'),
      databases: z.array(identifierSchema, { error: 'must be a list of database names' }).default([]),
      /** Load the lab's AdventureWorks sample (provider/demo/adventureworks) into sampleDatabase. */
      loadSample: z.boolean({ error: 'must be true or false' }).default(true),
      sampleDatabase: identifierSchema.default('adventureworks'),
    },
    { error: 'must be an object with keys such as enabled, sshPublicKey, databases, loadSample' },
  )
  .prefault({});

const labShape = z.strictObject({
  location: z
    .string({ error: 'is required: set azure-native:location (or pgferry-lab:location) to an Azure region such as westeurope' })
    .regex(/^[a-z0-9]+$/, 'must be an Azure region name such as westeurope (lowercase, no spaces)'),
  namePrefix: z
    .string({ error: 'must be a short name' })
    .regex(/^[a-z][a-z0-9-]{1,18}[a-z0-9]$/, 'must be 3-20 lowercase letters, digits or hyphens, starting with a letter')
    .default('pgferry-lab'),
  tags: z
    .record(z.string(), z.string({ error: 'tag values must be strings' }), { error: 'must be a map of tag names to strings' })
    .default({}),
  network: networkSchema,
  server: serverSchema,
  vpn: vpnSchema,
  sourceVm: sourceVmSchema,
  migrationRuntime: migrationRuntimeSchema,
  pooler: poolerSchema,
  migrations: z.array(migrationSchema, { error: 'must be a list of migrations' }).default([]),
  ...migrationOptionShape,
});

type LabShape = z.output<typeof labShape>;

/** The address plan: subnets inside the address space, apart, and as large as Azure needs. */
function networkRules(lab: LabShape, ctx: RefinementCtx): void {
  const space = parseCidr(lab.network.addressSpace);
  // The runtime's subnet is planned only when the runtime is on: a lab without it keeps any address space it had.
  const keys = ['gatewaySubnet', 'serverSubnet', 'sourceSubnet', 'resolverSubnet', 'runtimeSubnet'] as const;
  const subnets = keys
    .slice(0, lab.migrationRuntime.enabled ? keys.length : keys.length - 1)
    .map((key) => [key, parseCidr(lab.network[key])] as const);
  if (space && subnets.every(([, subnet]) => subnet)) {
    const plan = subnets as ReadonlyArray<readonly [string, Cidr]>;
    for (const [key, subnet] of plan) {
      if (!cidrContains(space, subnet)) {
        ctx.addIssue({
          code: 'custom',
          path: ['network', key],
          message: `must lie inside network.addressSpace ${lab.network.addressSpace}`,
        });
      }
    }
    for (let i = 0; i < plan.length; i++) {
      for (let j = i + 1; j < plan.length; j++) {
        if (cidrsOverlap(plan[i]![1], plan[j]![1])) {
          ctx.addIssue({ code: 'custom', path: ['network', plan[j]![0]], message: `must not overlap network.${plan[i]![0]}` });
        }
      }
    }
    // Azure's minimums: a gateway subnet of at least /29 (/27 recommended), a delegated subnet of at least /28.
    if (plan[0]![1].prefix > 29)
      ctx.addIssue({ code: 'custom', path: ['network', 'gatewaySubnet'], message: 'must be /29 or larger (/27 recommended)' });
    if (plan[1]![1].prefix > 28)
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'serverSubnet'],
        message: 'must be /28 or larger (Flexible Server needs room for HA and scaling)',
      });
    // An inbound endpoint's subnet: between /28 and /24 (Azure DNS Private Resolver's subnet rules).
    if (plan[3]![1].prefix > 28 || plan[3]![1].prefix < 24)
      ctx.addIssue({ code: 'custom', path: ['network', 'resolverSubnet'], message: 'must be from /28 to /24 (DNS Private Resolver)' });
  }
}

/** SKU and tier, tier and high availability. */
function serverRules(lab: LabShape, ctx: RefinementCtx): void {
  if (/^Standard_B/.test(lab.server.skuName) && lab.server.tier !== 'Burstable') {
    ctx.addIssue({ code: 'custom', path: ['server', 'tier'], message: `must be Burstable for ${lab.server.skuName}` });
  }
  if (lab.server.tier === 'Burstable' && lab.server.highAvailability !== 'Disabled') {
    ctx.addIssue({ code: 'custom', path: ['server', 'highAvailability'], message: 'must be Disabled on the Burstable tier' });
  }
}

/** What a point-to-site VPN needs. */
function vpnRules(lab: LabShape, ctx: RefinementCtx): void {
  if (lab.vpn.enabled) {
    if (lab.vpn.rootCertificateData === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['vpn', 'rootCertificateData'],
        message: 'is required when vpn.enabled is true: the base64 body of the P2S root certificate (or set vpn.enabled false)',
      });
    }
    const generation = lab.vpn.generation;
    const allowed = VPN_GENERATIONS[lab.vpn.skuName];
    if (generation !== undefined && !allowed.includes(generation)) {
      ctx.addIssue({
        code: 'custom',
        path: ['vpn', 'generation'],
        message: `must be ${allowed.join(' or ')} for ${lab.vpn.skuName} (Generation1 has VpnGw1-3, Generation2 has VpnGw2-5)`,
      });
    }
    const pool = parseCidr(lab.vpn.clientAddressPool);
    const space = parseCidr(lab.network.addressSpace);
    if (pool && space && cidrsOverlap(pool, space)) {
      ctx.addIssue({
        code: 'custom',
        path: ['vpn', 'clientAddressPool'],
        message: `must not overlap network.addressSpace ${lab.network.addressSpace}`,
      });
    }
  }
}

/** The source VM's key and private address. */
function sourceVmRules(lab: LabShape, ctx: RefinementCtx): void {
  if (lab.sourceVm.enabled && lab.sourceVm.sshPublicKey === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['sourceVm', 'sshPublicKey'],
      message: 'is required when sourceVm.enabled is true: an OpenSSH public key line',
    });
  }
  const source = parseCidr(lab.network.sourceSubnet);
  const ip = lab.sourceVm.privateIp === undefined ? undefined : parseIp(lab.sourceVm.privateIp);
  if (source && ip !== undefined) {
    // Azure keeps the first four addresses and the last one of every subnet.
    if (!cidrContainsIp(source, ip) || ip - source.network < 4 || ip === source.network + 2 ** (32 - source.prefix) - 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['sourceVm', 'privateIp'],
        message: `must be an assignable address inside network.sourceSubnet ${lab.network.sourceSubnet} (the first four and the last are Azure's)`,
      });
    }
  }
}

/** The migration runtime: a key to log in with, a package to install, room for its VMs. */
function migrationRuntimeRules(lab: LabShape, ctx: RefinementCtx): void {
  const runtime = lab.migrationRuntime;
  if (!runtime.enabled) return;
  if (runtime.package === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['migrationRuntime', 'package'],
      message:
        'is required when migrationRuntime.enabled is true: where the VMs install pgferry from (an https URL of the package tarball, a git URL or pgferry@<version>)',
    });
  }
  if (runtime.sshPublicKey === undefined && lab.sourceVm.sshPublicKey === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['migrationRuntime', 'sshPublicKey'],
      message: 'is required when migrationRuntime.enabled is true and sourceVm.sshPublicKey is not set: an OpenSSH public key line',
    });
  }
  const subnet = parseCidr(lab.network.runtimeSubnet);
  // Azure keeps the first four addresses and the last: the VMs take .4 onwards.
  if (subnet && 2 ** (32 - subnet.prefix) - 5 < runtime.count) {
    ctx.addIssue({
      code: 'custom',
      path: ['network', 'runtimeSubnet'],
      message: `must hold migrationRuntime.count (${runtime.count}) VMs: a /${32 - Math.ceil(Math.log2(runtime.count + 5))} or larger (at most ${MAX_RUNTIME_VMS} VMs fit a /28)`,
    });
  }
}

/** Where a migration writes: its source (host:port, or the lab VM) and target database, for sharing rules. */
function sourceKey(migration: LabShape['migrations'][number]): string {
  return migration.source ? `${migration.source.host}:${migration.source.port}` : '(lab source VM)';
}

/**
 * Migrations: unique names, a source unless the lab VM is one, and one database written by one
 * migration at a time. The stack runs them in list order (labMigrations.ts), as the tutorial runs its
 * offline then its online migration over the same database; a later one that writes a database an
 * earlier one wrote must overwrite it (the tutorial's checkbox), and must not follow an online
 * migration still streaming into it (cutover false): both would write the same target database.
 */
function migrationRules(lab: LabShape, ctx: RefinementCtx): void {
  const names = new Set<string>();
  const writers = new Map<string, number>();
  lab.migrations.forEach((migration, index) => {
    if (names.has(migration.name)) {
      ctx.addIssue({ code: 'custom', path: ['migrations', index, 'name'], message: `must be unique: ${migration.name} is used twice` });
    }
    names.add(migration.name);
    const walLevel = lab.server.parameters.wal_level;
    if (migration.fallbackWindow !== undefined && walLevel !== undefined && walLevel.toLowerCase() !== 'logical') {
      ctx.addIssue({
        code: 'custom',
        path: ['migrations', index, 'fallbackWindow'],
        message: `needs the server's wal_level = logical (its reverse stream reads a slot on the server); server.parameters sets ${walLevel}: remove it, and the lab sets logical`,
      });
    }
    if (migration.source === undefined && !lab.sourceVm.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['migrations', index, 'source'],
        message: 'is required unless sourceVm.enabled is true (then the lab VM is the source)',
      });
    }
    for (const database of migration.databases) {
      const earlierIndex = writers.get(database);
      if (earlierIndex !== undefined) {
        const earlier = lab.migrations[earlierIndex]!;
        if (earlier.mode === 'Online' && !earlier.cutover) {
          ctx.addIssue({
            code: 'custom',
            path: ['migrations', index, 'databases'],
            message: `must not include ${database}: migrations[${earlierIndex}] (${earlier.name}) still streams into it until its cutover; two migrations would write one target database`,
          });
        } else if (!migration.overwriteDbsInTarget) {
          ctx.addIssue({
            code: 'custom',
            path: ['migrations', index, 'overwriteDbsInTarget'],
            message: `must be true: ${database} is on the target after migrations[${earlierIndex}] (${earlier.name}); the later migration overwrites it, as the tutorial's online run does`,
          });
        } else if (sourceKey(earlier) !== sourceKey(migration)) {
          ctx.addIssue({
            code: 'custom',
            path: ['migrations', index, 'databases'],
            message: `must not include ${database}: migrations[${earlierIndex}] (${earlier.name}) brings it from another source`,
          });
        }
      }
      writers.set(database, index);
    }
  });
}

/**
 * Whether a migration cuts over through the lab's PgBouncer: its own `pooler`, else an online
 * migration from the lab's source VM when `pooler.enabled`.
 */
export function migrationPooled(migration: LabShape['migrations'][number], lab: Pick<LabShape, 'pooler'>): boolean {
  return migration.pooler ?? (lab.pooler.enabled && migration.mode === 'Online' && migration.source === undefined);
}

/**
 * The lab's PgBouncer runs on the first runtime VM, beside pgferry, in front of the source VM; a
 * migration through it is online and from that VM. The agent of that VM holds the pooler's admin
 * credentials and may write its file, so it runs such a migration of runtime agents; runtime local
 * needs a `pulumi up` on that VM.
 */
function poolerRules(lab: LabShape, ctx: RefinementCtx): void {
  if (lab.pooler.enabled) {
    if (!lab.migrationRuntime.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['pooler', 'enabled'],
        message:
          'needs migrationRuntime.enabled: the lab runs PgBouncer on the first runtime VM, where pgferry is installed and can rewrite its configuration file',
      });
    }
    if (!lab.sourceVm.enabled) {
      ctx.addIssue({
        code: 'custom',
        path: ['pooler', 'enabled'],
        message: "needs sourceVm.enabled: the lab's PgBouncer serves the source VM's databases",
      });
    }
  }
  lab.migrations.forEach((migration, index) => {
    if (migration.pooler !== true) return;
    const why = !lab.pooler.enabled
      ? 'needs pooler.enabled (the lab runs no PgBouncer without it)'
      : migration.mode !== 'Online'
        ? 'applies only to an Online migration (mode), which has a cutover'
        : migration.source !== undefined
          ? "applies only to a migration from the lab's source VM (no source), whose databases the lab's PgBouncer serves"
          : undefined;
    if (why) ctx.addIssue({ code: 'custom', path: ['migrations', index, 'pooler'], message: why });
  });
}

// Cross-field rules: the address plan, SKU/HA combinations and what each option requires.
// Refinements run even when a field failed its own check, so every parse here is re-checked.
const labSchema = labShape.superRefine((lab, ctx) => {
  networkRules(lab, ctx);
  serverRules(lab, ctx);
  vpnRules(lab, ctx);
  sourceVmRules(lab, ctx);
  migrationRuntimeRules(lab, ctx);
  migrationRules(lab, ctx);
  poolerRules(lab, ctx);
});

/** Every top-level key of the lab's stack config. */
export const LAB_CONFIG_KEYS: readonly string[] = Object.keys(labSchema.shape);

export type LabConfig = z.output<typeof labSchema>;
export type LabConfigInput = z.input<typeof labSchema>;
export type MigrationConfig = LabConfig['migrations'][number];

/** A stack config problem; `key` is the full config key, e.g. `pgferry-lab:vpn.protocols`. */
export class LabConfigError extends Error {
  readonly key: string;
  constructor(key: string, problem: string) {
    super(`${key}: ${problem}`);
    this.name = 'LabConfigError';
    this.key = key;
  }
}

function configKey(namespace: string, path: readonly PropertyKey[]): string {
  let key = '';
  for (const part of path) key += typeof part === 'number' ? `[${part}]` : `${key ? '.' : ''}${String(part)}`;
  return `${namespace}:${key || '(root)'}`;
}

function describeIssue(namespace: string, issue: z.core.$ZodIssue): LabConfigError {
  if (issue.code === 'unrecognized_keys') {
    const path = issue.path.length ? issue.path : [];
    const allowedHint = path.length ? '' : ` (keys are ${LAB_CONFIG_KEYS.join(', ')})`;
    return new LabConfigError(
      configKey(namespace, path),
      `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}${allowedHint}`,
    );
  }
  // Echo short scalar values only: long ones (certificates, keys) would not fit one readable line.
  const input = (issue as { input?: unknown }).input;
  const json = typeof input === 'string' || typeof input === 'number' || typeof input === 'boolean' ? JSON.stringify(input) : '';
  const shown = json && json.length <= 60 && !json.includes('\\n') ? ` (got ${json})` : '';
  return new LabConfigError(configKey(namespace, issue.path), `${issue.message}${shown}`);
}

/** Parses raw stack config into a frozen LabConfig; throws a LabConfigError for the first problem. */
export function parseLabConfig(raw: unknown, namespace: string = LAB_NAMESPACE): LabConfig {
  const parsed = labSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw describeIssue(namespace, parsed.error.issues[0]!);
  return deepFreeze(parsed.data);
}

/** All problems at once, one line each (for a CLI or a test that wants to see them all). */
export function labConfigProblems(raw: unknown, namespace: string = LAB_NAMESPACE): string[] {
  const parsed = labSchema.safeParse(raw, { reportInput: true });
  return parsed.success ? [] : parsed.error.issues.map((issue) => describeIssue(namespace, issue).message);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
