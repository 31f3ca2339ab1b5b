// A person's status and @mentions over the real signaling socket, on both databases. Status:
// busy is told to the room (peerStatus busy, even in the call), kept across reconnects (the
// join answer says it, others see it on join), shown in "my rooms", and available again
// clears it. Mentions: a message names members it @mentions, stored and told with it and in
// history; naming a non-member or the same person twice is refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatMessage, PeerInfo } from '@meet/protocol';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer } from './support/raw-peer.js';

for (const database of ['embedded', 'postgres'] as const) {
  describe(`status and mentions (${database})`, () => {
    let server: TestServer;
    const peers: RawPeer[] = [];
    before(async () => {
      server = await startServer(
        { IDENTITY_RATE_LIMIT: '1000', CHAT_RATE: '1000', CHAT_BURST: '1000' },
        { database },
      );
    });
    after(async () => {
      await Promise.all(peers.map((peer) => peer.close()));
      await server?.close();
    });

    async function joinAs(roomId: string, who: TestIdentity) {
      const peer = await RawPeer.connect(server, roomId, who);
      peers.push(peer);
      const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
      const joined = await peer.ok<{ peerId: string; selfStatus: string; peers: PeerInfo[] }>('join', {
        displayName: who.displayName,
        rtpCapabilities,
      });
      return { peer, ...joined };
    }

    test('busy is told to the room, kept across visits, shown in my rooms; available clears it', async () => {
      const roomId = `status-${database}`;
      const ann = await createIdentity(server.url, 'Ann');
      const ben = await createIdentity(server.url, 'Ben');
      const a = await joinAs(roomId, ann);
      assert.equal(a.selfStatus, 'available');
      const b = await joinAs(roomId, ben);
      await b.peer.ok('createWebRtcTransport', { direction: 'recv' });
      await a.peer.nextNotification('peerStatus');
      await b.peer.ok('setStatus', { status: 'busy' });
      const busy = await waitStatus(a.peer, b.peerId, 'busy');
      assert.equal(busy.inCall, true, 'busy in the call is still in the call');

      // Kept: Ben comes back busy, and Ann sees it on his join.
      await b.peer.close();
      const again = await joinAs(roomId, ben);
      assert.equal(again.selfStatus, 'busy');
      for (let i = 0; i < 100 && a.peer.notifications('peerJoined').length < 2; i++)
        await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal((a.peer.notifications('peerJoined').at(-1)?.data as PeerInfo).status, 'busy');
      const rooms = (await (
        await fetch(new URL('/api/rooms', server.url), { headers: { cookie: ann.cookie } })
      ).json()) as {
        rooms: Array<{ id: string; present: Array<{ displayName: string; busy: boolean }> }>;
      };
      assert.deepEqual(
        rooms.rooms.find((r) => r.id === roomId)?.present.map((p) => [p.displayName, p.busy]),
        [
          ['Ann', false],
          ['Ben', true],
        ],
      );
      await again.peer.ok('setStatus', { status: 'available' });
      await waitStatus(a.peer, again.peerId, 'text');
      await again.peer.fails('setStatus', { status: 'away' }, 400, /status/);
    });

    test('mentions: stored, told and kept with the message; only members, each once', async () => {
      const roomId = `mentions-${database}`;
      const ann = await createIdentity(server.url, 'Ann');
      const ben = await createIdentity(server.url, 'Ben');
      const cid = await createIdentity(server.url, 'Cid');
      const outsider = await createIdentity(server.url, 'Out');
      const a = await joinAs(roomId, ann);
      const b = await joinAs(roomId, ben);
      await joinAs(roomId, cid);
      const sent = await a.peer.ok<{ message: ChatMessage }>('chatSend', {
        clientId: 'mention-0001',
        text: '@Ben and @Cid: look',
        mentions: [ben.id, cid.id],
      });
      assert.deepEqual(sent.message.mentions, [ben.id, cid.id]);
      const { data } = await b.peer.nextNotification('chatMessage');
      assert.deepEqual((data as { message: ChatMessage }).message.mentions, [ben.id, cid.id]);
      const history = await b.peer.ok<{ messages: ChatMessage[] }>('chatHistory', {});
      assert.deepEqual(history.messages.at(-1)?.mentions ?? history.messages[0]?.mentions, [ben.id, cid.id]);
      const plain = await a.peer.ok<{ message: ChatMessage }>('chatSend', {
        clientId: 'mention-0002',
        text: 'no one',
      });
      assert.deepEqual(plain.message.mentions, []);
      await a.peer.fails(
        'chatSend',
        { clientId: 'mention-0003', text: '@Out', mentions: [outsider.id] },
        400,
        /not in this room/,
      );
      await a.peer.fails(
        'chatSend',
        { clientId: 'mention-0004', text: '@Ben @Ben', mentions: [ben.id, ben.id] },
        400,
        /each mention once/,
      );
    });
  });
}

async function waitStatus(peer: RawPeer, peerId: string, status: string) {
  for (let i = 0; i < 100; i++) {
    const found = peer
      .notifications('peerStatus')
      .map((n) => n.data as { peerId: string; status: string; inCall: boolean })
      .filter((d) => d.peerId === peerId)
      .at(-1);
    if (found?.status === status) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no peerStatus ${status} for ${peerId}`);
}
