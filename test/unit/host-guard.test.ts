import test from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalIpv4,
  classifyAddress,
  resolveAllowedHost,
  HostLookupError,
  HostNotAllowedError,
  type Lookup,
} from '../../src/net/host-guard.ts';

const deny = { allowPrivate: false };
const allow = { allowPrivate: true };

test('addresses are classed as public, loopback, private, link-local, multicast, unspecified or reserved', () => {
  const cases: Array<[string, string]> = [
    ['8.8.8.8', 'public'],
    ['52.1.2.3', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.0.1', 'private'],
    ['100.64.0.1', 'private'],
    ['100.128.0.1', 'public'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.7', 'reserved'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2a00:1450:4001::200e', 'public'],
    // IPv4 inside IPv6: mapped, compatible, NAT64, 6to4
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::127.0.0.1', 'loopback'],
    ['::a00:1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:0808:0808::1', 'public'],
  ];
  for (const [address, expected] of cases) assert.equal(classifyAddress(address), expected, address);
});

test('IPv4 written as one number, in hex or in octal, is read as the resolver reads it', () => {
  assert.equal(canonicalIpv4('2130706433'), '127.0.0.1');
  assert.equal(canonicalIpv4('0x7f000001'), '127.0.0.1');
  assert.equal(canonicalIpv4('0177.0.0.1'), '127.0.0.1');
  assert.equal(canonicalIpv4('127.1'), '127.0.0.1');
  assert.equal(canonicalIpv4('0x7f.1'), '127.0.0.1');
  assert.equal(canonicalIpv4('0'), '0.0.0.0');
  assert.equal(canonicalIpv4('0xa9fea9fe'), '169.254.169.254');
  assert.equal(canonicalIpv4('8.8.8.8'), '8.8.8.8');
  assert.equal(canonicalIpv4('db.example.com'), undefined);
  assert.equal(canonicalIpv4('123.example.com'), undefined);
  assert.equal(canonicalIpv4('4294967296'), undefined, 'too big for IPv4: left to DNS, which finds nothing');
  assert.equal(canonicalIpv4('1.2.3.4.5'), undefined);
  assert.equal(canonicalIpv4('08.1.1.1'), undefined);
});

test('literal hosts in every spelling are refused without a lookup unless public', async () => {
  const lookup: Lookup = () => assert.fail('a literal address is never looked up');
  for (const host of ['127.0.0.1', '2130706433', '0x7f000001', '0177.0.0.1', '[::1]', '::ffff:127.0.0.1', '10.0.0.1'])
    await assert.rejects(resolveAllowedHost(host, deny, { lookup }), HostNotAllowedError, host);
  assert.deepEqual(await resolveAllowedHost('8.8.8.8', deny, { lookup }), ['8.8.8.8']);
  assert.deepEqual(await resolveAllowedHost('0x08080808', deny, { lookup }), ['8.8.8.8']);
  assert.deepEqual(await resolveAllowedHost('[2a00:1450:4001::200e]', deny, { lookup }), ['2a00:1450:4001::200e']);
});

test('allowing private hosts allows loopback and private ranges, never link-local, multicast or unspecified', async () => {
  assert.deepEqual(await resolveAllowedHost('127.0.0.1', allow), ['127.0.0.1']);
  assert.deepEqual(await resolveAllowedHost('10.1.2.3', allow), ['10.1.2.3']);
  assert.deepEqual(await resolveAllowedHost('fd00::5', allow), ['fd00::5']);
  for (const host of ['169.254.169.254', '0.0.0.0', '::', 'fe80::1', '224.0.0.1', '255.255.255.255']) {
    await assert.rejects(
      resolveAllowedHost(host, allow),
      (error: unknown) => error instanceof HostNotAllowedError && !error.message.includes(host),
      host,
    );
  }
});

test('a name is resolved once and refused when any of its addresses is refused', async () => {
  const names: Record<string, string[]> = {
    'db.example.com': ['52.1.2.3', '2a05:d018::1'],
    'rebind.example.com': ['52.1.2.3', '127.0.0.1'],
    'metadata.example.com': ['169.254.169.254'],
    'mapped.example.com': ['::ffff:10.0.0.8'],
  };
  const asked: string[] = [];
  const lookup: Lookup = async (host) => {
    asked.push(host);
    return (names[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  assert.deepEqual(await resolveAllowedHost('db.example.com', deny, { lookup }), ['52.1.2.3', '2a05:d018::1']);
  await assert.rejects(resolveAllowedHost('rebind.example.com', deny, { lookup }), HostNotAllowedError);
  await assert.rejects(resolveAllowedHost('metadata.example.com', allow, { lookup }), HostNotAllowedError);
  await assert.rejects(resolveAllowedHost('mapped.example.com', deny, { lookup }), HostNotAllowedError);
  assert.deepEqual(await resolveAllowedHost('mapped.example.com', allow, { lookup }), ['::ffff:10.0.0.8']);
  await assert.rejects(resolveAllowedHost('nothing.example.com', deny, { lookup }), HostLookupError);
  assert.deepEqual(asked, [
    'db.example.com',
    'rebind.example.com',
    'metadata.example.com',
    'mapped.example.com',
    'mapped.example.com',
    'nothing.example.com',
  ]);
});

test('localhost resolves through the system resolver and is loopback', async () => {
  await assert.rejects(resolveAllowedHost('localhost', deny), HostNotAllowedError);
  const addresses = await resolveAllowedHost('localhost', allow);
  assert.ok(addresses.length >= 1 && addresses.every((a) => classifyAddress(a) === 'loopback'), String(addresses));
});
