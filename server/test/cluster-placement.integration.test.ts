// Placement over two real nodes (one PostgreSQL, one Redis, each its own mediasoup worker):
// a signaling socket for a room served by another node is asked to move there (`moveTo`,
// then closed with 4000), one that names its node is served where it lands, and a new room
// goes to the less loaded node, by the measured load of its media worker (real RTP work on
// one node's worker). The rule itself, on data, is placeConnection (unit tests below).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NODE_LOAD_MARGIN, placeConnection } from '../src/cluster/placement.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { createTestDatabase, type TestDatabase } from '../../tests/helpers/postgres.js';
import { startRedis, type TestRedis } from '../../tests/helpers/redis.js';
import { createIdentity } from '../../tests/helpers/identity.js';
import { loadRouterWithRtp } from '../../media-worker/test/support/rtp-load.js';
import { RawPeer, waitUntil } from './support/raw-peer.js';

describe('placeConnection', () => {
  const nodes = [
    { id: 'a', load: 0.5 },
    { id: 'b', load: 0.2 },
    { id: 'c', load: 0.3 },
  ];
  test('a room on this node stays', () =>
    assert.equal(placeConnection('a', nodes, ['a', 'b'], 0.85), undefined));
  test('a room elsewhere: its least loaded node under the limit', () => {
    assert.equal(placeConnection('b', nodes, ['a', 'c'], 0.85), 'c');
    assert.equal(
      placeConnection('b', nodes, ['a', 'c'], 0.25),
      undefined,
      'both over the limit: spread here',
    );
  });
  test('a new room: the least loaded node, if lower by the margin', () => {
    assert.equal(placeConnection('a', nodes, [], 0.85), 'b');
    assert.equal(placeConnection('c', nodes, [], 0.85), undefined, `0.1 lower is within ${NODE_LOAD_MARGIN}`);
    assert.equal(placeConnection('b', nodes, [], 0.85), undefined);
  });
  test('a node that is not registered (yet) moves nobody', () =>
    assert.equal(placeConnection('x', nodes, ['a'], 0.85), undefined));
  test('a room whose nodes are all gone is a new room', () =>
    assert.equal(placeConnection('a', nodes, ['gone'], 0.85), 'b'));
});

const WAIT_MS = 30_000;
let redis: TestRedis;
let database: TestDatabase;
let nodeA: TestServer;
let nodeB: TestServer;
const peers: RawPeer[] = [];

before(async () => {
  redis = await startRedis();
  database = await createTestDatabase();
  const env = (nodeId: string) => ({
    REDIS_URL: redis.url,
    DATABASE_URL: database.url,
    NODE_ID: nodeId,
    MEDIA_WORKERS: '1',
    CLUSTER_NODE_TTL_MS: '1500',
  });
  nodeA = await startServer(env('node-a'));
  nodeB = await startServer(env('node-b'));
});

after(async () => {
  await Promise.all(peers.map((peer) => peer.close()));
  await nodeA?.close();
  await nodeB?.close();
  await database?.drop();
  await redis?.stop();
});

/** Opens a signaling socket (optionally naming a node) and returns it with what it got. */
async function open(server: TestServer, roomId: string, name: string, node?: string) {
  const identity = await createIdentity(server.url, name);
  const peer = await RawPeer.open(`${server.wsUrl(roomId)}${node ? `&node=${node}` : ''}`, identity);
  peers.push(peer);
  return peer;
}

/** The socket is told to move to `node`, then closed with 4000. */
async function assertMoved(peer: RawPeer, node: string): Promise<void> {
  const moved = await peer.nextNotification('moveTo', WAIT_MS);
  assert.deepEqual(moved.data, { node });
  const closed = await peer.closed;
  assert.equal(closed.code, 4000);
  assert.match(closed.reason, new RegExp(`served by node ${node}`));
}

test('a socket for a room served by another node is moved there; one naming its node stays', async () => {
  const roomId = `placement-room-${process.pid}`;
  const alice = await RawPeer.connect(nodeA, roomId, 'Alice');
  peers.push(alice);
  const caps = await alice.ok('getRouterRtpCapabilities', {});
  await alice.ok('join', { displayName: 'Alice', rtpCapabilities: caps });
  await waitUntil(
    "node A in the room's directory",
    async () => (await nodeB.app.cluster?.placementFor(roomId, 0.85)) === 'node-a',
    WAIT_MS,
  );

  await assertMoved(await open(nodeB, roomId, 'Bob'), 'node-a');
  assert.equal(nodeB.app.rooms.get(roomId), undefined, 'node B opened no room for the moved socket');

  // Moved once (the load balancer would route it to node A): never moved again, wherever it lands.
  const bob = await open(nodeB, roomId, 'Bob', 'node-a');
  const joined = await bob.ok<{ status: string; peers: Array<{ displayName: string }> }>('join', {
    displayName: 'Bob',
    rtpCapabilities: caps,
  });
  assert.equal(joined.status, 'joined');
  assert.deepEqual(
    joined.peers.map((p) => p.displayName),
    ['Alice'],
  );
});

test('a new room goes to the node whose media worker is measured less loaded', async () => {
  // Real work for node A's worker: RTP at about 20,000 packets a second, forwarded three times.
  const busy = await nodeA.app.pool.createRouter({ roomId: 'load' });
  const load = await loadRouterWithRtp(busy.router, 4343);
  try {
    await waitUntil(
      'node A to be registered as more loaded than node B by the margin',
      async () => {
        const nodes = (await nodeB.app.cluster?.registry.liveNodes()) ?? [];
        const load = (id: string) => nodes.find((n) => n.id === id)?.load ?? 0;
        return load('node-a') > load('node-b') + NODE_LOAD_MARGIN;
      },
      WAIT_MS,
    );
    // A new room reaching node A is moved to node B; one reaching node B stays there.
    await assertMoved(await open(nodeA, `placement-new-${process.pid}-1`, 'Carol'), 'node-b');
    const dave = await open(nodeB, `placement-new-${process.pid}-2`, 'Dave');
    const caps = await dave.ok('getRouterRtpCapabilities', {});
    const joined = await dave.ok<{ status: string }>('join', { displayName: 'Dave', rtpCapabilities: caps });
    assert.equal(joined.status, 'joined');
    assert.deepEqual(dave.notifications('moveTo'), []);
  } finally {
    load.stop();
    busy.router.close();
  }
});
