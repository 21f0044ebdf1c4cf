// A complete, valid lab config (every option on) for the lab-stack tests to vary.
import type { LabConfigInput } from '../../lab-stack/config';

/** A stand-in for the base64 body of a P2S root certificate. */
export const ROOT_CERT = Buffer.from('pgferry lab root certificate '.repeat(4)).toString('base64');
export const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKx0pgferrylabtestkeyonly0000000000000000 lab@workstation';

export function fullConfig(): LabConfigInput {
  return {
    location: 'westeurope',
    namePrefix: 'lab',
    server: {
      name: 'pgferry-target',
      skuName: 'Standard_D2ds_v5',
      tier: 'GeneralPurpose',
      storageSizeGb: 256,
      extensions: ['pg_trgm', 'hstore'],
      parameters: { max_replication_slots: 20, shared_preload_libraries: 'pg_stat_statements', 'pgaudit.log': 'ddl' },
    },
    vpn: { rootCertificateData: ROOT_CERT, protocols: ['IkeV2', 'OpenVPN'] },
    sourceVm: { enabled: true, sshPublicKey: SSH_KEY, databases: ['adventureworks', 'sales'] },
    migrations: [
      { name: 'aw-online', databases: ['adventureworks'], mode: 'Online', overwriteDbsInTarget: true },
      {
        name: 'legacy-offline',
        databases: ['crm'],
        source: { host: 'onprem.example.internal', user: 'migrator', sslMode: 'require', passwordSecret: 'legacyPassword' },
      },
    ],
  };
}
