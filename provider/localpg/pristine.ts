// Pristine data directories: when PGFERRY_INITDB_CACHE names a directory (the test run sets one,
// test/support/hooks.ts), initdb runs once per (server binaries, superuser password) into it and each
// cluster starts from a copy (tens of milliseconds instead of most of a second). Without it, as for
// the demo and the bench, every cluster runs its own initdb. A copy gets a system identifier of its
// own: validate/sameServer.ts rightly takes two servers that share one for the same server.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The directory of pristine data directories for this process tree, if one is set. */
export function initdbCacheDir(): string | undefined {
  // pg_control and WAL are patched below as little-endian (x86-64 and arm64 Linux are).
  return os.endianness() === 'LE' ? process.env.PGFERRY_INITDB_CACHE || undefined : undefined;
}

const building = new Map<string, Promise<string>>();

/**
 * The pristine data directory for these binaries and password, made by `initdb(parent)` (which
 * must create `<parent>/data`) the first time. Parallel test processes share the cache: each builds
 * in its own staging directory and the first rename wins, the others use the winner's.
 */
export function pristineDataDir(
  cacheDir: string,
  binDir: string,
  password: string,
  initdb: (parent: string) => Promise<void>,
): Promise<string> {
  // Named by a digest so that every process of the run finds the same directory (the cache
  // directory is private to the run and removed at its end).
  const key = createHash('sha256').update(`${binDir}\0${password}`).digest('hex').slice(0, 16);
  const final = path.join(cacheDir, key);
  let made = building.get(final);
  if (!made) {
    made = (async () => {
      if (!existsSync(final)) {
        const staging = await fs.mkdtemp(`${final}.`);
        await initdb(staging);
        await makeWalSparse(path.join(staging, 'data'));
        await fs.rename(staging, final).catch(async (error: unknown) => {
          await fs.rm(staging, { recursive: true, force: true });
          if (!existsSync(final)) throw error;
        });
      }
      return path.join(final, 'data');
    })();
    building.set(final, made);
    made.catch(() => building.delete(final));
  }
  return made;
}

/** WAL is written and read in pages of this size (XLOG_BLCKSZ). */
const WAL_PAGE = 8192;

/**
 * Rewrites each WAL segment of a fresh data directory as a sparse file: initdb fills most of its
 * segment with zeros, which every cluster's copy would otherwise write again (`cp` keeps holes),
 * and writing fresh pages is most of what a copy costs on a virtual machine. A hole reads as the
 * zeros it replaces, so the server sees the same segment.
 */
async function makeWalSparse(dataDir: string): Promise<void> {
  const walDir = path.join(dataDir, 'pg_wal');
  for (const name of await fs.readdir(walDir)) {
    if (!/^[0-9A-F]{24}$/.test(name)) continue;
    const file = path.join(walDir, name);
    const [bytes, stat] = await Promise.all([fs.readFile(file), fs.stat(file)]);
    const sparse = `${file}.sparse`;
    const out = await fs.open(sparse, 'wx', stat.mode & 0o777);
    try {
      for (let offset = 0; offset < bytes.length; offset += WAL_PAGE) {
        const page = bytes.subarray(offset, offset + WAL_PAGE);
        if (page.some((byte) => byte !== 0)) await out.write(page, 0, page.length, offset);
      }
      await out.truncate(bytes.length);
    } finally {
      await out.close();
    }
    await fs.chown(sparse, stat.uid, stat.gid);
    await fs.rename(sparse, file);
  }
}

const CASTAGNOLI = 0x82f63b78;
const CRC32C_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CASTAGNOLI : c >>> 1;
  return c >>> 0;
});

/**
 * Where pg_control keeps its checksum: PostgreSQL's CRC-32C of every byte before it, at an offset
 * that differs between majors, so found where it matches (a chance match is 1 in 2^32 per offset).
 * Hand-written rather than a package: eight lines for one 8 KB file per cluster.
 */
function controlChecksumOffset(control: Buffer): number {
  let crc = 0xffffffff;
  for (let offset = 0; offset + 4 <= control.length; offset++) {
    if (offset >= 16 && offset % 4 === 0 && (crc ^ 0xffffffff) >>> 0 === control.readUInt32LE(offset)) return offset;
    crc = CRC32C_TABLE[(crc ^ control[offset]!) & 0xff]! ^ (crc >>> 8);
  }
  throw new Error('pg_control: no checksum found where PostgreSQL keeps it');
}

function crc32c(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Offset of xlp_sysid in the long header that starts each WAL segment (XLogLongPageHeaderData). */
const WAL_SYSID_OFFSET = 24;

/**
 * Gives a copied, cleanly shut down data directory a new random system identifier: in pg_control
 * (first field, then its checksum) and in the long page header of each WAL segment, which the
 * server checks against pg_control when it reads the shutdown checkpoint.
 */
export async function giveOwnSystemIdentifier(dataDir: string): Promise<void> {
  const controlFile = path.join(dataDir, 'global', 'pg_control');
  const control = await fs.readFile(controlFile);
  const checksumAt = controlChecksumOffset(control);
  const old = control.readBigUInt64LE(0);
  // Positive as an int8 (how pg_control_system() shows it, like the ones initdb makes) and never 0.
  const fresh = (randomBytes(8).readBigUInt64LE(0) & 0x7fff_ffff_ffff_ffffn) | 1n;
  control.writeBigUInt64LE(fresh, 0);
  control.writeUInt32LE(crc32c(control.subarray(0, checksumAt)), checksumAt);
  let segments = 0;
  const walDir = path.join(dataDir, 'pg_wal');
  for (const name of await fs.readdir(walDir)) {
    if (!/^[0-9A-F]{24}$/.test(name)) continue;
    const file = await fs.open(path.join(walDir, name), 'r+');
    try {
      const sysid = Buffer.alloc(8);
      await file.read(sysid, 0, 8, WAL_SYSID_OFFSET);
      if (sysid.readBigUInt64LE(0) !== old) continue; // a recycled segment not yet written
      sysid.writeBigUInt64LE(fresh, 0);
      await file.write(sysid, 0, 8, WAL_SYSID_OFFSET);
      segments += 1;
    } finally {
      await file.close();
    }
  }
  if (segments === 0) throw new Error(`${walDir}: no WAL segment of system ${old} to give the new identifier`);
  await fs.writeFile(controlFile, control);
}
