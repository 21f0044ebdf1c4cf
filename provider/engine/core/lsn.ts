// WAL positions as bigints: parsed from and formatted to PostgreSQL's 'X/Y' text form.

/** Parses '16/B374D848' into a bigint; '0/0' is 0n. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text.trim());
  if (!match) throw new Error(`not a WAL position: ${JSON.stringify(text)}`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

/** Formats a bigint as PostgreSQL does ('16/B374D848'). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export function maxLsn(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
