// The real server with one room over two mediasoup workers (MEDIA_ROUTER_PARTICIPANTS=1:
// each router takes one participant while the room can take another worker): where each
// participant's media goes, producers piped only where they are consumed (and microphones to
// the router that watches who speaks), and a worker's death taking only the participants
// on it. Media really flowing between browsers on two workers is the e2e test
// tests/e2e/room-over-workers.e2e.test.ts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import type { Room } from '../src/room/room.js';
import type { RoomMedia } from '../src/room/room-media.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { speakingMicrophone } from './support/speaking-microphone.js';
import { RawPeer, sendsMicrophone, waitUntil } from './support/raw-peer.js';

/** Generous: worker restarts and observers are slow on a loaded 2-core machine. */
const WAIT_MS = 30_000;

let server: TestServer;
const peers: RawPeer[] = [];
const cleanups: Array<() => void> = [];
let caps: Record<string, unknown>;

before(async () => {
  server = await startServer({ MEDIA_WORKERS: '2', MEDIA_ROUTER_PARTICIPANTS: '1' });
});

after(async () => {
  for (const cleanup of cleanups) cleanup();
  await Promise.all(peers.map((peer) => peer.close()));
  await server?.close();
});

async function joinAs(roomId: string, displayName: string) {
  const peer = await RawPeer.connect(server, roomId, displayName);
  peers.push(peer);
  caps ??= await peer.ok('getRouterRtpCapabilities', {});
  const { peerId } = await peer.ok<{ peerId: string }>('join', { displayName, rtpCapabilities: caps });
  return { peer, peerId };
}

function roomOf(roomId: string): Room {
  const room = server.app.rooms.get(roomId);
  assert.ok(room, `room ${roomId} is open`);
  return room;
}

async function mediaOf(room: Room): Promise<RoomMedia> {
  const media = await room.currentMedia();
  assert.ok(media, 'the room has media');
  return media;
}

/** The worker a participant's media is on. */
function workerOf(room: Room, peerId: string): number | undefined {
  return room.participants.get(peerId)?.media?.place.workerIndex;
}

async function producersOnRouter(media: RoomMedia, workerIndex: number): Promise<string[]> {
  const router = media.routers().find((r) => r.workerIndex === workerIndex);
  assert.ok(router, `the room has a router on worker ${workerIndex}`);
  const dump = await router.router.dump();
  return dump.mapProducerIdConsumerIds.map(({ key }) => key);
}

test('a room over two workers: placement, pipes where consumed, and a dead worker taking only its participants', async () => {
  const roomId = `over-workers-${process.pid}`;
  const alice = await joinAs(roomId, 'Alice');
  const aliceMic = await sendsMicrophone(alice.peer, 21_000_001);
  const room = roomOf(roomId);
  const media = await mediaOf(room);
  const aliceWorker = workerOf(room, alice.peerId);
  assert.equal(aliceWorker, media.home?.workerIndex, 'the first participant is on the first router');

  // Bob does not fit on Alice's router: the room takes the other worker.
  const bob = await joinAs(roomId, 'Bob');
  const recv = await bob.peer.ok<{ id: string }>('createWebRtcTransport', { direction: 'recv' });
  const bobWorker = workerOf(room, bob.peerId);
  assert.ok(bobWorker !== undefined && aliceWorker !== undefined);
  assert.notEqual(bobWorker, aliceWorker);
  assert.equal(media.routers().length, 2);
  assert.equal(media.pipedProducers, 0, 'nothing is piped before someone consumes it');

  // Bob consumes Alice's microphone: it is piped to his router, once.
  const consumer = await bob.peer.ok<{ id: string; producerId: string }>('consume', {
    transportId: recv.id,
    producerId: aliceMic,
  });
  assert.equal(consumer.producerId, aliceMic);
  assert.equal(media.pipedProducers, 1);
  assert.ok((await producersOnRouter(media, bobWorker)).includes(aliceMic), "Alice's mic on Bob's router");

  // Bob's microphone is piped to the first router, whose observers tell who speaks, though
  // nobody consumes it there.
  const bobMic = await sendsMicrophone(bob.peer, 21_000_002);
  await waitUntil(
    "Bob's mic to reach the speakers' router",
    async () => (await producersOnRouter(media, aliceWorker)).includes(bobMic),
    WAIT_MS,
  );

  // A microphone speaking on Bob's router is heard by the observers on the first: Bob is the
  // active speaker for everyone.
  const bobRouter = room.participants.get(bob.peerId)?.media?.place;
  assert.ok(bobRouter && bobRouter !== media.home);
  const speaking = await speakingMicrophone(media, bob.peerId, { router: bobRouter });
  cleanups.push(() => speaking.close());
  await waitUntil(
    'Bob to be the active speaker',
    () => Promise.resolve(room.activeSpeaker === bob.peerId),
    WAIT_MS,
  );
  await waitUntil(
    'Alice to be told Bob speaks',
    () =>
      Promise.resolve(alice.peer.notifications('activeSpeaker').some((n) => n.data.peerId === bob.peerId)),
    WAIT_MS,
  );
  speaking.close();

  // Both workers used, both routers full: a third participant goes with the fewest.
  const carol = await joinAs(roomId, 'Carol');
  await carol.peer.ok('createWebRtcTransport', { direction: 'recv' });
  assert.ok([aliceWorker, bobWorker].includes(workerOf(room, carol.peerId) as number));
  assert.equal(media.routers().length, 2, 'no third router on two workers');
  await carol.peer.close();
  await waitUntil('Carol to leave', () => Promise.resolve(!room.participants.has(carol.peerId)), WAIT_MS);

  // Bob's worker dies: Bob sets his media up again; Alice keeps hers.
  const aliceMedia = room.participants.get(alice.peerId)?.media;
  const bobPid = (await server.app.pool.health()).find((w) => w.index === bobWorker)?.pid;
  assert.ok(aliceMedia && bobPid);
  const restarted = once(server.app.pool, 'workerRestarted', { signal: AbortSignal.timeout(WAIT_MS) });
  process.kill(bobPid, 'SIGKILL');
  const reset = await bob.peer.nextNotification('mediaReset', WAIT_MS);
  assert.match(String(reset.data.reason), /media worker/);
  const closed = await alice.peer.nextNotification('producerClosed', WAIT_MS);
  assert.deepEqual(closed.data, { peerId: bob.peerId, producerId: bobMic }, "Alice hears Bob's mic went");
  assert.deepEqual(alice.peer.notifications('mediaReset'), [], 'Alice is not reset');
  assert.equal(room.participants.get(alice.peerId)?.media, aliceMedia, 'Alice keeps her media');
  assert.equal(await currentOf(room), media, 'the room keeps its media, on its other router');
  assert.deepEqual(
    media.routers().map((r) => r.workerIndex),
    [aliceWorker],
  );
  await restarted;

  // Bob comes back (on the restarted worker: Alice's router is full) and hears Alice again.
  const recvAgain = await bob.peer.ok<{ id: string }>('createWebRtcTransport', { direction: 'recv' });
  assert.equal(workerOf(room, bob.peerId), bobWorker);
  const again = await bob.peer.ok<{ producerId: string }>('consume', {
    transportId: recvAgain.id,
    producerId: aliceMic,
  });
  assert.equal(again.producerId, aliceMic);

  // Now the first router's worker dies, the one that watches who speaks: Bob keeps his media,
  // the observers move to his router, and Alice's new microphone is piped there.
  const bobMedia = room.participants.get(bob.peerId)?.media;
  const alicePid = (await server.app.pool.health()).find((w) => w.index === aliceWorker)?.pid;
  assert.ok(bobMedia && alicePid);
  process.kill(alicePid, 'SIGKILL');
  await alice.peer.nextNotification('mediaReset', WAIT_MS);
  await waitUntil(
    'the speakers to move to the surviving router',
    () => Promise.resolve(media.home?.workerIndex === bobWorker),
    WAIT_MS,
  );
  assert.equal(room.participants.get(bob.peerId)?.media, bobMedia, 'Bob keeps his media');
  assert.equal(await currentOf(room), media);
  await waitUntil(
    'the first worker to restart',
    async () => (await server.app.pool.health()).every((w) => w.alive),
    WAIT_MS,
  );
  const aliceMicAgain = await sendsMicrophone(alice.peer, 21_000_003);
  assert.equal(workerOf(room, alice.peerId), aliceWorker, 'Alice is back on the restarted worker');
  await waitUntil(
    "Alice's new mic to reach the speakers' new router",
    async () => (await producersOnRouter(media, bobWorker)).includes(aliceMicAgain),
    WAIT_MS,
  );
  for (const { peer } of [alice, bob]) assert.equal(peer.isOpen, true);
});

async function currentOf(room: Room): Promise<RoomMedia | undefined> {
  return room.currentMedia();
}
