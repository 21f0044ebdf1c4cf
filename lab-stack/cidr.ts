// IPv4 CIDR arithmetic for the lab's address plan: parsing, containment, overlap, host addresses.
// Pure functions, so config validation can check the plan before anything reaches Azure.

export interface Cidr {
  /** Network address as an unsigned 32-bit integer (host bits cleared). */
  readonly network: number;
  readonly prefix: number;
}

const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const IP_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function octetsToInt(octets: readonly string[]): number | undefined {
  let value = 0;
  for (const text of octets) {
    const octet = Number(text);
    if (octet > 255 || (text.length > 1 && text.startsWith('0'))) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d`; undefined when it is not a dotted-quad IPv4 address. */
export function parseIp(text: string): number | undefined {
  const match = IP_PATTERN.exec(text);
  return match ? octetsToInt(match.slice(1, 5)) : undefined;
}

/**
 * Parses `a.b.c.d/n`; undefined when malformed or when host bits are set (Azure rejects
 * `10.0.0.1/24` as an address prefix, so the lab does too).
 */
export function parseCidr(text: string): Cidr | undefined {
  const match = CIDR_PATTERN.exec(text);
  if (!match) return undefined;
  const address = octetsToInt(match.slice(1, 5));
  const prefix = Number(match[5]);
  if (address === undefined || prefix > 32) return undefined;
  if ((address & ~maskOf(prefix)) >>> 0 !== 0) return undefined;
  return { network: address, prefix };
}

function formatIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

export function cidrContainsIp(cidr: Cidr, ip: number): boolean {
  return (ip & maskOf(cidr.prefix)) >>> 0 === cidr.network;
}

/** True when `inner` lies entirely inside `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && cidrContainsIp(outer, inner.network);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** The address `offset` hosts into the block (offset 4 is Azure's first assignable address). */
export function cidrHost(cidr: Cidr, offset: number): string {
  return formatIp((cidr.network + offset) >>> 0);
}
