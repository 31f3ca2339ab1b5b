// Room and participant bookkeeping, and configuration: loadConfig, the participant's rate
// limit and request queue, and RoomRegistry/Room on the real MediaWorkerPool (signaling
// through fake transports).
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { ProtooTransport } from 'protoo-server';
import { detectAnnouncedAddress, loadConfig } from '../src/config.js';
import { SerialQueue, TokenBucket } from '../src/participant/limits.js';
import type { Room } from '../src/room/room.js';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { waitUntil } from './support/raw-peer.js';
import { homeOf } from './support/room-media.js';

describe('loadConfig', () => {
  test('defaults work on a laptop', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.logLevel, 'info');
    assert.equal(config.maxPeersPerRoom, 50);
    assert.equal(config.media.numWorkers, os.availableParallelism());
    assert.equal(config.media.listenIp, '0.0.0.0');
    assert.equal(config.media.basePort, 40000);
    assert.equal(config.media.announcedAddress, detectAnnouncedAddress());
    assert.match(config.webDir, /web[/\\]build$/);
  });

  test('reads every variable, coercing numbers', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'debug',
      MEDIA_WORKERS: '3',
      RTC_LISTEN_IP: '0.0.0.0',
      RTC_ANNOUNCED_ADDRESS: 'meet.example.org',
      RTC_PORT: '50000',
      MAX_PEERS_PER_ROOM: '8',
      WEB_DIR: '/srv/web',
    });
    assert.equal(config.port, 8080);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.logLevel, 'debug');
    assert.deepEqual(config.media, {
      numWorkers: 3,
      listenIp: '0.0.0.0',
      announcedAddress: 'meet.example.org',
      basePort: 50000,
    });
    assert.equal(config.maxPeersPerRoom, 8);
    assert.equal(config.webDir, '/srv/web');
  });

  test('treats empty variables as unset', () => {
    const config = loadConfig({ PORT: '', MEDIA_WORKERS: '', RTC_ANNOUNCED_ADDRESS: '' });
    assert.equal(config.port, 3000);
    assert.equal(config.media.numWorkers, os.availableParallelism());
    assert.equal(config.media.announcedAddress, detectAnnouncedAddress());
  });

  test('ignores unrelated environment variables', () => {
    assert.equal(loadConfig({ PATH: '/usr/bin', HOME: '/root', SOMETHING: 'else' }).port, 3000);
  });

  test('rejects an invalid PORT with a message naming it', () => {
    for (const value of ['abc', '0', '-1', '65536', '80.5', '3000x']) {
      assert.throws(
        () => loadConfig({ PORT: value }),
        (error: Error) => {
          assert.match(error.message, /^invalid configuration: /);
          assert.match(error.message, /PORT/);
          return true;
        },
        `PORT=${value}`,
      );
    }
  });

  test('rejects other invalid values with a message naming the variable', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ RTC_PORT: '70000' }, /RTC_PORT/],
      [{ MEDIA_WORKERS: '0' }, /MEDIA_WORKERS/],
      [{ MEDIA_WORKERS: 'many' }, /MEDIA_WORKERS/],
      [{ MAX_PEERS_PER_ROOM: '1' }, /MAX_PEERS_PER_ROOM/],
      [{ LOG_LEVEL: 'verbose' }, /LOG_LEVEL/],
      [{ RTC_LISTEN_IP: 'localhost' }, /RTC_LISTEN_IP/],
      [{ RTC_LISTEN_IP: '300.1.1.1' }, /RTC_LISTEN_IP/],
    ];
    for (const [env, pattern] of cases) {
      assert.throws(() => loadConfig(env), pattern, JSON.stringify(env));
    }
  });

  test('names every invalid variable at once', () => {
    assert.throws(() => loadConfig({ PORT: 'x', RTC_PORT: 'y' }), /PORT.*RTC_PORT/);
  });

  test('RTC_ANNOUNCED_ADDRESS defaults to a specific RTC_LISTEN_IP', () => {
    const v4 = loadConfig({ RTC_LISTEN_IP: '192.0.2.10' });
    assert.equal(v4.media.listenIp, '192.0.2.10');
    assert.equal(v4.media.announcedAddress, '192.0.2.10');
    const v6 = loadConfig({ RTC_LISTEN_IP: '2001:db8::1' });
    assert.equal(v6.media.announcedAddress, '2001:db8::1');
    assert.equal(loadConfig({ RTC_LISTEN_IP: '127.0.0.1' }).media.announcedAddress, '127.0.0.1');
  });

  test('RTC_ANNOUNCED_ADDRESS is detected when listening on every interface, and wins when set', () => {
    assert.equal(loadConfig({ RTC_LISTEN_IP: '0.0.0.0' }).media.announcedAddress, detectAnnouncedAddress());
    assert.equal(loadConfig({ RTC_LISTEN_IP: '::' }).media.announcedAddress, detectAnnouncedAddress());
    assert.equal(
      loadConfig({ RTC_LISTEN_IP: '192.0.2.10', RTC_ANNOUNCED_ADDRESS: '203.0.113.7' }).media
        .announcedAddress,
      '203.0.113.7',
    );
  });

  test('TURN: relays need a secret, and relay-only needs relays', () => {
    assert.throws(() => loadConfig({ TURN_URLS: 'turn:turn.example.org:3478' }), /TURN_SECRET/);
    assert.throws(() => loadConfig({ TURN_URLS: 'http://turn.example.org' }), /TURN_URLS/);
    assert.throws(() => loadConfig({ ICE_TRANSPORT_POLICY: 'relay' }), /ICE_TRANSPORT_POLICY/);
    const stunOnly = loadConfig({ TURN_URLS: ' stun:stun.example.org:3478 , ' });
    assert.deepEqual(stunOnly.turn.urls, ['stun:stun.example.org:3478']);
    const relay = loadConfig({
      TURN_URLS: 'turn:turn.example.org:3478,turns:turn.example.org:5349',
      TURN_SECRET: 's'.repeat(32),
      ICE_TRANSPORT_POLICY: 'relay',
    });
    assert.deepEqual(relay.turn.urls, ['turn:turn.example.org:3478', 'turns:turn.example.org:5349']);
    assert.equal(relay.iceTransportPolicy, 'relay');
  });

  test('detectAnnouncedAddress returns an IPv4 address', () => {
    assert.match(detectAnnouncedAddress(), /^\d{1,3}(\.\d{1,3}){3}$/);
  });
});

// ---------------------------------------------------------------------------------------

describe('participant limits', () => {
  test('TokenBucket: a burst, then one token per 1/rate seconds, with the wait when empty', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    assert.deepEqual([bucket.take(), bucket.take(), bucket.take()], [0, 0, 0]);
    assert.equal(bucket.take(), 100, 'empty: the next token comes in 100 ms');
    now += 50;
    assert.equal(bucket.take(), 50);
    now += 50;
    assert.equal(bucket.take(), 0);
    now += 10_000;
    assert.deepEqual([bucket.take(), bucket.take(), bucket.take(), bucket.take() > 0], [0, 0, 0, true]);
  });

  test('SerialQueue runs tasks one at a time in order, and says when its backlog is full', async () => {
    const queue = new SerialQueue(2);
    const order: string[] = [];
    let release: () => void = () => undefined;
    const first = queue.run(
      () =>
        new Promise<void>((resolve) => {
          order.push('first starts');
          release = () => {
            order.push('first ends');
            resolve();
          };
        }),
    );
    const second = queue.run(async () => {
      order.push('second');
    });
    const third = queue.run(async () => {
      throw new Error('third fails');
    });
    assert.equal(queue.full, true, 'two waiting behind the running one');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(order, ['first starts']);
    release();
    await first;
    await second;
    await assert.rejects(third, /third fails/);
    assert.deepEqual(order, ['first starts', 'first ends', 'second']);
    assert.equal(queue.full, false);
    assert.equal(await queue.run(async () => 'after a failure'), 'after a failure');
  });
});

// ---------------------------------------------------------------------------------------

/** A protoo transport without a socket: the test plays the browser. */
class FakeTransport extends EventEmitter implements ProtooTransport {
  closed = false;
  readonly sent: Array<Record<string, unknown>> = [];
  #nextId = 1;

  send(message: unknown): Promise<void> {
    if (this.closed) return Promise.reject(new Error('transport closed'));
    this.sent.push(message as Record<string, unknown>);
    return Promise.resolve();
  }

  sendText(text: string): Promise<void> {
    return this.send(JSON.parse(text));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }

  /** Delivers a request as the browser would and resolves with the server's response. */
  async request(method: string, data: unknown = {}): Promise<Record<string, unknown>> {
    const id = this.#nextId++;
    this.emit('message', { request: true, id, method, data });
    return waitUntil(`response to ${method}`, () => this.sent.find((m) => m.response && m.id === id));
  }

  async ok(method: string, data: unknown = {}): Promise<Record<string, unknown>> {
    const response = await this.request(method, data);
    assert.equal(
      response.ok,
      true,
      `${method}: ${String(response.errorCode)} ${String(response.errorReason)}`,
    );
    return response.data as Record<string, unknown>;
  }

  notifications(method: string): unknown[] {
    return this.sent.filter((m) => m.notification && m.method === method).map((m) => m.data);
  }
}

describe('rooms on the real media worker pool', () => {
  let server: TestServer;
  let counter = 0;
  const newRoomId = (label: string) => `${label}-${process.pid}-${++counter}`;
  const openRooms: Room[] = [];

  async function getRoom(roomId: string): Promise<Room> {
    const room = server.app.rooms.getOrCreate(roomId);
    openRooms.push(room);
    return room;
  }

  async function totalRouters(): Promise<number> {
    return (await server.app.pool.health()).reduce((n, w) => n + w.routers, 0);
  }

  /** Real identities (the database links memberships to them), one per peer id. */
  const identities = new Map<string, TestIdentity>();
  async function identityOf(peerId: string): Promise<TestIdentity> {
    let identity = identities.get(peerId);
    if (!identity) {
      identity = await createIdentity(server.url, peerId);
      identities.set(peerId, identity);
    }
    return identity;
  }

  async function connect(room: Room, peerId: string): Promise<FakeTransport> {
    const transport = new FakeTransport();
    room.connect(peerId, transport, await identityOf(peerId));
    return transport;
  }

  async function join(room: Room, peerId: string, displayName: string): Promise<FakeTransport> {
    const transport = await connect(room, peerId);
    await transport.ok('join', { displayName, rtpCapabilities: room.rtpCapabilities });
    return transport;
  }

  /** What the others are told when `peerId` joins (before it has media); Alice makes the rooms. */
  async function joinedInfo(peerId: string, displayName: string) {
    const identityId = (await identityOf(peerId)).id;
    const role = peerId === 'alice' ? 'host' : 'member';
    return { id: peerId, identityId, displayName, status: 'text', inCall: false, role };
  }

  before(async () => {
    server = await startServer({ MAX_PEERS_PER_ROOM: '2' });
  });

  after(async () => {
    for (const room of openRooms) room.close();
    await server?.close();
  });

  test('a room has no router until someone needs media; then exactly one, however many ask', async () => {
    const roomId = newRoomId('same');
    const routersBefore = await totalRouters();
    const rooms = Array.from({ length: 8 }, () => server.app.rooms.getOrCreate(roomId));
    openRooms.push(...rooms);
    const [first] = rooms;
    assert.ok(first);
    for (const room of rooms) assert.equal(room, first);
    assert.equal(first.id, roomId);
    assert.equal(first.closed, false);
    assert.equal(await totalRouters(), routersBefore, 'opening a room makes no router');
    assert.equal(await first.currentMedia(), undefined);
    const medias = await Promise.all(Array.from({ length: 8 }, () => first.ensureMedia()));
    for (const media of medias) assert.equal(media, medias[0]);
    assert.equal(await totalRouters(), routersBefore + 1, 'one router for the room');
    assert.equal(server.app.rooms.list().filter((r) => r.id === roomId).length, 1);
    // And later calls find it too.
    assert.equal(server.app.rooms.getOrCreate(roomId), first);
    first.close();
    await waitUntil('the router to close', async () => (await totalRouters()) === routersBefore);
  });

  test('a room closes and leaves the registry when its last peer disconnects', async () => {
    const roomId = newRoomId('last');
    const room = await getRoom(roomId);
    let closeEvents = 0;
    room.on('close', () => closeEvents++);

    const alice = await join(room, 'alice', 'Alice');
    const bob = await join(room, 'bob', 'Bob');
    const transport = await bob.ok('createWebRtcTransport', { direction: 'recv' });
    const bobsTransport = room.participants.get('bob')?.transports.get(transport.id as string);
    const media = await room.currentMedia();
    assert.ok(media, 'the first transport made the room its router');
    assert.ok(bobsTransport);
    assert.deepEqual(alice.notifications('peerJoined'), [await joinedInfo('bob', 'Bob')]);
    assert.deepEqual(alice.notifications('peerStatus'), [{ peerId: 'bob', status: 'call', inCall: true }]);
    assert.deepEqual(new Set(room.participants.keys()), new Set(['alice', 'bob']));

    alice.close();
    assert.equal(room.participants.has('alice'), false);
    assert.equal(room.closed, false, 'one peer is left');
    assert.deepEqual(bob.notifications('peerLeft'), [{ peerId: 'alice' }]);
    assert.ok(server.app.rooms.list().includes(room));

    bob.close();
    assert.equal(room.closed, true);
    assert.equal(closeEvents, 1);
    assert.equal(room.participants.size, 0);
    assert.equal(homeOf(media).router.closed, true);
    assert.equal(bobsTransport.closed, true, "the last peer's transports were closed");
    assert.equal(server.app.rooms.list().includes(room), false);

    const again = await getRoom(roomId);
    assert.notEqual(again, room, 'a new room is made for the same id');
    assert.equal(again.closed, false);
    assert.notEqual(homeOf(await again.ensureMedia()).id, homeOf(media).router.id);
    again.close();
  });

  test('a peer that never joined also closes the room when it disconnects', async () => {
    const room = await getRoom(newRoomId('lurker'));
    const lurker = await connect(room, 'lurker');
    assert.ok(await lurker.ok('getRouterRtpCapabilities'));
    lurker.close();
    assert.equal(room.closed, true);
    assert.equal(server.app.rooms.list().includes(room), false);
  });

  test('rooms on different ids have different routers, spread over the workers', async () => {
    const routersBefore = (await server.app.pool.health()).map((w) => w.routers);
    assert.deepEqual(routersBefore, [0, 0], 'earlier tests closed their rooms');
    const a = await getRoom(newRoomId('a'));
    const b = await getRoom(newRoomId('b'));
    assert.notEqual(a, b);
    const [mediaA, mediaB] = [await a.ensureMedia(), await b.ensureMedia()];
    assert.notEqual(homeOf(mediaA).id, homeOf(mediaB).id);
    assert.notEqual(
      homeOf(mediaA).workerIndex,
      homeOf(mediaB).workerIndex,
      'the least loaded worker is chosen',
    );
    assert.deepEqual(
      (await server.app.pool.health()).map((w) => w.routers),
      [1, 1],
    );
    // Participants of one room are not visible in the other.
    const alice = await join(a, 'alice', 'Alice');
    await join(b, 'bob', 'Bob');
    assert.deepEqual(alice.notifications('peerJoined'), []);
    assert.deepEqual(
      a.joinedParticipants().map((p) => p.id),
      ['alice'],
    );
    assert.deepEqual(
      b.joinedParticipants().map((p) => p.id),
      ['bob'],
    );
    a.close();
    b.close();
  });

  test('notifications go to joined peers only, never back to the sender', async () => {
    const room = await getRoom(newRoomId('broadcast'));
    const alice = await join(room, 'alice', 'Alice');
    const watcher = await connect(room, 'watcher');
    const bob = await join(room, 'bob', 'Bob');
    assert.deepEqual(alice.notifications('peerJoined'), [await joinedInfo('bob', 'Bob')]);
    assert.deepEqual(watcher.notifications('peerJoined'), [], 'not joined: not told');
    assert.deepEqual(bob.notifications('peerJoined'), [], 'not told about itself');
    const joinResponse = bob.sent.find((m) => m.response && m.id === 1)?.data as { peers: unknown[] };
    assert.deepEqual(joinResponse.peers, [{ ...(await joinedInfo('alice', 'Alice')), producers: [] }]);
    room.close();
    assert.equal(alice.closed && bob.closed && watcher.closed, true, 'closing the room closes every peer');
  });

  test('a full room refuses a join (429) without counting the refused peer', async () => {
    const room = await getRoom(newRoomId('full'));
    assert.equal(room.maxParticipants, 2);
    await join(room, 'one', 'One');
    await join(room, 'two', 'Two');
    const three = await connect(room, 'three');
    const response = await three.request('join', {
      displayName: 'Three',
      rtpCapabilities: room.rtpCapabilities,
    });
    assert.equal(response.ok, undefined);
    assert.equal(response.errorCode, 429);
    assert.match(String(response.errorReason), /room is full \(2 participants\)/);
    assert.equal(room.participants.get('three')?.joined, false);
    assert.equal(room.joinedParticipants().length, 2);
    room.close();
  });

  test('connecting to a closed room closes the transport at once', async () => {
    const room = await getRoom(newRoomId('closed'));
    room.close();
    const late = new FakeTransport();
    room.connect('late', late, await identityOf('late'));
    assert.equal(late.closed, true);
    assert.equal(room.participants.size, 0);
  });

  test('closeAll closes every open room', async () => {
    const rooms = [await getRoom(newRoomId('all')), await getRoom(newRoomId('all'))];
    for (const room of rooms) await room.ensureMedia();
    server.app.rooms.closeAll();
    for (const room of rooms) assert.equal(room.closed, true);
    assert.deepEqual(server.app.rooms.list(), []);
    await waitUntil('every router to close', async () => (await totalRouters()) === 0);
  });
});
