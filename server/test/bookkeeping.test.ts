// Room and peer bookkeeping, and configuration: loadConfig, peer/peer.ts with simple fakes,
// and RoomRegistry/Room on the real MediaWorkerPool (signaling through fake transports).
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import type { types } from 'mediasoup';
import type { Peer as ProtooPeer, ProtooTransport } from 'protoo-server';
import { detectAnnouncedAddress, loadConfig } from '../src/config.js';
import { closePeerMedia, createPeer, notify, peerInfo, peerStatus } from '../src/peer/peer.js';
import type { Room } from '../src/room/room.js';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { waitUntil } from './support/raw-peer.js';

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

interface LogCall {
  level: string;
  args: unknown[];
}

function fakeLog(calls: LogCall[] = []): FastifyBaseLogger {
  const log: Record<string, unknown> = {};
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) {
    log[level] = (...args: unknown[]) => calls.push({ level, args });
  }
  log.child = () => log;
  log.level = 'trace';
  return log as unknown as FastifyBaseLogger;
}

function fakeProtooPeer(options: { closed?: boolean; fail?: boolean } = {}) {
  const sent: Array<[string, unknown]> = [];
  const protoo = {
    closed: options.closed ?? false,
    notify: (method: string, data: unknown) => {
      sent.push([method, data]);
      return options.fail ? Promise.reject(new Error('socket gone')) : Promise.resolve();
    },
  };
  return { protoo: protoo as unknown as ProtooPeer, sent };
}

function fakeTransport(id: string) {
  const transport = {
    id,
    closed: false,
    close() {
      transport.closed = true;
    },
  };
  return transport;
}

const someone = { id: '7a0c1f2e-1111-4222-8333-944455556666', displayName: 'Someone' };

describe('peer bookkeeping', () => {
  test('createPeer starts not joined with empty maps', () => {
    const { protoo } = fakeProtooPeer();
    const log = fakeLog();
    const peer = createPeer('p1', protoo, log, someone);
    assert.equal(peer.id, 'p1');
    assert.equal(peer.protoo, protoo);
    assert.equal(peer.log, log);
    assert.equal(peer.identity, someone);
    assert.equal(peer.joined, false);
    assert.equal(peer.away, false);
    assert.equal(peer.displayName, undefined);
    assert.equal(peer.rtpCapabilities, undefined);
    assert.equal(peer.transports.size, 0);
    assert.equal(peer.producers.size, 0);
    assert.equal(peer.consumers.size, 0);
    const other = createPeer('p2', protoo, log, someone);
    assert.notEqual(other.transports, peer.transports, 'maps are not shared between peers');
  });

  test('peerInfo describes the peer and its producers', () => {
    const peer = createPeer('p1', fakeProtooPeer().protoo, fakeLog(), someone);
    assert.deepEqual(peerInfo(peer), {
      id: 'p1',
      identityId: someone.id,
      displayName: '',
      status: 'text',
      inCall: false,
      producers: [],
    });
    peer.displayName = 'Alice';
    peer.transports.set('t1', fakeTransport('t1') as unknown as types.WebRtcTransport);
    const producers = [
      { id: 'a1', kind: 'audio', paused: true, appData: { source: 'mic' } },
      { id: 'v1', kind: 'video', paused: false, appData: { source: 'webcam' } },
    ];
    for (const producer of producers) {
      peer.producers.set(producer.id, producer as never);
    }
    assert.deepEqual(peerInfo(peer), {
      id: 'p1',
      identityId: someone.id,
      displayName: 'Alice',
      status: 'call',
      inCall: true,
      producers: [
        { id: 'a1', kind: 'audio', source: 'mic', paused: true },
        { id: 'v1', kind: 'video', source: 'webcam', paused: false },
      ],
    });
  });

  test('peerStatus: away wins, else in the call with transports, else text', () => {
    const peer = createPeer('p1', fakeProtooPeer().protoo, fakeLog(), someone);
    assert.equal(peerStatus(peer), 'text');
    peer.transports.set('t1', fakeTransport('t1') as unknown as types.WebRtcTransport);
    assert.equal(peerStatus(peer), 'call');
    peer.away = true;
    assert.equal(peerStatus(peer), 'away');
    assert.equal(peerInfo(peer).inCall, true, 'away but still in the call');
    peer.transports.clear();
    assert.equal(peerStatus(peer), 'away');
    peer.away = false;
    assert.equal(peerStatus(peer), 'text');
  });

  test('closePeerMedia closes every transport and clears the maps', () => {
    const peer = createPeer('p1', fakeProtooPeer().protoo, fakeLog(), someone);
    const transports = [fakeTransport('t1'), fakeTransport('t2')];
    for (const t of transports) peer.transports.set(t.id, t as unknown as types.WebRtcTransport);
    peer.producers.set('pr', {} as never);
    peer.consumers.set('co', {} as never);
    closePeerMedia(peer);
    assert.deepEqual(
      transports.map((t) => t.closed),
      [true, true],
    );
    assert.equal(peer.transports.size, 0);
    assert.equal(peer.producers.size, 0);
    assert.equal(peer.consumers.size, 0);
    closePeerMedia(peer); // idempotent
  });

  test('notify sends to an open peer, skips a closed one, and swallows a failed send', async () => {
    const open = fakeProtooPeer();
    notify(createPeer('p1', open.protoo, fakeLog(), someone), 'peerLeft', { peerId: 'x' });
    assert.deepEqual(open.sent, [['peerLeft', { peerId: 'x' }]]);

    const closed = fakeProtooPeer({ closed: true });
    notify(createPeer('p2', closed.protoo, fakeLog(), someone), 'peerLeft', { peerId: 'x' });
    assert.deepEqual(closed.sent, []);

    const failing = fakeProtooPeer({ fail: true });
    const calls: LogCall[] = [];
    notify(createPeer('p3', failing.protoo, fakeLog(calls), someone), 'roomReset', { reason: 'test' });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(failing.sent.length, 1);
    assert.deepEqual(
      calls.map((c) => [c.level, c.args[1]]),
      [['debug', 'notification not sent']],
    );
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
    const room = await server.app.rooms.getOrCreate(roomId);
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
    await transport.ok('join', { displayName, rtpCapabilities: room.router.rtpCapabilities });
    return transport;
  }

  /** What the others are told when `peerId` joins (before it has media). */
  async function joinedInfo(peerId: string, displayName: string) {
    const identityId = (await identityOf(peerId)).id;
    return { id: peerId, identityId, displayName, status: 'text', inCall: false };
  }

  before(async () => {
    server = await startServer({ MAX_PEERS_PER_ROOM: '2' });
  });

  after(async () => {
    for (const room of openRooms) room.close();
    await server?.close();
  });

  test('concurrent getOrCreate of the same room id returns the same Room and makes one router', async () => {
    const roomId = newRoomId('same');
    const routersBefore = await totalRouters();
    const rooms = await Promise.all(Array.from({ length: 8 }, () => server.app.rooms.getOrCreate(roomId)));
    openRooms.push(...rooms);
    const [first] = rooms;
    assert.ok(first);
    for (const room of rooms) assert.equal(room, first);
    assert.equal(first.id, roomId);
    assert.equal(first.closed, false);
    assert.equal(await totalRouters(), routersBefore + 1, 'one router for the room');
    assert.equal((await server.app.rooms.list()).filter((r) => r.id === roomId).length, 1);
    // And later calls find it too.
    assert.equal(await server.app.rooms.getOrCreate(roomId), first);
    first.close();
    assert.equal(await totalRouters(), routersBefore, 'its router was closed with it');
  });

  test('a room closes and leaves the registry when its last peer disconnects', async () => {
    const roomId = newRoomId('last');
    const room = await getRoom(roomId);
    let closeEvents = 0;
    room.on('close', () => closeEvents++);

    const alice = await join(room, 'alice', 'Alice');
    const bob = await join(room, 'bob', 'Bob');
    const transport = await bob.ok('createWebRtcTransport', { direction: 'recv' });
    const bobsTransport = room.peers.get('bob')?.transports.get(transport.id as string);
    assert.ok(bobsTransport);
    assert.deepEqual(alice.notifications('peerJoined'), [await joinedInfo('bob', 'Bob')]);
    assert.deepEqual(alice.notifications('peerStatus'), [{ peerId: 'bob', status: 'call', inCall: true }]);
    assert.deepEqual(new Set(room.peers.keys()), new Set(['alice', 'bob']));

    alice.close();
    assert.equal(room.peers.has('alice'), false);
    assert.equal(room.closed, false, 'one peer is left');
    assert.deepEqual(bob.notifications('peerLeft'), [{ peerId: 'alice' }]);
    assert.ok((await server.app.rooms.list()).includes(room));

    bob.close();
    assert.equal(room.closed, true);
    assert.equal(closeEvents, 1);
    assert.equal(room.peers.size, 0);
    assert.equal(room.router.closed, true);
    assert.equal(bobsTransport.closed, true, "the last peer's transports were closed");
    assert.equal((await server.app.rooms.list()).includes(room), false);

    const again = await getRoom(roomId);
    assert.notEqual(again, room, 'a new room is made for the same id');
    assert.equal(again.closed, false);
    assert.notEqual(again.router.id, room.router.id);
    again.close();
  });

  test('a peer that never joined also closes the room when it disconnects', async () => {
    const room = await getRoom(newRoomId('lurker'));
    const lurker = await connect(room, 'lurker');
    assert.ok(await lurker.ok('getRouterRtpCapabilities'));
    lurker.close();
    assert.equal(room.closed, true);
    assert.equal((await server.app.rooms.list()).includes(room), false);
  });

  test('rooms on different ids have different routers, spread over the workers', async () => {
    const routersBefore = (await server.app.pool.health()).map((w) => w.routers);
    assert.deepEqual(routersBefore, [0, 0], 'earlier tests closed their rooms');
    const a = await getRoom(newRoomId('a'));
    const b = await getRoom(newRoomId('b'));
    assert.notEqual(a, b);
    assert.notEqual(a.router.id, b.router.id);
    assert.notEqual(a.workerIndex, b.workerIndex, 'the least loaded worker is chosen');
    assert.deepEqual(
      (await server.app.pool.health()).map((w) => w.routers),
      [1, 1],
    );
    // Peers of one room are not visible in the other.
    const alice = await join(a, 'alice', 'Alice');
    await join(b, 'bob', 'Bob');
    assert.deepEqual(alice.notifications('peerJoined'), []);
    assert.deepEqual(
      a.joinedPeers().map((p) => p.id),
      ['alice'],
    );
    assert.deepEqual(
      b.joinedPeers().map((p) => p.id),
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
    assert.equal(room.maxPeers, 2);
    await join(room, 'one', 'One');
    await join(room, 'two', 'Two');
    const three = await connect(room, 'three');
    const response = await three.request('join', {
      displayName: 'Three',
      rtpCapabilities: room.router.rtpCapabilities,
    });
    assert.equal(response.ok, undefined);
    assert.equal(response.errorCode, 429);
    assert.match(String(response.errorReason), /room is full \(2 participants\)/);
    assert.equal(room.peers.get('three')?.joined, false);
    assert.equal(room.joinedPeers().length, 2);
    room.close();
  });

  test('connecting to a closed room closes the transport at once', async () => {
    const room = await getRoom(newRoomId('closed'));
    room.close();
    const late = new FakeTransport();
    room.connect('late', late, await identityOf('late'));
    assert.equal(late.closed, true);
    assert.equal(room.peers.size, 0);
  });

  test('closeAll closes every open room', async () => {
    const rooms = [await getRoom(newRoomId('all')), await getRoom(newRoomId('all'))];
    await server.app.rooms.closeAll();
    for (const room of rooms) assert.equal(room.closed, true);
    assert.deepEqual(await server.app.rooms.list(), []);
    assert.equal(await totalRouters(), 0);
  });
});
