// Typing indicators over the real signaling socket: chatTyping reaches every other joined
// participant of the room (not the typist), or, with a recipient, only that identity's
// connections; repeats faster than typingIntervalMs are answered but not passed on (a client
// cannot make the server flood the room); a private one to oneself is refused (400), and
// so is typing before joining (403).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { typingIntervalMs } from '@meet/protocol';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer } from './support/raw-peer.js';

let server: TestServer;
const peers: RawPeer[] = [];
let caps: unknown;

before(async () => {
  server = await startServer({ IDENTITY_RATE_LIMIT: '1000' });
});
after(async () => {
  await Promise.all(peers.map((peer) => peer.close()));
  await server?.close();
});

async function joined(roomId: string, name: string) {
  const peer = await RawPeer.connect(server, roomId, name);
  peers.push(peer);
  caps ??= await peer.ok('getRouterRtpCapabilities', {});
  const { peerId } = await peer.ok<{ peerId: string }>('join', { displayName: name, rtpCapabilities: caps });
  return { peer, peerId, identityId: peer.identity?.id as string };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('typing reaches the others, once per interval, and a private one its recipient only', async () => {
  const roomId = `typing-${process.pid}`;
  const ada = await joined(roomId, 'Ada');
  const bo = await joined(roomId, 'Bo');
  const cy = await joined(roomId, 'Cy');

  // To the room: Bo and Cy hear it, Ada does not.
  await ada.peer.ok('chatTyping', {});
  for (const { peer } of [bo, cy]) {
    const { data } = await peer.nextNotification('peerTyping');
    assert.deepEqual(data, { peerId: ada.peerId, identityId: ada.identityId, private: false });
  }
  // Ten more at once: answered, not passed on within the interval.
  for (let i = 0; i < 10; i++) await ada.peer.ok('chatTyping', {});
  await pause(300);
  assert.equal(bo.peer.notifications('peerTyping').length, 1, 'repeats within the interval are dropped');

  // Private to Cy: only Cy hears it (the room-wide throttle does not hold it back).
  await ada.peer.ok('chatTyping', { recipientId: cy.identityId });
  const { data } = await cy.peer.nextNotification('peerTyping');
  assert.deepEqual(data, { peerId: ada.peerId, identityId: ada.identityId, private: true });
  await pause(300);
  assert.equal(bo.peer.notifications('peerTyping').length, 1, 'Bo does not hear a private indicator');
  assert.equal(ada.peer.notifications('peerTyping').length, 0, 'the typist is not told');

  // After the interval, the room hears it again.
  await pause(typingIntervalMs);
  await ada.peer.ok('chatTyping', {});
  await waitCount(bo.peer, 2);
});

async function waitCount(peer: RawPeer, count: number): Promise<void> {
  for (let i = 0; i < 50 && peer.notifications('peerTyping').length < count; i++) await pause(100);
  assert.equal(peer.notifications('peerTyping').length, count);
}

test('typing privately to oneself, or before joining, is refused with a reason', async () => {
  const roomId = `typing-refused-${process.pid}`;
  const ada = await joined(roomId, 'Ada');
  await ada.peer.fails('chatTyping', { recipientId: ada.identityId }, 400, /with someone else/);
  await ada.peer.fails('chatTyping', { recipientId: 'not-a-uuid' }, 400, /recipientId/);
  const early = await RawPeer.connect(server, roomId, 'Early');
  peers.push(early);
  await early.fails('chatTyping', {}, 403, /join the room before chatTyping/);
});
