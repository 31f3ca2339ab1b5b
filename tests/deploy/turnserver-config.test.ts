// The shipped coturn configuration (turnserver.conf): authentication by shared secret only,
// and a relay that reaches no address at all but the SFU's (added at run time with
// --allowed-peer-ip): neither public addresses nor private, loopback, link-local, CGNAT,
// documentation, benchmark, "this network", multicast or reserved ones.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  parseCidr,
  parseCoturnRange,
  parseTurnConfig,
  rangeInside,
  readRepoFile,
  type ConfOption,
  type IpRange,
} from './support.js';

const options = parseTurnConfig(readRepoFile('turnserver.conf'));
const named = (name: string): ConfOption[] => options.filter((o) => o.name === name);
const single = (name: string): string | undefined => {
  const found = named(name);
  assert.equal(found.length, 1, `exactly one ${name} line expected, found ${found.length}`);
  return found[0]!.value;
};

const mustBeDenied = [
  // IPv4
  '0.0.0.0/8', // "this network"
  '10.0.0.0/8', // private
  '100.64.0.0/10', // CGNAT
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local, cloud metadata
  '172.16.0.0/12', // private
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // TEST-NET-1
  '192.88.99.0/24', // 6to4 relay anycast
  '192.168.0.0/16', // private
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // TEST-NET-2
  '203.0.113.0/24', // TEST-NET-3
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved
  '255.255.255.255/32', // limited broadcast
  // IPv6
  '::1/128', // loopback
  '::/128', // unspecified
  '::ffff:0:0/96', // IPv4-mapped
  '64:ff9b::/96', // NAT64
  '100::/64', // discard-only
  '2001::/32', // Teredo
  '2001:db8::/32', // documentation
  'fc00::/7', // unique local
  'fe80::/10', // link-local
  'ff00::/8', // multicast
];

test('every denied-peer-ip line is a valid coturn address range', () => {
  const lines = named('denied-peer-ip');
  assert.ok(lines.length > 0, 'no denied-peer-ip lines');
  for (const option of lines) {
    assert.ok(option.value, `line ${option.line}: denied-peer-ip without a value`);
    assert.doesNotThrow(() => parseCoturnRange(option.value!), `line ${option.line}: ${option.value}`);
  }
});

test('every private, loopback, link-local, CGNAT, documentation, multicast and reserved range is denied', () => {
  const denied: IpRange[] = named('denied-peer-ip').map((o) => parseCoturnRange(o.value!));
  const uncovered = mustBeDenied.filter(
    (cidr) => !denied.some((range) => rangeInside(parseCidr(cidr), range)),
  );
  assert.deepEqual(uncovered, [], `not inside any denied-peer-ip range: ${uncovered.join(', ')}`);
});

test('the relay reaches nothing but the SFU: every IPv4 and IPv6 address is denied', () => {
  const denied = named('denied-peer-ip').map((o) => parseCoturnRange(o.value!));
  for (const cidr of ['0.0.0.0/0', '::/0']) {
    const range = parseCidr(cidr);
    assert.ok(
      denied.some((d) => rangeInside(range, d)),
      `${cidr} (public addresses included) is denied`,
    );
  }
});

test('the coverage check itself rejects a range that is only partly denied', () => {
  const denied = [parseCoturnRange('10.0.0.0-10.127.255.255')];
  assert.equal(
    denied.some((range) => rangeInside(parseCidr('10.0.0.0/8'), range)),
    false,
  );
  assert.equal(
    denied.some((range) => rangeInside(parseCidr('10.0.0.0/9'), range)),
    true,
  );
  assert.deepEqual(parseCidr('::ffff:0:0/96'), parseCidr('::ffff:0.0.0.0/96'));
  assert.equal(
    parseCoturnRange('fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff').end,
    parseCidr('fe80::/10').end,
  );
});

test('authentication is the TURN REST API shared secret, and the secret is not in the file', () => {
  assert.equal(named('use-auth-secret').length, 1, 'use-auth-secret missing');
  assert.equal(named('static-auth-secret').length, 0, 'static-auth-secret belongs on the command line');
  assert.equal(named('user').length, 0, 'no static users');
  assert.equal(named('lt-cred-mech').length, 0, 'long-term static credentials are not used');
  assert.equal(named('no-auth').length, 0);
  assert.ok(single('realm'), 'realm has a (placeholder) value, overridden with --realm');
});

test('no exception to the deny list is shipped: no allow-loopback-peers, no allowed-peer-ip', () => {
  assert.equal(named('allow-loopback-peers').length, 0);
  assert.equal(
    named('allowed-peer-ip').length,
    0,
    'the SFU exception comes from RTC_ANNOUNCED_ADDRESS (and SFU_PRIVATE_IP) at run time',
  );
});

test('hardening and listener options are set', () => {
  for (const flag of [
    'fingerprint',
    'no-cli',
    'no-multicast-peers',
    'no-tlsv1',
    'no-tlsv1_1',
    'stale-nonce',
  ]) {
    assert.equal(named(flag).length, 1, `${flag} missing`);
  }
  assert.equal(single('listening-port'), '3478');
  assert.equal(single('tls-listening-port'), '5349');
  assert.match(single('cert') ?? '', /^\/etc\/coturn\/certs\/\S+\.pem$/);
  assert.match(single('pkey') ?? '', /^\/etc\/coturn\/certs\/\S+\.pem$/);
  assert.ok(Number(single('user-quota')) > 0, 'user-quota must be a positive number');
  assert.ok(Number(single('total-quota')) >= Number(single('user-quota')), 'total-quota below user-quota');
  const min = Number(single('min-port'));
  const max = Number(single('max-port'));
  assert.equal(min, 49160);
  assert.equal(max, 50159);
});

test('docs/deploy.md tells which relay port range to open', () => {
  const doc = readRepoFile('docs/deploy.md');
  const range = `${single('min-port')}-${single('max-port')}`;
  assert.ok(doc.includes(range), `docs/deploy.md does not mention the relay range ${range}`);
});
