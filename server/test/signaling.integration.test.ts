// The real server with real mediasoup workers, spoken to in raw protoo JSON over `ws`: a valid
// flow, then malformed and unauthorised requests, each answered with an error response and
// a reason, after which the server and the connection still work.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requests } from '@meet/protocol';
import { createIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import {
  RawPeer,
  assertErrorResponse,
  clientDtlsParameters,
  framesAfterEagerUpgrade,
  opusRtpParameters,
  refusedUpgrade,
  waitUntil,
} from './support/raw-peer.js';
import { homeOf } from './support/room-media.js';

const MAX_PEERS = 2;

let server: TestServer;
const peers: RawPeer[] = [];
let caps: Record<string, unknown>;
let roomCounter = 0;

/** A fresh room id per test. */
const newRoomId = (label: string) => `${label}-${process.pid}-${++roomCounter}`;

/** A peer of `roomId` with a new identity (the cookie a browser gets from POST /api/identity). */
async function connect(roomId: string, displayName = 'Someone'): Promise<RawPeer> {
  const peer = await RawPeer.connect(server, roomId, displayName);
  peers.push(peer);
  return peer;
}

interface Joined {
  peer: RawPeer;
  peerId: string;
  identityId: string;
  joinPeers: Array<Record<string, unknown>>;
}

async function joinAs(roomId: string, displayName: string): Promise<Joined> {
  const peer = await connect(roomId, displayName);
  const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
  const joined = await peer.ok<{ peerId: string; identityId: string; peers: Joined['joinPeers'] }>('join', {
    displayName,
    rtpCapabilities,
  });
  assert.equal(joined.identityId, peer.identity?.id, 'joined as the identity of the cookie');
  return { peer, peerId: joined.peerId, identityId: joined.identityId, joinPeers: joined.peers };
}

async function createTransport(peer: RawPeer, direction: 'send' | 'recv'): Promise<string> {
  const data = await peer.ok<{ id: string }>('createWebRtcTransport', { direction });
  return data.id;
}

async function roomOf(roomId: string) {
  const room = (await server.app.rooms.list()).find((r) => r.id === roomId);
  assert.ok(room, `room ${roomId} is open on the server`);
  return room;
}

async function health(): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}/api/health`);
  return { status: response.status, body: await response.json() };
}

before(async () => {
  server = await startServer({ MAX_PEERS_PER_ROOM: String(MAX_PEERS) });
  caps = await (await connect('caps-probe')).ok('getRouterRtpCapabilities', {});
});

after(async () => {
  await Promise.all(peers.map((peer) => peer.close()));
  await server?.close();
});

describe('a valid flow', () => {
  test('one peer: router capabilities, join, send and recv transports, DTLS connect', async () => {
    const roomId = newRoomId('flow');
    const peer = await connect(roomId);

    const capabilities = await peer.ok('getRouterRtpCapabilities', {});
    assert.ok(requests.getRouterRtpCapabilities.response.safeParse(capabilities).success);
    const mimeTypes = (capabilities.codecs as Array<{ mimeType: string }>).map((c) =>
      c.mimeType.toLowerCase(),
    );
    assert.ok(mimeTypes.includes('audio/opus'), mimeTypes.join());
    assert.ok(mimeTypes.includes('video/vp8'), mimeTypes.join());

    const join = await peer.ok<{ peerId: string; identityId: string; peers: unknown[] }>('join', {
      displayName: '  Alice  ',
      rtpCapabilities: capabilities,
    });
    assert.ok(requests.join.response.safeParse(join).success, JSON.stringify(join));
    assert.deepEqual(join.peers, [], 'first in the room');
    assert.equal(join.identityId, peer.identity?.id);
    const room = await roomOf(roomId);
    const serverPeer = room.participants.get(join.peerId);
    assert.ok(serverPeer, 'the server knows the peer by the id it returned');
    assert.equal(serverPeer.joined, true);
    assert.equal(serverPeer.displayName, 'Alice', 'display name trimmed');

    assert.equal(await room.currentMedia(), undefined, 'no router before the first transport');
    const transports: Record<string, string> = {};
    for (const direction of ['send', 'recv'] as const) {
      const transport = await peer.ok<{
        id: string;
        iceParameters: { usernameFragment: string; password: string };
        iceCandidates: Array<{ address: string; port: number; protocol: string }>;
        dtlsParameters: { fingerprints: unknown[] };
        iceServers: unknown[];
      }>('createWebRtcTransport', { direction });
      assert.ok(
        requests.createWebRtcTransport.response.safeParse(transport).success,
        JSON.stringify(transport),
      );
      assert.ok(transport.iceParameters.usernameFragment && transport.iceParameters.password);
      assert.ok(transport.iceCandidates.length > 0);
      const media = await room.currentMedia();
      assert.ok(media, 'the first transport made the router');
      const port = (await server.app.pool.health()).find((w) => w.index === homeOf(media).workerIndex)?.port;
      for (const candidate of transport.iceCandidates) {
        assert.equal(candidate.address, '127.0.0.1', 'announced address');
        assert.equal(candidate.port, port, "the port of the room's worker WebRtcServer");
      }
      assert.deepEqual(new Set(transport.iceCandidates.map((c) => c.protocol)), new Set(['udp', 'tcp']));
      assert.ok(transport.dtlsParameters.fingerprints.length > 0);
      assert.deepEqual(transport.iceServers, [], 'no TURN configured');
      transports[direction] = transport.id;
    }
    assert.notEqual(transports.send, transports.recv);
    assert.deepEqual(new Set(serverPeer.transports.keys()), new Set(Object.values(transports)));
    assert.equal(serverPeer.transports.get(transports.send as string)?.appData.direction, 'send');

    const connected = await peer.ok('connectWebRtcTransport', {
      transportId: transports.send,
      dtlsParameters: clientDtlsParameters(),
    });
    assert.deepEqual(connected, {});
    // The client said it is the DTLS client: the server side took the server role.
    assert.equal(serverPeer.transports.get(transports.send as string)?.dtlsParameters.role, 'server');
    assert.equal(serverPeer.transports.get(transports.recv as string)?.dtlsParameters.role, 'auto');

    const restarted = await peer.ok<{ iceParameters: { usernameFragment: string } }>('restartIce', {
      transportId: transports.recv,
    });
    assert.ok(restarted.iceParameters.usernameFragment);
  });

  test('two peers: join notifications, produce, consume, resume, leave', async () => {
    const roomId = newRoomId('pair');
    const alice = await joinAs(roomId, 'Alice');
    const bob = await joinAs(roomId, 'Bob');

    assert.notEqual(alice.identityId, bob.identityId);
    assert.deepEqual(bob.joinPeers, [
      {
        id: alice.peerId,
        identityId: alice.identityId,
        displayName: 'Alice',
        status: 'text',
        inCall: false,
        role: 'host',
        producers: [],
      },
    ]);
    const joined = await alice.peer.nextNotification('peerJoined');
    assert.deepEqual(joined.data, {
      id: bob.peerId,
      identityId: bob.identityId,
      displayName: 'Bob',
      status: 'text',
      inCall: false,
      role: 'member',
    });

    const aliceSend = await createTransport(alice.peer, 'send');
    assert.deepEqual((await bob.peer.nextNotification('peerStatus')).data, {
      peerId: alice.peerId,
      status: 'call',
      inCall: true,
    });
    const produced = await alice.peer.ok<{ id: string }>('produce', {
      transportId: aliceSend,
      kind: 'audio',
      rtpParameters: opusRtpParameters(),
      source: 'mic',
    });
    assert.ok(produced.id);
    const announced = await bob.peer.nextNotification('newProducer');
    assert.deepEqual(announced.data, {
      peerId: alice.peerId,
      id: produced.id,
      kind: 'audio',
      source: 'mic',
      paused: false,
    });

    const bobRecv = await createTransport(bob.peer, 'recv');
    const consumer = await bob.peer.ok<{ id: string; producerPaused: boolean }>('consume', {
      transportId: bobRecv,
      producerId: produced.id,
    });
    assert.ok(requests.consume.response.safeParse(consumer).success, JSON.stringify(consumer));
    assert.equal((consumer as unknown as { peerId: string }).peerId, alice.peerId);
    const serverBob = (await roomOf(roomId)).participants.get(bob.peerId);
    assert.equal(serverBob?.consumers.get(consumer.id)?.paused, true, 'consumers start paused');
    assert.deepEqual(await bob.peer.ok('resumeConsumer', { consumerId: consumer.id }), {});
    assert.equal(serverBob?.consumers.get(consumer.id)?.paused, false);
    // Asked again (an answer lost to a timeout): the same consumer, not a second one; on
    // another receive transport, refused.
    const again = await bob.peer.ok<{ id: string }>('consume', {
      transportId: bobRecv,
      producerId: produced.id,
    });
    assert.equal(again.id, consumer.id);
    assert.equal(serverBob?.consumers.size, 1);
    const otherRecv = (await bob.peer.ok<{ id: string }>('createWebRtcTransport', { direction: 'recv' })).id;
    await bob.peer.fails(
      'consume',
      { transportId: otherRecv, producerId: produced.id },
      409,
      /already consuming producer .* on transport/,
    );

    await alice.peer.ok('pauseProducer', { producerId: produced.id });
    assert.deepEqual((await bob.peer.nextNotification('producerPaused')).data, {
      peerId: alice.peerId,
      producerId: produced.id,
    });

    const left = bob.peer.nextNotification('peerLeft');
    assert.deepEqual(await alice.peer.ok('closeProducer', { producerId: produced.id }), {});
    const closed = await bob.peer.nextNotification('consumerClosed');
    assert.deepEqual(closed.data, { consumerId: consumer.id, producerId: produced.id });

    assert.deepEqual(await alice.peer.ok('leave', {}), {});
    const { code } = await alice.peer.waitClosed();
    assert.equal(code, 4000, 'closed by the server after leave');
    assert.deepEqual((await left).data, { peerId: alice.peerId });
    assert.equal((await roomOf(roomId)).participants.has(alice.peerId), false);
  });
});

describe('disconnections', () => {
  test('a peer that leaves is announced as left, once', async () => {
    const roomId = newRoomId('bye');
    const stay = await joinAs(roomId, 'Stay');
    const go = await joinAs(roomId, 'Go');
    go.peer.ws.terminate();
    assert.deepEqual((await stay.peer.nextNotification('peerLeft')).data, { peerId: go.peerId });
    await waitUntil(
      'the server to drop the peer',
      async () => !(await roomOf(roomId)).participants.has(go.peerId),
    );
    await stay.peer.ok('getRouterRtpCapabilities', {});
    assert.equal(stay.peer.notifications('peerLeft').length, 1);
  });

  test('a peer that disconnects while its join is being stored is never announced', async () => {
    const roomId = newRoomId('ghost');
    const stay = await joinAs(roomId, 'Stay');
    const ghost = await connect(roomId, 'Ghost');
    const join = {
      request: true,
      id: 1,
      method: 'join',
      data: { displayName: 'Ghost', rtpCapabilities: caps },
    };
    await new Promise<void>((resolve, reject) =>
      ghost.ws.send(JSON.stringify(join), (error) => (error ? reject(error) : resolve())),
    );
    ghost.ws.terminate();
    const room = await roomOf(roomId);
    await waitUntil('the server to drop the disconnected peer', () => room.participants.size === 1);
    // Let the join in flight finish (its membership is stored), then flush the other peer's
    // socket with a round trip.
    const db = server.app.database.prisma;
    const identityId = ghost.identity?.id as string;
    await waitUntil('the membership of the disconnected peer to be stored', () =>
      db.membership.findUnique({ where: { roomId_identityId: { roomId, identityId } } }),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await stay.peer.ok('getRouterRtpCapabilities', {});
    const joined = stay.peer.notifications('peerJoined').length;
    const left = stay.peer.notifications('peerLeft').length;
    assert.equal(
      joined,
      left,
      `told of ${joined} arrival(s) and ${left} departure(s): a ghost stays in the call`,
    );
  });
});

describe('malformed and unauthorised requests', () => {
  let victim: Joined;
  let victimRoom: string;

  before(async () => {
    victimRoom = newRoomId('victim');
    victim = await joinAs(victimRoom, 'Victim');
  });

  test('a frame that is not JSON gets a 400 response with id null', async () => {
    victim.peer.sendRaw('{"request":true,"id":1,');
    const response = await victim.peer.nextResponse(null);
    assertErrorResponse(response, 400, /^invalid JSON/);
    victim.peer.sendRaw('not json at all');
    assertErrorResponse(await victim.peer.nextResponse(null), 400, /^invalid JSON/);
  });

  test('a JSON array, a JSON string and null get a 400 response with id null', async () => {
    for (const frame of ['[{"request":true,"id":1,"method":"join","data":{}}]', '"hello"', 'null', '42']) {
      victim.peer.sendRaw(frame);
      assertErrorResponse(
        await victim.peer.nextResponse(null),
        400,
        /not a protoo request, response or notification/,
      );
    }
  });

  test('a malformed envelope with a numeric id is answered on that id', async () => {
    victim.peer.sendRaw(JSON.stringify({ request: true, id: 9001, method: 42 }));
    assertErrorResponse(await victim.peer.nextResponse(9001), 400, /not a protoo request/);
  });

  test('a binary frame gets a 400 response', async () => {
    victim.peer.sendRaw(Buffer.from(JSON.stringify({ request: true, id: 9002, method: 'leave', data: {} })));
    assertErrorResponse(await victim.peer.nextResponse(null), 400, /binary frames are not supported/);
  });

  test('a socket that keeps sending invalid frames is closed (4008) once past their own limit', async () => {
    const spammer = await joinAs(newRoomId('invalid-frames'), 'Spammer');
    // 50 refused frames are answered (the burst); the ones after close the socket.
    for (let i = 0; i < 80; i++) spammer.peer.sendRaw(`not json ${i}`);
    const { code, reason } = await spammer.peer.waitClosed();
    assert.equal(code, 4008);
    assert.match(reason, /too many invalid frames/);
    assert.equal(victim.peer.isOpen, true, 'others are untouched');
  });

  test('an unknown method gets 400 naming the method', async () => {
    await victim.peer.fails('explode', {}, 400, /unknown method "explode"/);
    await victim.peer.fails('__proto__', {}, 400, /unknown method "__proto__"/);
    await victim.peer.fails('toString', {}, 400, /unknown method "toString"/);
  });

  test('wrong types get 400 naming the field', async () => {
    await victim.peer.fails('join', { displayName: 42, rtpCapabilities: caps }, 400, /displayName/);
    await victim.peer.fails('createWebRtcTransport', { direction: 5 }, 400, /direction/);
    await victim.peer.fails('consume', { transportId: ['x'], producerId: 'p' }, 400, /transportId/);
    await victim.peer.fails(
      'getRouterRtpCapabilities',
      'all of them',
      400,
      /invalid getRouterRtpCapabilities/,
    );
  });

  test('extra fields get 400 (request schemas are strict)', async () => {
    await victim.peer.fails('getRouterRtpCapabilities', { verbose: true }, 400, /verbose/);
    await victim.peer.fails('createWebRtcTransport', { direction: 'send', port: 1 }, 400, /port/);
    await victim.peer.fails('resumeConsumer', { consumerId: 'c', all: true }, 400, /all/);
  });

  test('missing fields get 400 naming them', async () => {
    await victim.peer.fails('connectWebRtcTransport', {}, 400, /transportId.*dtlsParameters/);
    await victim.peer.fails('consume', { transportId: 't' }, 400, /producerId/);
    await victim.peer.fails(
      'produce',
      { transportId: 't', kind: 'audio', source: 'mic' },
      400,
      /rtpParameters/,
    );
  });

  test('a valid request for an id this peer does not own gets 404', async () => {
    await victim.peer.fails('pauseProducer', { producerId: 'nope' }, 404, /producer nope/);
    await victim.peer.fails('resumeConsumer', { consumerId: 'nope' }, 404, /consumer nope/);
    await victim.peer.fails('restartIce', { transportId: 'nope' }, 404, /transport nope/);
  });

  test('connecting a transport twice gets 400 "already connected"', async () => {
    const send = await createTransport(victim.peer, 'send');
    await victim.peer.ok('connectWebRtcTransport', {
      transportId: send,
      dtlsParameters: clientDtlsParameters(4),
    });
    await victim.peer.fails(
      'connectWebRtcTransport',
      { transportId: send, dtlsParameters: clientDtlsParameters(5) },
      400,
      /already connected/,
    );
  });

  test('joining twice gets 409', async () => {
    await victim.peer.fails('join', { displayName: 'Again', rtpCapabilities: caps }, 409, /already joined/);
  });

  test('requests before join get 403; capabilities may be asked before join', async () => {
    const roomId = newRoomId('early');
    const early = await connect(roomId);
    await early.fails(
      'createWebRtcTransport',
      { direction: 'send' },
      403,
      /join the room before createWebRtcTransport/,
    );
    await early.fails('consume', { transportId: 't', producerId: 'p' }, 403, /join the room before consume/);
    await early.fails(
      'produce',
      { transportId: 't', kind: 'audio', rtpParameters: opusRtpParameters(), source: 'mic' },
      403,
      /join the room before produce/,
    );
    await early.fails('resumeConsumer', { consumerId: 'c' }, 403, /join the room before resumeConsumer/);
    // Validation comes first: a malformed request is a 400 even before join.
    await early.fails('createWebRtcTransport', { direction: 'up' }, 400, /direction/);
    const room = await roomOf(roomId);
    assert.equal(room.joinedParticipants().length, 0);
    for (const peer of room.participants.values())
      assert.equal(peer.transports.size, 0, 'nothing was created');
    assert.ok(await early.ok('getRouterRtpCapabilities', {}));
    await early.ok('join', { displayName: 'Late', rtpCapabilities: caps });
    await early.ok('createWebRtcTransport', { direction: 'send' });
  });

  test("the transport id of another peer gets 404 for connect, produce and consume; the owner's is untouched", async () => {
    const roomId = newRoomId('theft');
    const owner = await joinAs(roomId, 'Owner');
    const thief = await joinAs(roomId, 'Thief');
    const ownerSend = await createTransport(owner.peer, 'send');
    const ownerRecv = await createTransport(owner.peer, 'recv');
    const thiefSend = await createTransport(thief.peer, 'send');
    const thiefRecv = await createTransport(thief.peer, 'recv');
    const producer = await owner.peer.ok<{ id: string }>('produce', {
      transportId: ownerSend,
      kind: 'audio',
      rtpParameters: opusRtpParameters(22_222_222),
      source: 'mic',
    });

    await thief.peer.fails(
      'connectWebRtcTransport',
      { transportId: ownerSend, dtlsParameters: clientDtlsParameters(1) },
      404,
      /not one of this participant's transports/,
    );
    await thief.peer.fails(
      'produce',
      { transportId: ownerSend, kind: 'audio', rtpParameters: opusRtpParameters(33_333_333), source: 'mic' },
      404,
      /not one of this participant's transports/,
    );
    await thief.peer.fails(
      'consume',
      { transportId: ownerRecv, producerId: producer.id },
      404,
      /not one of this participant's transports/,
    );
    await thief.peer.fails(
      'restartIce',
      { transportId: ownerRecv },
      404,
      /not one of this participant's transports/,
    );
    await thief.peer.fails(
      'closeProducer',
      { producerId: producer.id },
      404,
      /not one of this participant's producers/,
    );

    const room = await roomOf(roomId);
    const serverOwner = room.participants.get(owner.peerId);
    const serverThief = room.participants.get(thief.peerId);
    assert.equal(serverThief?.producers.size, 0);
    assert.equal(serverThief?.consumers.size, 0);
    assert.equal(serverOwner?.producers.get(producer.id)?.closed, false);
    assert.equal(
      serverOwner?.transports.get(ownerSend)?.dtlsParameters.role,
      'auto',
      "the owner's transport was not connected",
    );

    // The owner can still connect its transport; the thief can use its own.
    await owner.peer.ok('connectWebRtcTransport', {
      transportId: ownerSend,
      dtlsParameters: clientDtlsParameters(2),
    });
    await thief.peer.fails(
      'consume',
      { transportId: thiefSend, producerId: producer.id },
      400,
      /is a send transport/,
    );
    await thief.peer.ok('consume', { transportId: thiefRecv, producerId: producer.id });
    await owner.peer.fails(
      'consume',
      { transportId: ownerRecv, producerId: producer.id },
      403,
      /cannot consume its own producer/,
    );
  });

  test('consuming a producer that does not exist gets 404', async () => {
    const recv = await createTransport(victim.peer, 'recv');
    await victim.peer.fails(
      'consume',
      { transportId: recv, producerId: '00000000-0000-0000-0000-000000000000' },
      404,
      /producer 00000000-0000-0000-0000-000000000000 is not in this room/,
    );
  });

  test('a producer of another room cannot be consumed (404)', async () => {
    const other = await joinAs(newRoomId('elsewhere'), 'Elsewhere');
    const send = await createTransport(other.peer, 'send');
    const producer = await other.peer.ok<{ id: string }>('produce', {
      transportId: send,
      kind: 'audio',
      rtpParameters: opusRtpParameters(44_444_444),
      source: 'mic',
    });
    const recv = await createTransport(victim.peer, 'recv');
    await victim.peer.fails(
      'consume',
      { transportId: recv, producerId: producer.id },
      404,
      /not in this room/,
    );
  });

  test('a full room refuses one more join (429) and accepts it once someone left', async () => {
    const roomId = newRoomId('full');
    const first = await joinAs(roomId, 'One');
    await joinAs(roomId, 'Two');
    const third = await connect(roomId);
    await third.fails(
      'join',
      { displayName: 'Three', rtpCapabilities: caps },
      429,
      /room is full \(2 participants\)/,
    );
    const room = await roomOf(roomId);
    assert.equal(room.joinedParticipants().length, MAX_PEERS);
    assert.equal(room.participants.size, 3, 'the refused peer is still connected');
    // A round trip on the first peer's socket flushes any notification sent before it.
    await first.peer.ok('getRouterRtpCapabilities', {});
    assert.equal(first.peer.notifications('peerJoined').length, 1, 'nobody was told about the refused peer');

    await first.peer.ok('leave', {});
    await first.peer.waitClosed();
    await waitUntil(
      'the leaving peer to be removed',
      () => room.joinedParticipants().length === MAX_PEERS - 1,
    );
    await third.ok('join', { displayName: 'Three', rtpCapabilities: caps });
    assert.equal(room.joinedParticipants().length, MAX_PEERS);
  });

  test('after all of that the server is healthy and the connection still works', async () => {
    assert.deepEqual(await health(), { status: 200, body: { status: 'ok' } });
    const workers = await server.app.pool.health();
    assert.equal(workers.length, 2);
    assert.ok(workers.every((w) => w.alive));
    for (const pid of server.app.pool.pids())
      assert.doesNotThrow(() => process.kill(pid, 0), `worker ${pid} alive`);

    assert.equal(victim.peer.isOpen, true, 'the socket stayed open');
    const capabilities = await victim.peer.ok('getRouterRtpCapabilities', {});
    assert.ok(Array.isArray(capabilities.codecs));
    const send = await createTransport(victim.peer, 'send');
    await victim.peer.ok('connectWebRtcTransport', {
      transportId: send,
      dtlsParameters: clientDtlsParameters(3),
    });
    assert.equal((await roomOf(victimRoom)).joinedParticipants().length, 1);
  });
});

describe('the websocket upgrade', () => {
  const base = () => server.url.replace(/^http/, 'ws');
  let cookie: string;
  let identity: Awaited<ReturnType<typeof createIdentity>>;

  before(async () => {
    identity = await createIdentity(server.url, 'Upgrader');
    cookie = identity.cookie;
  });

  test('a bad room id is refused with HTTP 400 and the reason', async () => {
    for (const withCookie of [cookie, undefined]) {
      const refused = await refusedUpgrade(`${base()}/ws?roomId=BAD%20ID`, withCookie);
      assert.equal(refused.status, 400);
      assert.match(refused.body, /roomId/);
      assert.match(refused.body, /only a-z, 0-9 and inner dashes/);
    }
    assert.equal(
      (await server.app.rooms.list()).some((r) => r.id.toLowerCase().includes('bad')),
      false,
    );
  });

  test('a missing or empty room id is refused with HTTP 400', async () => {
    for (const path of ['/ws', '/ws?roomId=', '/ws?room=abc', `/ws?roomId=${'x'.repeat(65)}`]) {
      const refused = await refusedUpgrade(`${base()}${path}`, cookie);
      assert.equal(refused.status, 400, path);
      assert.match(refused.body, /roomId/, path);
    }
  });

  test('a socket without a valid identity cookie is refused with HTTP 401', async () => {
    const roomId = newRoomId('anonymous');
    for (const withCookie of [undefined, 'meet_identity=not-a-token', `meet_identity=${'A'.repeat(43)}`]) {
      const refused = await refusedUpgrade(server.wsUrl(roomId), withCookie);
      assert.equal(refused.status, 401, String(withCookie));
      assert.match(refused.body, /identity/);
    }
    assert.equal(
      (await server.app.rooms.list()).some((r) => r.id === roomId),
      false,
      'no room was made',
    );
  });

  test('a valid room id is upgraded', async () => {
    const peer = await RawPeer.open(server.wsUrl(newRoomId('ok')), identity);
    peers.push(peer);
    assert.equal(peer.ws.protocol, 'protoo');
    assert.ok(await peer.ok('getRouterRtpCapabilities', {}));
  });

  test('frames sent with the upgrade request to an existing room are answered', async () => {
    const roomId = newRoomId('eager-existing');
    await connect(roomId);
    const frame = JSON.stringify({ request: true, id: 1, method: 'getRouterRtpCapabilities', data: {} });
    const { status, messages } = await framesAfterEagerUpgrade(server, roomId, identity, [frame], 1000);
    assert.equal(status, 101);
    assert.deepEqual(
      messages.map((m) => [m.id, m.ok]),
      [[1, true]],
    );
  });

  test('frames sent with the upgrade request to a new room are answered', async () => {
    const frame = JSON.stringify({ request: true, id: 1, method: 'getRouterRtpCapabilities', data: {} });
    const { status, messages } = await framesAfterEagerUpgrade(
      server,
      newRoomId('eager-new'),
      identity,
      [frame],
      1000,
    );
    assert.equal(status, 101);
    assert.deepEqual(
      messages.map((m) => [m.id, m.ok]),
      [[1, true]],
      'the request was answered',
    );
  });

  test('many frames sent with the upgrade request are each answered, in order', async () => {
    const frames = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ request: true, id: i + 1, method: 'getRouterRtpCapabilities', data: {} }),
    );
    const { messages } = await framesAfterEagerUpgrade(
      server,
      newRoomId('eager-many'),
      identity,
      frames,
      1500,
    );
    const responses = messages.filter((m) => m.response);
    assert.deepEqual(
      responses.map((m) => [m.id, m.ok]),
      frames.map((_, i) => [i + 1, true]),
      'all answered, in the order sent',
    );
  });
});
