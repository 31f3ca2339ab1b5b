// Two real server nodes (each with its own mediasoup worker) sharing one PostgreSQL database
// and one Redis (Debian's redis-server, started here): a room whose participants are
// connected to different nodes. They see each other join and leave, a producer on one node
// is piped to the other through an SRTP pipe when someone there consumes it (media really
// crosses: the other node's speaker observer hears it), chat sent on both nodes at once
// arrives everywhere once and in seq order, host actions reach a participant on the other
// node, and a node that leaves takes only its own participants. Browsers on two nodes, and
// a node killed behind a load balancer, are the e2e test tests/e2e/two-nodes.e2e.test.ts.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Room } from '../src/room/room.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { createTestDatabase, type TestDatabase } from '../../tests/helpers/postgres.js';
import { startRedis, type TestRedis } from '../../tests/helpers/redis.js';
import { speakingMicrophone } from './support/speaking-microphone.js';
import { RawPeer, assertErrorResponse, sendsMicrophone, waitUntil } from './support/raw-peer.js';

const WAIT_MS = 20_000;
const metricsToken = 'cluster-test-metrics-token';

/** One sample of a node's /metrics (e.g. `meet_cluster_nodes`, `meet_piped_producers{between="nodes"}`). */
async function metricOf(server: TestServer, sample: string): Promise<number | undefined> {
  const response = await fetch(`${server.url}/metrics`, {
    headers: { authorization: `Bearer ${metricsToken}` },
  });
  const text = await response.text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

let redis: TestRedis;
let database: TestDatabase;
let nodeA: TestServer;
let nodeB: TestServer;
const peers: RawPeer[] = [];
const cleanups: Array<() => void> = [];
let caps: Record<string, unknown>;

async function startNode(nodeId: string): Promise<TestServer> {
  return startServer({
    REDIS_URL: redis.url,
    DATABASE_URL: database.url,
    NODE_ID: nodeId,
    MEDIA_WORKERS: '1',
    CLUSTER_NODE_TTL_MS: '2000',
    // Rooms spanning nodes are what this file is about: nobody is moved to the room's node
    // (placement: cluster-placement.integration.test.ts).
    CLUSTER_PLACEMENT: 'false',
    METRICS_TOKEN: metricsToken,
    // The chat test sends as fast as it can: the rate limits are not what it is about.
    CHAT_RATE: '1000',
    CHAT_BURST: '1000',
    SIGNALING_BURST: '1000',
  });
}

before(async () => {
  redis = await startRedis();
  database = await createTestDatabase();
  nodeA = await startNode('node-a');
  nodeB = await startNode('node-b');
});

after(async () => {
  for (const cleanup of cleanups) cleanup();
  await Promise.all(peers.map((peer) => peer.close()));
  await nodeA?.close();
  await nodeB?.close();
  await database?.drop();
  await redis?.stop();
});

async function joinOn(server: TestServer, roomId: string, displayName: string) {
  const peer = await RawPeer.connect(server, roomId, displayName);
  peers.push(peer);
  caps ??= await peer.ok('getRouterRtpCapabilities', {});
  const joined = await peer.ok<{
    peerId: string;
    role: string;
    peers: Array<{ id: string; producers: unknown[] }>;
  }>('join', { displayName, rtpCapabilities: caps });
  return { peer, peerId: joined.peerId, joined };
}

function roomOn(server: TestServer, roomId: string): Room {
  const room = server.app.rooms.get(roomId);
  assert.ok(room, `room ${roomId} is open on this node`);
  return room;
}

test('the nodes register in Redis, and each answers with its own node id', async () => {
  const live = await nodeA.app.cluster?.registry.liveNodes();
  assert.deepEqual(live?.map((node) => node.id).sort(), ['node-a', 'node-b']);
  const response = await fetch(`${nodeB.url}/api/health`);
  assert.equal(response.headers.get('x-meet-node'), 'node-b');
});

test('participants on two nodes: presence, producers piped where consumed, media crossing, host actions', async () => {
  const roomId = `cluster-${process.pid}`;
  const alice = await joinOn(nodeA, roomId, 'Alice');
  assert.equal(alice.joined.role, 'host', 'the first member is host');
  const aliceMic = await sendsMicrophone(alice.peer, 31_000_001);

  // Bob, on the other node, is told who is already there (with what they send) ...
  const bob = await joinOn(nodeB, roomId, 'Bob');
  const listed = bob.joined.peers.find((p) => p.id === alice.peerId);
  assert.ok(listed, "Bob's join answer lists Alice, connected to the other node");
  assert.deepEqual(
    listed.producers.map((p) => (p as { id: string }).id),
    [aliceMic],
  );
  // ... and Alice hears of Bob.
  const joined = await alice.peer.nextNotification('peerJoined', WAIT_MS);
  assert.equal(joined.data.id, bob.peerId);

  // Nothing crosses until someone consumes it.
  const roomA = roomOn(nodeA, roomId);
  const roomB = roomOn(nodeB, roomId);
  const mediaB = await roomB.ensureMedia();
  assert.equal(mediaB.findProducer(aliceMic), undefined);

  // Bob consumes Alice's microphone: piped to node B (its id kept), over an SRTP pipe.
  const recv = await bob.peer.ok<{ id: string }>('createWebRtcTransport', { direction: 'recv' });
  const consumed = await bob.peer.ok<{ producerId: string; peerId: string; kind: string }>('consume', {
    transportId: recv.id,
    producerId: aliceMic,
  });
  assert.deepEqual([consumed.producerId, consumed.peerId, consumed.kind], [aliceMic, alice.peerId, 'audio']);
  const imported = mediaB.findProducer(aliceMic);
  assert.ok(imported, "Alice's microphone is on node B");
  assert.equal(imported.ownerId, alice.peerId);
  const pipes = (await imported.router.router.dump()).transportIds;
  assert.ok(pipes.length >= 2, 'a WebRTC transport and the pipe transport on node B');
  assert.equal(await metricOf(nodeB, 'meet_piped_producers{between="nodes"}'), 1);
  assert.equal(await metricOf(nodeB, 'meet_cluster_nodes'), 2);

  // Media really crosses: a microphone speaking on node A (announced as Alice's) is heard by
  // node B's speaker observer once someone there consumes it.
  const mediaA = await roomA.ensureMedia();
  const speaking = await speakingMicrophone(mediaA, alice.peerId);
  cleanups.push(() => speaking.close());
  roomA.broadcast(
    'newProducer',
    { peerId: alice.peerId, id: speaking.id, kind: 'audio', source: 'mic', paused: false },
    alice.peerId,
  );
  await bob.peer.nextNotification('newProducer', WAIT_MS);
  await bob.peer.ok('consume', { transportId: recv.id, producerId: speaking.id });
  await waitUntil(
    'node B to hear Alice speak through the pipe',
    () => Promise.resolve(roomB.activeSpeaker === alice.peerId),
    WAIT_MS,
  );
  const crossed = mediaB.findProducer(speaking.id);
  assert.ok(crossed);
  const [stats] = await crossed.producer.getStats();
  assert.ok((stats?.packetCount ?? 0) > 0, `RTP arrived through the pipe: ${JSON.stringify(stats)}`);
  speaking.close();

  // Bob sends a microphone; the host on node A mutes it: node B pauses it and everyone is told.
  const bobMic = await sendsMicrophone(bob.peer, 31_000_002);
  await alice.peer.nextNotification('newProducer', WAIT_MS);
  await alice.peer.ok('muteParticipant', { peerId: bob.peerId, source: 'mic' });
  const muted = await bob.peer.nextNotification('mutedByHost', WAIT_MS);
  assert.deepEqual(muted.data, { source: 'mic', producerId: bobMic, by: 'Alice' });
  const paused = await alice.peer.nextNotification('producerPaused', WAIT_MS);
  assert.deepEqual(paused.data, { peerId: bob.peerId, producerId: bobMic });
  assert.equal(roomB.participants.get(bob.peerId)?.producers.get(bobMic)?.paused, true);

  // A role given on node A reaches Bob's connection on node B, and everyone hears it.
  await alice.peer.ok('setRole', { peerId: bob.peerId, role: 'host' });
  const toBob = await bob.peer.nextNotification('roleChanged', WAIT_MS);
  assert.deepEqual(toBob.data, { peerId: bob.peerId, role: 'host' });
  await waitUntil(
    'Alice to hear Bob became host',
    () => Promise.resolve(alice.peer.notifications('roleChanged').some((n) => n.data.peerId === bob.peerId)),
    WAIT_MS,
  );
  assert.equal(roomB.participants.get(bob.peerId)?.role, 'host');

  // A participant someone else does not know is still refused with a reason.
  const unknown = await alice.peer.request('muteParticipant', {
    peerId: '00000000-0000-4000-8000-000000000000',
    source: 'mic',
  });
  assertErrorResponse(unknown, 404, /not in this room/);

  // Carol joins on node B and is removed by the host on node A: her socket on B closes.
  const carol = await joinOn(nodeB, roomId, 'Carol');
  await waitUntil(
    'node A to know Carol',
    () => Promise.resolve(roomA.link?.remotePeer(carol.peerId) !== undefined),
    WAIT_MS,
  );
  await alice.peer.ok('removeParticipant', { peerId: carol.peerId });
  const removed = await carol.peer.nextNotification('removed', WAIT_MS);
  assert.match(String(removed.data.reason), /Alice removed you/);
  const closed = await carol.peer.closed;
  assert.equal(closed.code, 4000);
  const left = await alice.peer.nextNotification('peerLeft', WAIT_MS);
  assert.equal(left.data.peerId, carol.peerId);
});

test('the lobby and raised hands span nodes: a host on one node decides for people on the other', async () => {
  const roomId = `cluster-lobby-${process.pid}`;
  const host = await joinOn(nodeA, roomId, 'Hana');
  const member = await joinOn(nodeB, roomId, 'Milo');
  await host.peer.nextNotification('peerJoined', WAIT_MS);

  // Milo, on node B, raises his hand: Hana on node A sees it; she lowers it from there.
  await member.peer.ok('raiseHand', {});
  await waitUntil(
    "Hana to see Milo's hand",
    () =>
      Promise.resolve(
        host.peer
          .notifications('handsUpdated')
          .some((n) => (n.data.hands as Array<{ peerId: string }>).some((h) => h.peerId === member.peerId)),
      ),
    WAIT_MS,
  );
  await host.peer.ok('lowerHand', { peerId: member.peerId });
  await waitUntil(
    'Milo to see his hand lowered',
    () =>
      Promise.resolve(
        (member.peer.notifications('handsUpdated').at(-1)?.data.hands as unknown[]).length === 0,
      ),
    WAIT_MS,
  );

  // Hana locks the room; Nia knocks on node B; Hana, on node A, sees her and lets her in.
  await host.peer.ok('setRoomLocked', { locked: true });
  await member.peer.nextNotification('roomLocked', WAIT_MS);
  const nia = await RawPeer.connect(nodeB, roomId, 'Nia');
  peers.push(nia);
  const waiting = await nia.ok<{ status: string; peerId: string }>('join', {
    displayName: 'Nia',
    rtpCapabilities: caps,
  });
  assert.equal(waiting.status, 'waiting');
  await waitUntil(
    'Hana to see Nia in the lobby',
    () =>
      Promise.resolve(
        host.peer
          .notifications('lobbyUpdated')
          .some((n) => (n.data.lobby as Array<{ peerId: string }>).some((e) => e.peerId === waiting.peerId)),
      ),
    WAIT_MS,
  );
  await host.peer.ok('admit', { peerId: waiting.peerId });
  await nia.nextNotification('admitted', WAIT_MS);
  const joined = await nia.ok<{ status: string }>('join', { displayName: 'Nia', rtpCapabilities: caps });
  assert.equal(joined.status, 'joined');
  await waitUntil(
    'the lobby to be empty for Hana',
    () =>
      Promise.resolve((host.peer.notifications('lobbyUpdated').at(-1)?.data.lobby as unknown[]).length === 0),
    WAIT_MS,
  );
});

test('a node whose Redis subscription dropped catches up with what it missed (resync)', async () => {
  const roomId = `cluster-resync-${process.pid}`;
  const alice = await joinOn(nodeA, roomId, 'Alice');
  const bob = await joinOn(nodeB, roomId, 'Bob');
  await alice.peer.nextNotification('peerJoined', WAIT_MS);

  // Node B's subscribing connection is killed; in the same tick, before it can reconnect,
  // Alice goes away on node A: that event is published while node B hears nothing.
  const admin = new Redis(redis.url);
  cleanups.push(() => admin.disconnect());
  const clients = String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
  const line = clients.split('\n').find((l) => l.includes('name=meet-node-b-sub'));
  const id = /id=(\d+)/.exec(line ?? '')?.[1];
  assert.ok(id, `node B's subscriber among the pubsub clients:\n${clients}`);
  await admin.call('CLIENT', 'KILL', 'ID', id);
  const aliceOnA = roomOn(nodeA, roomId).participants.get(alice.peerId);
  assert.ok(aliceOnA);
  aliceOnA.away = true;
  roomOn(nodeA, roomId).refreshPresence(aliceOnA);

  // Node B reconnects and asks node A again: Bob is told what he missed.
  const status = await bob.peer.nextNotification('peerStatus', WAIT_MS);
  assert.deepEqual(status.data, { peerId: alice.peerId, status: 'away', inCall: false });
  assert.equal(roomOn(nodeB, roomId).link?.remotePeer(alice.peerId)?.info.status, 'away');
});

test('chat sent on two nodes at once reaches everyone once, in seq order', async () => {
  const roomId = `cluster-chat-${process.pid}`;
  const onA = [await joinOn(nodeA, roomId, 'A1'), await joinOn(nodeA, roomId, 'A2')];
  const onB = [await joinOn(nodeB, roomId, 'B1'), await joinOn(nodeB, roomId, 'B2')];
  const everyone = [...onA, ...onB];
  const perSender = 40;
  // Every participant sends at once, without waiting for its previous answers.
  const sent = await Promise.all(
    everyone.map(({ peer }, who) =>
      Promise.all(
        Array.from({ length: perSender }, (_, i) =>
          peer.ok<{ message: { seq: string; clientId: string } }>('chatSend', {
            clientId: `cluster-${who}-${i}`,
            text: `message ${i} from ${who}`,
          }),
        ),
      ),
    ),
  );
  const total = everyone.length * perSender;
  const allSeqs = sent.flat().map((answer) => BigInt(answer.message.seq));
  assert.equal(new Set(allSeqs.map(String)).size, total, 'every message stored once');

  for (const [who, { peer }] of everyone.entries()) {
    const expected = total - perSender;
    const received = () =>
      peer.received
        .filter((m) => 'method' in m && (m.method === 'chatMessage' || m.method === 'chatMessages'))
        .flatMap((m) => {
          const data = (m as { data: { message?: { seq: string }; messages?: Array<{ seq: string }> } }).data;
          return data.messages ?? (data.message ? [data.message] : []);
        });
    await waitUntil(
      `participant ${who} to receive the ${expected} messages of the others`,
      () => Promise.resolve(received().length >= expected),
      WAIT_MS,
    );
    const seqs = received().map((m) => BigInt(m.seq));
    assert.equal(seqs.length, expected, `participant ${who} received each message once`);
    for (let i = 1; i < seqs.length; i++)
      assert.ok(
        (seqs[i - 1] as bigint) < (seqs[i] as bigint),
        `participant ${who}: seq ${seqs[i]} after ${seqs[i - 1]}`,
      );
  }
});

test('typing indicators cross nodes: to the room, and privately to one identity only', async () => {
  const roomId = `cluster-typing-${process.pid}`;
  const a1 = await joinOn(nodeA, roomId, 'A1');
  const b1 = await joinOn(nodeB, roomId, 'B1');
  const b2 = await joinOn(nodeB, roomId, 'B2');
  const a1Identity = a1.peer.identity?.id as string;
  await a1.peer.ok('chatTyping', {});
  for (const { peer } of [b1, b2]) {
    const { data } = await peer.nextNotification('peerTyping', WAIT_MS);
    assert.deepEqual(data, { peerId: a1.peerId, identityId: a1Identity, private: false });
  }
  // Private to B2's identity: B2 hears it across the nodes, B1 does not.
  await a1.peer.ok('chatTyping', { recipientId: b2.peer.identity?.id });
  const { data } = await b2.peer.nextNotification('peerTyping', WAIT_MS);
  assert.deepEqual(data, { peerId: a1.peerId, identityId: a1Identity, private: true });
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(b1.peer.notifications('peerTyping').length, 1, 'B1 got the room-wide indicator only');
  assert.equal(a1.peer.notifications('peerTyping').length, 0, 'nobody is told of their own typing');
});

test('the REST API on a node where nobody is in the room: a post reaches the other node in order; my rooms says who is there', async () => {
  const roomId = `cluster-rest-${process.pid}`;
  const a1 = await joinOn(nodeA, roomId, 'A1');
  const a2 = await joinOn(nodeA, roomId, 'A2');
  assert.equal(nodeB.app.rooms.get(roomId), undefined, 'nobody is in the room on node B');
  const cookie = a1.peer.identity?.cookie as string;
  // Asked on node B (where nobody is in the room), my rooms still says who is there.
  const mine = await fetch(new URL('/api/rooms', nodeB.url), { headers: { cookie } });
  const listed = (
    (await mine.json()) as { rooms: Array<{ id: string; present: Array<{ displayName: string }> }> }
  ).rooms;
  assert.deepEqual(
    listed.find((room) => room.id === roomId)?.present.map((p) => p.displayName),
    ['A1', 'A2'],
  );
  await a2.peer.ok('chatSend', { clientId: 'cluster-rest-1', text: 'before' });
  const response = await fetch(new URL(`/api/rooms/${roomId}/messages`, nodeB.url), {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ clientId: 'cluster-rest-2', text: 'posted on node B' }),
  });
  assert.equal(response.status, 201, await response.clone().text());
  await a2.peer.ok('chatSend', { clientId: 'cluster-rest-3', text: 'after' });
  const texts = () =>
    a1.peer.notifications('chatMessage').map((n) => (n.data as { message: { text: string } }).message.text);
  await waitUntil('A1 gets all three', () => texts().length === 3, WAIT_MS);
  assert.deepEqual(texts(), ['before', 'posted on node B', 'after']);
  await waitUntil(
    'node B closes the room it opened for the post',
    () => nodeB.app.rooms.get(roomId) === undefined,
    WAIT_MS,
  );
});

test('a node that leaves the cluster takes only its participants; the others hear they left', async () => {
  const roomId = `cluster-leave-${process.pid}`;
  const alice = await joinOn(nodeA, roomId, 'Alice');
  const dave = await joinOn(nodeB, roomId, 'Dave');
  await alice.peer.nextNotification('peerJoined', WAIT_MS);
  const aliceMic = await sendsMicrophone(alice.peer, 31_000_010);
  await dave.peer.nextNotification('newProducer', WAIT_MS);

  // Node B stops (its registration goes at once; a killed node's would expire).
  await nodeB.close();
  const left = await alice.peer.nextNotification('peerLeft', WAIT_MS);
  assert.equal(left.data.peerId, dave.peerId);
  assert.equal(roomOn(nodeA, roomId).link?.remotePeers().length, 0);
  assert.equal(alice.peer.isOpen, true, "Alice's call goes on");
  assert.ok(roomOn(nodeA, roomId).participants.get(alice.peerId)?.producers.has(aliceMic));

  // A node that comes back (a new process, the same id) joins the room again.
  nodeB = await startNode('node-b');
  const erin = await joinOn(nodeB, roomId, 'Erin');
  assert.deepEqual(
    erin.joined.peers.map((p) => p.id),
    [alice.peerId],
  );
  // Alice hears of Erin whether or not node A has noticed the restart yet: the new run's
  // events are numbered anew, and are not taken for the old run's.
  await waitUntil(
    'Alice to hear Erin joined',
    () => Promise.resolve(alice.peer.notifications('peerJoined').some((n) => n.data.id === erin.peerId)),
    WAIT_MS,
  );
});
