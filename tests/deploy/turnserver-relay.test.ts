// The shipped turnserver.conf run by a real coturn (Debian's, when installed): a TURN user
// cannot relay to a private address, to loopback or to a public address, and the SFU
// exception (--allowed-peer-ip, as docker/coturn-entrypoint.sh passes it) opens exactly that
// address. Only the listening/relay addresses and ports, the pid file and the secret are
// overridden on the command line, as in docker-compose.yml.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  parseCoturnRange,
  parseIp,
  parseTurnConfig,
  rangeInside,
  readRepoFile,
  repoRoot,
} from './support.js';
import { createNetns } from '../helpers/netns.js';

const tools = ['turnserver', 'turnutils_uclient', 'turnutils_peer'];
const missing = tools.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
const skip = missing.length ? `coturn tools not installed (${missing.join(', ')})` : false;

const config = join(repoRoot, 'turnserver.conf');
const denied = parseTurnConfig(readRepoFile('turnserver.conf'))
  .filter((o) => o.name === 'denied-peer-ip')
  .map((o) => parseCoturnRange(o.value!));
const isDenied = (address: string) => {
  const { family, value } = parseIp(address);
  return denied.some((range) => rangeInside({ family, start: value, end: value }, range));
};

/** A local, non-loopback address of this family (one the shipped config denies, if asked). */
function localAddress(family: 'IPv4' | 'IPv6', mustBeDenied: boolean): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family !== family || a.internal) continue;
      if (family === 'IPv6' && a.address.toLowerCase().startsWith('fe80')) continue; // needs a scope id
      if (!mustBeDenied || isDenied(a.address)) return a.address;
    }
  }
  return undefined;
}
const anyIPv4 = localAddress('IPv4', false);

const secret = randomBytes(32).toString('hex');
const dir = mkdtempSync(join(tmpdir(), 'meet-deploy-coturn-'));
const children: ChildProcess[] = [];
let nextPort = 20000 + (process.pid % 1000) * 8;
let nextRelay = 45000 + (process.pid % 150) * 20;

after(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function stunBinding(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    const request = Buffer.alloc(20);
    request.writeUInt16BE(0x0001, 0); // Binding request, no attributes
    request.writeUInt32BE(0x2112a442, 4);
    randomBytes(12).copy(request, 8);
    const timer = setTimeout(() => done(false), timeoutMs);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    socket.on('message', (msg) => done(msg.readUInt16BE(0) === 0x0101));
    socket.on('error', () => done(false));
    socket.send(request, port, address);
  });
}

async function startTurnserver(
  address: string,
  extra: string[],
): Promise<{ port: number; log: () => string }> {
  const port = nextPort;
  nextPort += 4;
  const relay = nextRelay;
  nextRelay += 10;
  const child = spawn(
    'turnserver',
    [
      '-c',
      config,
      `--static-auth-secret=${secret}`,
      '--realm=deploy.test',
      `--listening-ip=${address}`,
      `--relay-ip=${address}`,
      `--listening-port=${port}`,
      `--tls-listening-port=${port + 1}`,
      `--min-port=${relay}`,
      `--max-port=${relay + 9}`,
      `--pidfile=${join(dir, `turnserver-${port}.pid`)}`,
      `--userdb=${join(dir, `turndb-${port}`)}`,
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) break;
    if (await stunBinding(address, port, 200)) return { port, log: () => output };
  }
  child.kill('SIGKILL');
  throw new Error(`coturn did not start with the shipped config:\n${output.slice(-3000)}`);
}

function startPeer(address: string, port: number): void {
  const child = spawn('turnutils_peer', ['-L', address, '-p', String(port)], { stdio: 'ignore' });
  children.push(child);
}

/** Allocates a relay with REST API credentials and sends 10 messages to peer:peerPort. */
function relay(server: string, port: number, peer: string, peerPort: number) {
  const result = spawnSync(
    'turnutils_uclient',
    [
      '-p',
      String(port),
      '-e',
      peer,
      '-r',
      String(peerPort),
      '-W',
      secret,
      '-u',
      'deploy-test',
      '-n',
      '10',
      '-m',
      '1',
      server,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  const output = `${result.stdout}${result.stderr}`;
  return {
    output,
    forbidden: /403 \(Forbidden IP\)/.test(output),
    // the last count is the total over the whole run
    received: Number([...output.matchAll(/tot_recv_msgs=(\d+)/g)].at(-1)?.[1] ?? 0),
  };
}

for (const family of ['IPv4', 'IPv6'] as const) {
  const address = skip ? undefined : localAddress(family, true);
  const why = skip || (!address && `this machine has no non-loopback ${family} address in a denied range`);

  test(
    `${family}: the shipped config refuses to relay to a private address (${address ?? 'n/a'})`,
    { skip: why },
    async () => {
      const { port, log } = await startTurnserver(address!, []);
      const peerPort = port + 2;
      startPeer(address!, peerPort);
      const result = relay(address!, port, address!, peerPort);
      assert.ok(result.forbidden, `expected 403 Forbidden IP:\n${result.output}\n${log().slice(-1500)}`);
      assert.equal(result.received, 0);
    },
  );

  test(`${family}: --allowed-peer-ip=<SFU address> lets that address through`, { skip: why }, async () => {
    const { port, log } = await startTurnserver(address!, [`--allowed-peer-ip=${address}`]);
    const peerPort = port + 2;
    startPeer(address!, peerPort);
    const result = relay(address!, port, address!, peerPort);
    assert.ok(!result.forbidden, `unexpected 403:\n${result.output}`);
    assert.ok(
      result.received > 0,
      `nothing came back through the relay:\n${result.output}\n${log().slice(-1500)}`,
    );
  });
}

// A peer on the public internet, as far as coturn can tell: a globally routable address that
// exists only inside a network namespace of this test (so nothing leaves the machine, even
// if the relay were open). The shipped config refuses it: the relay reaches the SFU only.
test(
  'a public address that is not the SFU is refused; allowed as the SFU, the same peer is reached',
  { skip: skip || (process.getuid?.() !== 0 && 'needs root for a network namespace') },
  async () => {
    const ns = await createNetns({ addresses: ['11.71.0.1', '11.71.0.2'] });
    try {
      const peerPort = 3478 + 10;
      const peer = spawn(
        'ip',
        ['netns', 'exec', ns.name, 'turnutils_peer', '-L', ns.nsAddress, '-p', String(peerPort)],
        {
          stdio: 'ignore',
        },
      );
      children.push(peer);
      const refused = await startTurnserver(ns.hostAddress, []);
      const result = relay(ns.hostAddress, refused.port, ns.nsAddress, peerPort);
      assert.ok(result.forbidden, `expected 403 Forbidden IP for ${ns.nsAddress}:\n${result.output}`);
      assert.equal(result.received, 0);

      const allowed = await startTurnserver(ns.hostAddress, [`--allowed-peer-ip=${ns.nsAddress}`]);
      const through = relay(ns.hostAddress, allowed.port, ns.nsAddress, peerPort);
      assert.ok(!through.forbidden, `unexpected 403:\n${through.output}`);
      assert.ok(through.received > 0, `the peer was not reached through the relay:\n${through.output}`);
    } finally {
      await ns.destroy();
    }
  },
);

test(
  'loopback peers are refused (no allow-loopback-peers)',
  { skip: skip || (!anyIPv4 && 'no non-loopback IPv4 address') },
  async () => {
    const { port } = await startTurnserver(anyIPv4!, []);
    startPeer('127.0.0.1', port + 2);
    const result = relay(anyIPv4!, port, '127.0.0.1', port + 2);
    assert.ok(result.forbidden, `expected 403 Forbidden IP for 127.0.0.1:\n${result.output}`);
  },
);
