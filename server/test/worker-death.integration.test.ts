// The real server when a mediasoup worker process dies: the peers of the rooms on that
// worker are told (roomReset) and disconnected, rooms on other workers are untouched, the
// worker is replaced, and the room id works again on a live worker.
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
  const room = (await server.app.rooms.list()).find((r) => r.id === roomId);
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

test("killing a room's worker resets that room's peers, and the room id works again", async () => {
  const doomedId = `doomed-${process.pid}`;
  const safeId = `safe-${process.pid}`;

  // Two peers with media state in the doomed room, one peer in a room on the other worker.
  const alice = await joinAs(doomedId, 'Alice');
  const bob = await joinAs(doomedId, 'Bob');
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
  await bob.peer.nextNotification('newProducer');
  const carol = await joinAs(safeId, 'Carol');

  const doomed = await roomOf(doomedId);
  const safe = await roomOf(safeId);
  assert.notEqual(doomed.workerIndex, safe.workerIndex, 'the rooms are on different workers');
  const pid = await pidOfWorker(doomed.workerIndex);
  const safePid = await pidOfWorker(safe.workerIndex);

  const restarted = once(server.app.pool, 'workerRestarted', { signal: AbortSignal.timeout(15_000) });
  process.kill(pid, 'SIGKILL');

  // Every peer of the doomed room is told, then disconnected by the server.
  for (const { peer } of [alice, bob]) {
    const reset = await peer.nextNotification('roomReset');
    assert.match(String(reset.data.reason), /media worker/);
    const { code } = await peer.waitClosed();
    assert.equal(code, 4000, 'closed by the server');
  }
  assert.equal(doomed.closed, true);
  assert.equal(doomed.router.closed, true);
  assert.equal(doomed.peers.size, 0);
  assert.equal((await server.app.rooms.list()).includes(doomed), false, 'the dead room left the registry');

  // The other room is untouched.
  await carol.peer.ok('createWebRtcTransport', { direction: 'recv' });
  assert.deepEqual(carol.peer.notifications('roomReset'), []);
  assert.equal(carol.peer.isOpen, true);
  assert.equal(safe.closed, false);
  assert.equal(await pidOfWorker(safe.workerIndex), safePid);

  // The worker is replaced.
  const [index] = (await restarted) as [number];
  assert.equal(index, doomed.workerIndex);
  const newPid = await pidOfWorker(doomed.workerIndex);
  assert.notEqual(newPid, pid);
  assert.deepEqual(await healthBody(), { status: 200, body: { status: 'ok' } });
  const poolHealth = await server.app.pool.health();
  assert.ok(poolHealth.every((w) => w.alive));
  assert.equal(poolHealth.find((w) => w.index === doomed.workerIndex)?.restarts, 1);
  assert.equal(poolHealth.find((w) => w.index === safe.workerIndex)?.restarts, 0);
  // The metrics tell the same: the doomed worker restarted once, with its new pid.
  const metrics = await scrape(`${server.url}/metrics`, metricsToken);
  const worker = (index: number) => ({ worker: String(index) });
  assert.equal(valueOf(metrics, 'meet_media_worker_restarts_total', worker(doomed.workerIndex)), 1);
  assert.equal(valueOf(metrics, 'meet_media_worker_restarts_total', worker(safe.workerIndex)), 0);
  assert.equal(valueOf(metrics, 'meet_media_worker_pid', worker(doomed.workerIndex)), newPid);
  assert.equal(valueOf(metrics, 'meet_media_worker_up', worker(doomed.workerIndex)), 1);

  // A new connection to the same room id joins a rebuilt room on a live worker.
  // Alice's browser reconnects with its identity cookie.
  const again = await RawPeer.open(server.wsUrl(doomedId), alice.peer.identity);
  peers.push(again);
  const capabilities = await again.ok('getRouterRtpCapabilities', {});
  const joined = await again.ok<{ peerId: string; identityId: string; peers: unknown[] }>('join', {
    displayName: 'Alice',
    rtpCapabilities: capabilities,
  });
  assert.deepEqual(joined.peers, [], 'the old peers are gone');
  assert.equal(joined.identityId, alice.peer.identity?.id, 'same identity as before the reset');
  const rebuilt = await roomOf(doomedId);
  assert.notEqual(rebuilt, doomed);
  assert.equal(rebuilt.router.closed, false);
  assert.notEqual(rebuilt.router.id, doomed.router.id);
  assert.ok(rebuilt.peers.get(joined.peerId)?.joined);
  const workers = await server.app.pool.health();
  assert.equal(workers.find((w) => w.index === rebuilt.workerIndex)?.alive, true);
  const transport = await again.ok<{ id: string }>('createWebRtcTransport', { direction: 'send' });
  await again.ok('connectWebRtcTransport', {
    transportId: transport.id,
    dtlsParameters: clientDtlsParameters(9),
  });
  await again.ok('produce', {
    transportId: transport.id,
    kind: 'audio',
    rtpParameters: opusRtpParameters(55_555_555),
    source: 'mic',
  });
  assert.equal(again.isOpen, true);
});

test('a peer that reconnects as soon as it gets roomReset joins a live room and stays connected', async () => {
  const roomId = `quick-${process.pid}`;
  const first = await joinAs(roomId, 'First');
  const doomed = await roomOf(roomId);
  const pid = await pidOfWorker(doomed.workerIndex);

  process.kill(pid, 'SIGKILL');
  await first.peer.nextNotification('roomReset');
  // Reconnect at once, before the old socket is closed.
  const quick = await RawPeer.open(server.wsUrl(roomId), first.peer.identity);
  peers.push(quick);
  const capabilities = await quick.ok('getRouterRtpCapabilities', {});
  const joined = await quick.ok<{ peerId: string }>('join', {
    displayName: 'Quick',
    rtpCapabilities: capabilities,
  });
  await first.peer.waitClosed();

  const room = await waitUntil(
    'the room to be open again',
    async () => (await server.app.rooms.list()).find((r) => r.id === roomId),
    2000,
  );
  assert.notEqual(room, doomed, 'the new peer is in a rebuilt room');
  assert.ok(room.peers.get(joined.peerId)?.joined);
  assert.equal(quick.isOpen, true, 'the new peer was not disconnected');
  await quick.ok('createWebRtcTransport', { direction: 'recv' });
});
