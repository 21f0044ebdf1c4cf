// A password as PostgreSQL stores it for SCRAM-SHA-256 (RFC 7677), made here instead of by the
// server so that a throwaway server can store it with fewer iterations than PostgreSQL's default.
// A client derives the salted password with the stored iteration count on every connection, and a
// test suite opens tens of thousands of connections: at the default count that derivation is most
// of what a connection costs the client. The server stores a secret given in this form as it is
// (`ALTER ROLE ... PASSWORD`), and still checks every password against it.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** Iterations of the throwaway servers' stored passwords: the test run's own, never a real server's. */
export const THROWAWAY_SCRAM_ITERATIONS = 1;

/**
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` for this password, or undefined for
 * a password outside printable ASCII, which SASLprep could change and the server then hashes itself.
 */
export function scramSecret(password: string, iterations: number): string | undefined {
  if (!/^[\x20-\x7e]+$/.test(password)) return undefined;
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const b64 = (bytes: Buffer): string => bytes.toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}
