// The real server when a mediasoup worker process dies: the room's media part is dropped,
// its callers are told (mediaReset) and set their media up again on a live worker, while
// every socket, the chat and chat-only participants carry on; rooms on other workers are
// untouched and the worker is replaced.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import type { Room } from '../src/room/room.js';
import { createIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { scrape, valueOf } from './support/metrics.js';
import { RawPeer, clientDtlsParameters, opusRtpParameters, waitUntil } from './support/raw-peer.js';

let server: TestServer;
const peers: RawPeer[] = [];
let caps: Record<string, unknown>;
const metricsToken = `worker-death-${process.pid}-metrics-token`;

before(async () => {
  server = await startServer({ METRICS_TOKEN: metricsToken });
});

after(async () => {
  await Promise.all(peers.map((peer) => peer.close()));
  await server?.close();
});

async function joinAs(roomId: string, displayName: string) {
  const peer = await RawPeer.open(server.wsUrl(roomId), await createIdentity(server.url, displayName));
  peers.push(peer);
  caps ??= await peer.ok('getRouterRtpCapabilities', {});
  const { peerId } = await peer.ok<{ peerId: string; peers: unknown[] }>('join', {
    displayName,
    rtpCapabilities: caps,
  });
  return { peer, peerId };
}

async function roomOf(roomId: string): Promise<Room> {
  const room = server.app.rooms.list().find((r) => r.id === roomId);
  assert.ok(room, `room ${roomId} is open`);
  return room;
}

async function pidOfWorker(index: number): Promise<number> {
  const worker = (await server.app.pool.health()).find((w) => w.index === index);
  assert.ok(worker?.alive && worker.pid, `worker ${index} is alive`);
  return worker.pid;
}

async function healthBody() {
  const response = await fetch(`${server.url}/api/health`);
  return { status: response.status, body: (await response.json()) as unknown };
}

test("killing a room's worker resets its callers' media only: sockets, chat and chat-only participants stay, media comes back", async () => {
  const doomedId = `doomed-${process.pid}`;
  const safeId = `safe-${process.pid}`;

  // Two callers with media state in the doomed room, a chat-only participant beside them,
  // and a caller in a room on the other worker.
  const alice = await joinAs(doomedId, 'Alice');
  const bob = await joinAs(doomedId, 'Bob');
  const dana = await joinAs(doomedId, 'Dana');
  const send = await alice.peer.ok<{ id: string }>('createWebRtcTransport', { direction: 'send' });
  await alice.peer.ok('connectWebRtcTransport', {
    transportId: send.id,
    dtlsParameters: clientDtlsParameters(),
  });
  await alice.peer.ok('produce', {
    transportId: send.id,
    kind: 'audio',
    rtpParameters: opusRtpParameters(),
    source: 'mic',
  });
  await bob.peer.ok('createWebRtcTransport', { direction: 'recv' });
  await bob.peer.nextNotification('newProducer');
  // Her microphone, the only one, is the dominant speaker.
  assert.deepEqual((await dana.peer.nextNotification('activeSpeaker')).data, { peerId: alice.peerId });
  const carol = await joinAs(safeId, 'Carol');
  await carol.peer.ok('createWebRtcTransport', { direction: 'recv' });

  const doomed = await roomOf(doomedId);
  const safe = await roomOf(safeId);
  const doomedMedia = await doomed.currentMedia();
  const safeMedia = await safe.currentMedia();
  assert.ok(doomedMedia && safeMedia);
  const doomedWorker = doomedMedia.home?.workerIndex;
  const safeWorker = safeMedia.home?.workerIndex;
  assert.ok(doomedWorker !== undefined && safeWorker !== undefined);
  const doomedRouterId = doomedMedia.home?.id;
  assert.notEqual(doomedWorker, safeWorker, 'the rooms are on different workers');
  const pid = await pidOfWorker(doomedWorker);
  const safePid = await pidOfWorker(safeWorker);

  const restarted = once(server.app.pool, 'workerRestarted', { signal: AbortSignal.timeout(15_000) });
  process.kill(pid, 'SIGKILL');

  // The callers are told to set their media up again; nobody is disconnected.
  for (const { peer } of [alice, bob]) {
    const reset = await peer.nextNotification('mediaReset');
    assert.match(String(reset.data.reason), /media worker/);
  }
  await waitUntil('the room to drop its dead media', async () => (await doomed.currentMedia()) === undefined);
  assert.deepEqual(
    (await dana.peer.nextNotification('activeSpeaker')).data,
    { peerId: null },
    'nobody speaks once the media is gone',
  );
  assert.equal(doomed.closed, false, 'the room itself lives on');
  assert.equal((await roomOf(doomedId)) === doomed, true);
  assert.deepEqual(dana.peer.notifications('mediaReset'), [], 'chat-only: nothing to reset');
  for (const { peer } of [alice, bob, dana]) assert.equal(peer.isOpen, true);
  assert.equal(doomed.joinedParticipants().length, 3);
  // The callers' old media is gone on the server too.
  const serverAlice = doomed.participants.get(alice.peerId);
  assert.equal(serverAlice?.transports.size, 0);
  assert.equal(serverAlice?.inCall, true, 'still in the call, as the others see it');
  await alice.peer.fails(
    'connectWebRtcTransport',
    { transportId: send.id, dtlsParameters: clientDtlsParameters() },
    404,
    /not in the call/,
  );

  // Chat carries on through it, for everyone.
  const sent = await dana.peer.ok<{ message: { text: string } }>('chatSend', {
    clientId: 'during-reset-1',
    text: 'still here',
  });
  assert.equal(sent.message.text, 'still here');
  await waitUntil('Alice to get the message', () =>
    alice.peer
      .notifications('chatMessage')
      .some((n) => (n.data.message as { text: string }).text === 'still here'),
  );

  // The other room is untouched.
  assert.deepEqual(carol.peer.notifications('mediaReset'), []);
  assert.equal(carol.peer.isOpen, true);
  assert.equal(safe.closed, false);
  assert.equal(await pidOfWorker(safeWorker), safePid);

  // The worker is replaced.
  const [index] = (await restarted) as [number];
  assert.equal(index, doomedWorker);
  const newPid = await pidOfWorker(doomedWorker);
  assert.notEqual(newPid, pid);
  assert.deepEqual(await healthBody(), { status: 200, body: { status: 'ok' } });
  const poolHealth = await server.app.pool.health();
  assert.ok(poolHealth.every((w) => w.alive));
  assert.equal(poolHealth.find((w) => w.index === doomedWorker)?.restarts, 1);
  assert.equal(poolHealth.find((w) => w.index === safeWorker)?.restarts, 0);
  // The metrics tell the same: the doomed worker restarted once, with its new pid.
  const metrics = await scrape(`${server.url}/metrics`, metricsToken);
  const worker = (index: number) => ({ worker: String(index) });
  assert.equal(valueOf(metrics, 'meet_media_worker_restarts_total', worker(doomedWorker)), 1);
  assert.equal(valueOf(metrics, 'meet_media_worker_restarts_total', worker(safeWorker)), 0);
  assert.equal(valueOf(metrics, 'meet_media_worker_pid', worker(doomedWorker)), newPid);
  assert.equal(valueOf(metrics, 'meet_media_worker_up', worker(doomedWorker)), 1);

  // The callers set their media up again on a new router, and media flows between them.
  const again = await alice.peer.ok<{ id: string }>('createWebRtcTransport', { direction: 'send' });
  await alice.peer.ok('connectWebRtcTransport', {
    transportId: again.id,
    dtlsParameters: clientDtlsParameters(9),
  });
  const produced = await alice.peer.ok<{ id: string }>('produce', {
    transportId: again.id,
    kind: 'audio',
    rtpParameters: opusRtpParameters(55_555_555),
    source: 'mic',
  });
  const rebuilt = await doomed.currentMedia();
  assert.ok(rebuilt && rebuilt !== doomedMedia && !rebuilt.closed);
  // The new router has its own speaker observers.
  assert.deepEqual((await dana.peer.nextNotification('activeSpeaker')).data, { peerId: alice.peerId });
  assert.notEqual(rebuilt.home?.id, doomedRouterId);
  const recv = await bob.peer.ok<{ id: string }>('createWebRtcTransport', { direction: 'recv' });
  await waitUntil('Bob to hear of the new producer', () =>
    bob.peer.notifications('newProducer').some((n) => n.data.id === produced.id),
  );
  const consumer = await bob.peer.ok<{ producerId: string }>('consume', {
    transportId: recv.id,
    producerId: produced.id,
  });
  assert.equal(consumer.producerId, produced.id);
  for (const { peer } of [alice, bob, dana]) assert.equal(peer.isOpen, true);
});
