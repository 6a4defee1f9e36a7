/**
 * Which addresses a webhook may reach: public unicast only. Everything a request from
 * inside the service's network could abuse is refused: loopback, private (RFC 1918,
 * RFC 4193 fc00::/7), link-local (169.254/16, fe80::/10; the cloud metadata service lives
 * there), CGNAT (RFC 6598 100.64/10), "this network" (0.0.0.0/8), multicast, broadcast,
 * documentation and other reserved ranges (IANA special-purpose registries), and IPv6
 * forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) by the address they
 * carry. Pure: the HTTP client (safe-http.ts) applies it to every resolved address.
 */
import ipaddr from 'ipaddr.js';

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

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A CIDR (parsed by ipaddr.js) and the class of the addresses in it. */
interface Range {
  cidr: [Address, number];
  kind: Exclude<AddressClass, 'public'>;
}

const range = (cidr: string, kind: Range['kind']): Range => ({ cidr: ipaddr.parseCIDR(cidr), kind });

/** Most specific first: the metadata addresses are inside link-local and unique-local ranges. */
const IPV4_RANGES: Range[] = [
  range('169.254.169.254/32', 'metadata'),
  range('0.0.0.0/8', 'unspecified'),
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'cgnat'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'reserved'),
  range('192.0.2.0/24', 'reserved'),
  range('192.88.99.0/24', 'reserved'),
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'reserved'),
  range('198.51.100.0/24', 'reserved'),
  range('203.0.113.0/24', 'reserved'),
  range('224.0.0.0/4', 'multicast'),
  range('240.0.0.0/4', 'reserved'),
];

const IPV6_RANGES: Range[] = [
  range('fd00:ec2::254/128', 'metadata'),
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('64:ff9b:1::/48', 'private'),
  range('100::/64', 'reserved'),
  // Teredo tunnels to any IPv4 address, its own embedding obfuscated: refused outright.
  range('2001::/32', 'reserved'),
  range('2001:db8::/32', 'reserved'),
  range('fc00::/7', 'private'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'private'),
  range('ff00::/8', 'multicast'),
];

/** Whether `address` is in `range` (an address of the other family never is: ipaddr.js would throw). */
const inRange = (address: Address, { cidr }: Range): boolean =>
  address.kind() === cidr[0].kind() && address.match(cidr);

/** A literal IPv4 or IPv6 address (an IPv6 zone id such as `%eth0` allowed and ignored), or undefined. */
const parseAddress = (text: string): Address | undefined =>
  ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text) ? ipaddr.parse(text) : undefined;

const classifyIpv4 = (address: ipaddr.IPv4): AddressClass =>
  IPV4_RANGES.find((candidate) => inRange(address, candidate))?.kind ?? 'public';

const CIDR_NAT64 = ipaddr.parseCIDR('64:ff9b::/96');
const CIDR_6TO4 = ipaddr.parseCIDR('2002::/16');
const ipv4Of = (high: number, low: number): ipaddr.IPv4 =>
  ipaddr.fromByteArray([high >> 8, high & 0xff, low >> 8, low & 0xff]) as ipaddr.IPv4;

/** IPv6 prefixes whose address embeds an IPv4 one, judged by that IPv4 address. */
const embeddedIpv4 = (address: ipaddr.IPv6): ipaddr.IPv4 | undefined => {
  const parts = address.parts;
  if (address.isIPv4MappedAddress()) return address.toIPv4Address(); // ::ffff:a.b.c.d
  // ::a.b.c.d, IPv4-compatible (deprecated); :: and ::1 are classed above.
  if (parts.slice(0, 6).every((part) => part === 0)) return ipv4Of(parts[6]!, parts[7]!);
  if (address.match(CIDR_NAT64)) return ipv4Of(parts[6]!, parts[7]!); // NAT64 well-known prefix
  if (address.match(CIDR_6TO4)) return ipv4Of(parts[1]!, parts[2]!); // 6to4
  return undefined;
};

/** The class of a literal IPv4 or IPv6 address; anything else is `reserved` (refused). */
export const classifyAddress = (text: string): AddressClass => {
  const address = parseAddress(text);
  if (address === undefined) return 'reserved';
  if (address.kind() === 'ipv4') return classifyIpv4(address as ipaddr.IPv4);
  const ranged = IPV6_RANGES.find((candidate) => inRange(address, candidate))?.kind;
  if (ranged) return ranged;
  const embedded = embeddedIpv4(address as ipaddr.IPv6);
  return embedded === undefined ? 'public' : classifyIpv4(embedded);
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
  const parsed = parseAddress(address);
  if (parsed !== undefined) {
    const width = parsed.kind() === 'ipv4' ? 32 : 128;
    const prefixBits = bits === undefined ? width : /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (prefixBits < 0 || prefixBits > width) throw new Error(`invalid prefix length in allow-list entry ${entry}`);
    return {
      range: { cidr: [parsed, prefixBits], kind: 'reserved' },
      ...(portNumber !== undefined ? { port: portNumber } : {}),
    };
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
    const address = parseAddress(destination.address);
    return address !== undefined && inRange(address, entry.range!);
  });
