// TURN credentials handed out over signaling: with TURN configured, each transport's
// parameters and the getIceServers request (what the browser calls at half-life to renew
// them) carry a fresh `<expiry>:<peer id>` credential signed with the secret.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer } from './support/raw-peer.js';

const secret = 'test-secret-0123456789abcdef';
let server: TestServer;

before(async () => {
  server = await startServer({
    TURN_URLS:
      'stun:stun.example.org:3478,turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349?transport=tcp',
    TURN_SECRET: secret,
    TURN_CREDENTIAL_TTL: '120',
    ICE_TRANSPORT_POLICY: 'relay',
  });
});
after(async () => {
  await server?.close();
});

interface IceConfig {
  iceServers: Array<{ urls: string[]; username?: string; credential?: string }>;
  iceTransportPolicy: string;
  iceServersTtl: number | null;
}

function checkTurn(config: IceConfig, peerId: string, nowSeconds: number): number {
  assert.equal(config.iceTransportPolicy, 'relay');
  assert.equal(config.iceServersTtl, 120);
  assert.deepEqual(config.iceServers[0], { urls: ['stun:stun.example.org:3478'] });
  const turn = config.iceServers[1];
  assert.deepEqual(turn?.urls, [
    'turn:turn.example.org:3478?transport=udp',
    'turns:turn.example.org:5349?transport=tcp',
  ]);
  const [expiry, id] = (turn?.username ?? '').split(':');
  assert.equal(id, peerId);
  assert.ok(Math.abs(Number(expiry) - (nowSeconds + 120)) <= 5, `expiry ${expiry} is about now + 120 s`);
  assert.equal(
    turn?.credential,
    createHmac('sha1', secret)
      .update(turn?.username ?? '')
      .digest('base64'),
  );
  return Number(expiry);
}

test('transports and getIceServers carry short-lived TURN credentials for this peer', async () => {
  const peer = await RawPeer.connect(server, 'ice-room', 'Ivy');
  const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
  const { peerId } = await peer.ok<{ peerId: string }>('join', { displayName: 'Ivy', rtpCapabilities });
  const transport = await peer.ok<IceConfig>('createWebRtcTransport', { direction: 'recv' });
  const first = checkTurn(transport, peerId, Date.now() / 1000);
  await new Promise((r) => setTimeout(r, 1100));
  const renewed = checkTurn(await peer.ok<IceConfig>('getIceServers', {}), peerId, Date.now() / 1000);
  assert.ok(renewed > first, 'a renewal expires later');
});

test('relay policy without TURN URLs, or TURN URLs without a secret, stop the server at start-up', async () => {
  await assert.rejects(
    startServer({ ICE_TRANSPORT_POLICY: 'relay' }),
    /ICE_TRANSPORT_POLICY=relay needs turn: URLs/,
  );
  await assert.rejects(startServer({ TURN_URLS: 'turn:t.example.org:3478' }), /TURN_SECRET is not set/);
});
