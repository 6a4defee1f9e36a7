/**
 * Which addresses a webhook may reach: public unicast only. Everything a request from
 * inside the service's network could abuse is refused: loopback, private (RFC 1918,
 * RFC 4193 fc00::/7), link-local (169.254/16, fe80::/10; the cloud metadata service lives
 * there), CGNAT (RFC 6598 100.64/10), "this network" (0.0.0.0/8), multicast, broadcast,
 * documentation and other reserved ranges (IANA special-purpose registries), and IPv6
 * forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) by the address they
 * carry. Pure: the HTTP client (safe-http.ts) applies it to every resolved address.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'cgnat'
  | 'unspecified'
  | 'multicast'
  | 'reserved';

interface Range {
  prefix: bigint;
  bits: number;
  width: 32 | 128;
  kind: Exclude<AddressClass, 'public'>;
}

const ipv4ToBigInt = (address: string): bigint =>
  address.split('.').reduce((value, octet) => (value << 8n) | BigInt(Number(octet)), 0n);

/** 128 bits of an IPv6 address (zone id dropped; an IPv4 tail such as ::ffff:1.2.3.4 read as its 32 bits). */
export const ipv6ToBigInt = (input: string): bigint => {
  let address = input.split('%')[0]!.toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (tail) {
    const v4 = ipv4ToBigInt(tail[1]!);
    address = `${address.slice(0, -tail[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, rest] = address.includes('::') ? (address.split('::') as [string, string]) : [address, undefined];
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const missing = 8 - headGroups.length - restGroups.length;
  const groups = rest === undefined ? headGroups : [...headGroups, ...Array(missing).fill('0'), ...restGroups];
  return groups.reduce((value, group) => (value << 16n) | BigInt(Number.parseInt(group || '0', 16)), 0n);
};

const v4 = (cidr: string, kind: Range['kind']): Range => {
  const [address, bits] = cidr.split('/') as [string, string];
  return { prefix: ipv4ToBigInt(address), bits: Number(bits), width: 32, kind };
};
const v6 = (cidr: string, kind: Range['kind']): Range => {
  const [address, bits] = cidr.split('/') as [string, string];
  return { prefix: ipv6ToBigInt(address), bits: Number(bits), width: 128, kind };
};

/** Most specific first: the metadata addresses are inside link-local and unique-local ranges. */
const IPV4_RANGES: Range[] = [
  v4('169.254.169.254/32', 'metadata'),
  v4('0.0.0.0/8', 'unspecified'),
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'cgnat'),
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'reserved'),
  v4('192.0.2.0/24', 'reserved'),
  v4('192.88.99.0/24', 'reserved'),
  v4('192.168.0.0/16', 'private'),
  v4('198.18.0.0/15', 'reserved'),
  v4('198.51.100.0/24', 'reserved'),
  v4('203.0.113.0/24', 'reserved'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'),
];

const IPV6_RANGES: Range[] = [
  v6('fd00:ec2::254/128', 'metadata'),
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('64:ff9b:1::/48', 'private'),
  v6('100::/64', 'reserved'),
  // Teredo tunnels to any IPv4 address, its own embedding obfuscated: refused outright.
  v6('2001::/32', 'reserved'),
  v6('2001:db8::/32', 'reserved'),
  v6('fc00::/7', 'private'),
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'private'),
  v6('ff00::/8', 'multicast'),
];

const inRange = (value: bigint, range: Range): boolean => {
  const shift = BigInt(range.width - range.bits);
  return value >> shift === range.prefix >> shift;
};

const classifyIpv4Value = (value: bigint): AddressClass =>
  IPV4_RANGES.find((range) => inRange(value, range))?.kind ?? 'public';

/** IPv6 prefixes whose address embeds an IPv4 one, judged by that IPv4 address. */
const embeddedIpv4 = (value: bigint): bigint | undefined => {
  const top96 = value >> 32n;
  if (top96 === 0xffffn) return value & 0xffffffffn; // ::ffff:a.b.c.d, IPv4-mapped
  if (top96 === 0n && value > 1n) return value & 0xffffffffn; // ::a.b.c.d, IPv4-compatible (deprecated)
  if (top96 === ipv6ToBigInt('64:ff9b::') >> 32n) return value & 0xffffffffn; // NAT64 well-known prefix
  if (value >> 112n === 0x2002n) return (value >> 80n) & 0xffffffffn; // 6to4
  return undefined;
};

/** The class of a literal IPv4 or IPv6 address; anything else is `reserved` (refused). */
export const classifyAddress = (address: string): AddressClass => {
  if (isIPv4(address)) return classifyIpv4Value(ipv4ToBigInt(address));
  if (!isIPv6(address.split('%')[0]!)) return 'reserved';
  const value = ipv6ToBigInt(address);
  const ranged = IPV6_RANGES.find((range) => inRange(value, range))?.kind;
  if (ranged) return ranged;
  const embedded = embeddedIpv4(value);
  return embedded === undefined ? 'public' : classifyIpv4Value(embedded);
};

/**
 * An operator's allow-list entry: a host name, an address, or a CIDR, each optionally
 * with `:port` (IPv6 in brackets: `[fd00::1]:8443`). Admits destinations the classifier
 * refuses, e.g. the local stack's receiver on 127.0.0.1, or a named internal service.
 */
export interface AllowEntry {
  host?: string;
  range?: Range;
  port?: number;
}

export const parseAllowEntry = (entry: string): AllowEntry => {
  const trimmed = entry.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  const [target, port] = bracketed
    ? [bracketed[1]!, bracketed[2]]
    : /^[^:]+:\d+$/.test(trimmed)
      ? (trimmed.split(':') as [string, string])
      : [trimmed, undefined];
  const portNumber = port === undefined ? undefined : Number(port);
  if (portNumber !== undefined && !(Number.isInteger(portNumber) && portNumber > 0 && portNumber < 65_536))
    throw new Error(`invalid port in allow-list entry ${entry}`);
  const [address, bits] = target.split('/') as [string, string | undefined];
  if (isIPv4(address) || isIPv6(address)) {
    const width = isIPv4(address) ? 32 : 128;
    const prefixBits = bits === undefined ? width : Number(bits);
    if (!Number.isInteger(prefixBits) || prefixBits < 0 || prefixBits > width)
      throw new Error(`invalid prefix length in allow-list entry ${entry}`);
    const range: Range = {
      prefix: width === 32 ? ipv4ToBigInt(address) : ipv6ToBigInt(address),
      bits: prefixBits,
      width,
      kind: 'reserved',
    };
    return { range, ...(portNumber !== undefined ? { port: portNumber } : {}) };
  }
  if (bits !== undefined || target === '') throw new Error(`invalid allow-list entry ${entry}`);
  return { host: target, ...(portNumber !== undefined ? { port: portNumber } : {}) };
};

/** Whether an allow-list admits this destination: the URL's host name or the address it resolved to, and the port. */
export const isAllowListed = (
  allowList: readonly AllowEntry[],
  destination: { host: string; address: string; port: number },
): boolean =>
  allowList.some((entry) => {
    if (entry.port !== undefined && entry.port !== destination.port) return false;
    if (entry.host !== undefined) return entry.host === destination.host.toLowerCase();
    const range = entry.range!;
    if (range.width === 32) return isIPv4(destination.address) && inRange(ipv4ToBigInt(destination.address), range);
    return isIPv6(destination.address.split('%')[0]!) && inRange(ipv6ToBigInt(destination.address), range);
  });
