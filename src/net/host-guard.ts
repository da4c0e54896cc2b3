import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Where a host a customer names may lead. Our own network (loopback, private ranges, the cloud's
 * metadata endpoint on link-local) must never be reachable through a customer's database URL or, later,
 * a webhook URL. Used by the backup engine (pg_dump and the probe), the save-time check and the fork
 * readiness check.
 */
export interface HostPolicy {
  /**
   * Allows loopback and private addresses: the embedded default and the tests, whose databases run on
   * this machine. Never in production (the configuration refuses it there). Link-local, multicast,
   * unspecified, broadcast and reserved addresses stay refused even then.
   */
  allowPrivate: boolean;
}

/** What an address is; everything but `public` is refused unless the policy allows `loopback` and `private`. */
export type AddressClass =
  'public' | 'loopback' | 'private' | 'link-local' | 'multicast' | 'unspecified' | 'broadcast' | 'reserved';

/** The host is, or resolves to, an address the policy refuses. The message names no address. */
export class HostNotAllowedError extends Error {
  override readonly name = 'HostNotAllowedError';
  readonly addressClass: Exclude<AddressClass, 'public'>;
  constructor(addressClass: Exclude<AddressClass, 'public'>) {
    super(`the host is, or resolves to, a ${addressClass} address`);
    this.addressClass = addressClass;
  }
}

/** The host name did not resolve (ENOTFOUND, or the resolver failed: EAI_AGAIN). */
export class HostLookupError extends Error {
  override readonly name = 'HostLookupError';
  /** True when the name does not exist; false when the resolver could not answer (try again later). */
  readonly notFound: boolean;
  constructor(notFound: boolean, cause: unknown) {
    super(notFound ? 'the host name does not resolve' : 'the host name could not be resolved', { cause });
    this.notFound = notFound;
  }
}

export type Lookup = (host: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

const defaultLookup: Lookup = (host) => dnsLookup(host, { all: true, verbatim: true });

/** No host needs more; a longer answer is cut, not refused. */
const MAX_ADDRESSES = 8;

/**
 * Resolves `host` once and returns every address it names, each checked against the policy; connect
 * to these addresses (libpq's `hostaddr`), never to the name again, so a second resolution cannot lead
 * elsewhere (DNS rebinding). Refuses the whole host when any address is refused. IPv4 written as one
 * number, in hex or in octal (`2130706433`, `0x7f000001`, `0177.0.0.1`) is read as the resolver would.
 */
export async function resolveAllowedHost(
  host: string,
  policy: HostPolicy,
  options: { lookup?: Lookup } = {},
): Promise<string[]> {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  const literal = isIP(bare) ? bare : canonicalIpv4(bare);
  let addresses: string[];
  if (literal) {
    addresses = [literal];
  } else {
    let answer: ReadonlyArray<{ address: string }>;
    try {
      answer = await (options.lookup ?? defaultLookup)(bare);
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new HostLookupError(code === 'ENOTFOUND' || code === 'ENODATA', error);
    }
    addresses = [...new Set(answer.map((entry) => entry.address))].slice(0, MAX_ADDRESSES);
    if (addresses.length === 0) throw new HostLookupError(true, undefined);
  }
  for (const address of addresses) {
    const addressClass = classifyAddress(address);
    if (addressClass === 'public') continue;
    if (policy.allowPrivate && (addressClass === 'loopback' || addressClass === 'private')) continue;
    throw new HostNotAllowedError(addressClass);
  }
  return addresses;
}

/**
 * The dotted quad of an IPv4 address written as inet_aton reads it (one to four parts, each decimal,
 * `0x` hex or `0` octal), or undefined when `host` is not such a spelling. getaddrinfo accepts these,
 * so `2130706433` is 127.0.0.1 to libpq: they are read here rather than sent to DNS.
 */
export function canonicalIpv4(host: string): string | undefined {
  const parts = host.split('.');
  if (parts.length > 4 || parts.some((part) => !/^(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$/i.test(part))) return undefined;
  const values = parts.map((part) =>
    /^0x/i.test(part) ? parseInt(part.slice(2) || '0', 16) : /^0./.test(part) ? parseInt(part, 8) : Number(part),
  );
  const last = values.pop()!;
  if (values.some((value) => value > 255) || last >= 256 ** (4 - values.length)) return undefined;
  let number = last;
  values.forEach((value, index) => (number += value * 256 ** (3 - index)));
  return [24, 16, 8, 0].map((shift) => Math.floor(number / 2 ** shift) % 256).join('.');
}

const V4: Array<[string, number, Exclude<AddressClass, 'public'>]> = [
  ['0.0.0.0', 8, 'unspecified'], // "this network": 0.0.0.0 reaches loopback on Linux
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'private'], // carrier-grade NAT
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'], // the cloud metadata endpoint lives here
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'], // IETF protocol assignments
  ['192.0.2.0', 24, 'reserved'], // documentation
  ['192.88.99.0', 24, 'reserved'], // 6to4 relay anycast
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'], // benchmarking
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

const V6: Array<[string, number, Exclude<AddressClass, 'public'>]> = [
  ['100::', 64, 'reserved'], // discard-only
  ['64:ff9b:1::', 48, 'private'], // local-use NAT64
  ['2001:db8::', 32, 'reserved'], // documentation
  ['fc00::', 7, 'private'], // unique local
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'private'], // deprecated site-local
  ['ff00::', 8, 'multicast'],
];

/** IPv6 forms that carry an IPv4 address in their low 32 bits: mapped, compatible, NAT64 well-known. */
const V4_IN_V6: Array<[string, number]> = [
  ['::ffff:0:0', 96],
  ['::', 96],
  ['64:ff9b::', 96],
];

const lists = {
  ipv4: V4.map(([network, prefix, addressClass]) => ({ list: subnet(network, prefix, 'ipv4'), addressClass })),
  ipv6: V6.map(([network, prefix, addressClass]) => ({ list: subnet(network, prefix, 'ipv6'), addressClass })),
  embedsV4: V4_IN_V6.map(([network, prefix]) => subnet(network, prefix, 'ipv6')),
  sixToFour: subnet('2002::', 16, 'ipv6'),
};

/** The class of an IP address (v4, or v6 with an optional zone). */
export function classifyAddress(address: string): AddressClass {
  const bare = address.replace(/%.*$/, '');
  const family = isIP(bare);
  if (family === 4) {
    if (bare === '255.255.255.255') return 'broadcast';
    return lists.ipv4.find(({ list }) => list.check(bare, 'ipv4'))?.addressClass ?? 'public';
  }
  if (family !== 6) return 'reserved';
  const words = ipv6Words(bare);
  if (words.every((word) => word === 0)) return 'unspecified';
  if (words.slice(0, 7).every((word) => word === 0) && words[7] === 1) return 'loopback';
  if (lists.embedsV4.some((list) => list.check(bare, 'ipv6'))) return classifyAddress(v4Of(words[6]!, words[7]!));
  if (lists.sixToFour.check(bare, 'ipv6')) {
    const embedded = classifyAddress(v4Of(words[1]!, words[2]!));
    if (embedded !== 'public') return embedded;
  }
  return lists.ipv6.find(({ list }) => list.check(bare, 'ipv6'))?.addressClass ?? 'public';
}

function subnet(network: string, prefix: number, family: 'ipv4' | 'ipv6'): BlockList {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return list;
}

/** The eight 16-bit words of an IPv6 address (`::` expanded, a dotted IPv4 tail converted). */
function ipv6Words(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headWords = head ? head.split(':') : [];
  const tailWords = tail ? tail.split(':') : [];
  const missing = 8 - headWords.length - tailWords.length;
  return [...headWords, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...tailWords].map((word) =>
    parseInt(word, 16),
  );
}

function v4Of(high: number, low: number): string {
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}
