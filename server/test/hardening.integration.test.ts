// The real server (real mediasoup workers, real websockets) against clients that push it:
// requests pipelined past its caps, peers that vanish while their media is being made, a
// client that stops reading, half-open connections, sockets that never join, foreign
// origins, too many connections, requests or identities, reconnections that must replace
// their ghost, 120 people opening one new room at the same instant. Every refusal is a 4xx
// with a reason; nothing the server holds outlives its owner.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Participant } from '../src/participant/participant.js';
import type { Room } from '../src/room/room.js';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startServer, type StartOptions, type TestServer } from '../../tests/helpers/server.js';
import { assertRefusal, captureErrorLogs, tryUpgrade, vp8RtpParameters } from './support/hardening.js';
import {
  RawPeer,
  assertErrorResponse,
  clientDtlsParameters,
  opusRtpParameters,
  waitUntil,
  type ProtooNotification,
  type ProtooResponse,
} from './support/raw-peer.js';
import { homeOf } from './support/room-media.js';

const MiB = 1024 * 1024;
let roomCounter = 0;
/** A fresh room id per test. */
const newRoomId = (label: string) => `${label}-${process.pid}-${++roomCounter}`;

interface Joined {
  peer: RawPeer;
  peerId: string;
  peers: Array<{ id: string }>;
}

/** A server for one describe block (or the whole file), and the peers to close after it. */
class Fixture {
  readonly peers: RawPeer[] = [];
  #server: TestServer | undefined;
  #caps: Record<string, unknown> | undefined;

  constructor(env: Record<string, string>, options: StartOptions = {}) {
    before(async () => {
      this.#server = await startServer(env, options);
    });
    after(async () => {
      await Promise.all(this.peers.map((peer) => peer.close()));
      await this.#server?.close();
    });
  }

  get server(): TestServer {
    assert.ok(this.#server, 'the server is started');
    return this.#server;
  }

  /** A peer of `roomId`, attached to its room on the server (new identity unless given). */
  async connect(roomId: string, who: string | TestIdentity): Promise<RawPeer> {
    const peer = await RawPeer.connect(this.server, roomId, who);
    this.track(peer);
    return peer;
  }

  track(peer: RawPeer): RawPeer {
    // Sockets the server closes under a client that is writing may report an error.
    peer.ws.on('error', () => undefined);
    this.peers.push(peer);
    return peer;
  }

  async caps(): Promise<Record<string, unknown>> {
    if (this.#caps) return this.#caps;
    const probe = await this.connect(newRoomId('caps'), 'Probe');
    const caps = await probe.ok('getRouterRtpCapabilities', {});
    await probe.close();
    this.#caps = caps;
    return caps;
  }

  async join(roomId: string, who: string | TestIdentity): Promise<Joined> {
    const peer = await this.connect(roomId, who);
    const rtpCapabilities = await this.caps();
    const displayName = typeof who === 'string' ? who : who.displayName;
    const joined = await peer.ok<{ peerId: string; peers: Array<{ id: string }> }>('join', {
      displayName,
      rtpCapabilities,
    });
    return { peer, peerId: joined.peerId, peers: joined.peers };
  }

  room(roomId: string): Room {
    const room = this.server.app.rooms.get(roomId);
    assert.ok(room, `room ${roomId} is open on the server`);
    return room;
  }

  participant(roomId: string, peerId: string): Participant {
    const participant = this.room(roomId).participants.get(peerId);
    assert.ok(participant, `participant ${peerId} is in room ${roomId}`);
    return participant;
  }

  async routers(): Promise<number> {
    return (await this.server.app.pool.health()).reduce((sum, worker) => sum + worker.routers, 0);
  }
}

async function createTransport(peer: RawPeer, direction: 'send' | 'recv'): Promise<string> {
  return (await peer.ok<{ id: string }>('createWebRtcTransport', { direction })).id;
}

/** Sends a request without waiting for anything (the response lands in the peer's inbox). */
function fire(peer: RawPeer, id: number, method: string, data: unknown): Promise<void> {
  return new Promise((resolve) => {
    peer.ws.send(JSON.stringify({ request: true, id, method, data }), () => resolve());
  });
}

/** The position of the first message after `from` matching `match`, or -1. */
function indexAfter(
  messages: Array<Record<string, unknown>>,
  from: number,
  match: (m: ProtooNotification) => boolean,
) {
  for (let i = from + 1; i < messages.length; i++) {
    const message = messages[i] as unknown as ProtooNotification;
    if (message.notification === true && match(message)) return i;
  }
  return -1;
}

// One server for most of this file: a consumer cap of 2, a 1 MiB send bound, rate limits
// out of the way (caps, not rate limits, must stop pipelined requests), rooms of 200.
const main = new Fixture({
  MAX_CONSUMERS_PER_PARTICIPANT: '2',
  SIGNALING_MAX_BUFFERED: String(1 * MiB),
  SIGNALING_RATE: '10000',
  SIGNALING_BURST: '100000',
  CHAT_RATE: '1000',
  CHAT_BURST: '10000',
  IDENTITY_RATE_LIMIT: '100000',
  MAX_CONNECTIONS_PER_IP: '1000',
  MAX_CONNECTIONS_PER_IDENTITY: '100',
  MAX_PEERS_PER_ROOM: '200',
});

describe('caps hold under pipelined requests', () => {
  test('10 transports asked at once: exactly 4 are made, the others get 429 naming the cap', async () => {
    const roomId = newRoomId('caps-transports');
    const ann = await main.join(roomId, 'Ann');
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        ann.peer.request('createWebRtcTransport', { direction: i % 2 ? 'recv' : 'send' }),
      ),
    );
    assert.deepEqual(
      responses.map((r) => r.ok === true),
      [true, true, true, true, false, false, false, false, false, false],
      'the first four, in order',
    );
    for (const refused of responses.slice(4)) {
      assertErrorResponse(refused, 429, /at most 4 transports/);
    }
    // A second batch changes nothing.
    const again = await Promise.all(
      Array.from({ length: 5 }, () => ann.peer.request('createWebRtcTransport', { direction: 'send' })),
    );
    for (const refused of again) assertErrorResponse(refused, 429, /at most 4 transports/);
    const participant = main.participant(roomId, ann.peerId);
    assert.equal(participant.transports.size, 4);
    const media = await main.room(roomId).currentMedia();
    assert.ok(media);
    assert.equal((await homeOf(media).router.dump()).transportIds.length, 4, 'the router holds 4 transports');
  });

  test('producers asked at once, several per source: one per source, the rest refused with a reason', async () => {
    const roomId = newRoomId('caps-producers');
    const ann = await main.join(roomId, 'Ann');
    const bob = await main.join(roomId, 'Bob');
    const send = await createTransport(ann.peer, 'send');
    const asks: Array<[string, Record<string, unknown>]> = [];
    let mid = 0;
    for (const source of ['mic', 'webcam', 'screen', 'mic', 'webcam', 'screen', 'mic', 'webcam'] as const) {
      mid++;
      const ssrc = 50_000_000 + mid;
      asks.push([
        source,
        {
          transportId: send,
          kind: source === 'mic' ? 'audio' : 'video',
          rtpParameters:
            source === 'mic'
              ? { ...opusRtpParameters(ssrc), mid: String(mid) }
              : vp8RtpParameters(ssrc, String(mid)),
          source,
        },
      ]);
    }
    // A source with the wrong kind, too.
    asks.push(['mic', { ...asks[0]?.[1], kind: 'video', rtpParameters: vp8RtpParameters(59_999_999, '99') }]);
    const responses = await Promise.all(asks.map(([, data]) => ann.peer.request('produce', data)));
    assert.deepEqual(
      responses.map((r) => r.ok === true),
      [true, true, true, false, false, false, false, false, false],
    );
    for (const [i, refused] of responses.entries()) {
      if (refused.ok) continue;
      if (i < 8) assertErrorResponse(refused, 409, new RegExp(`already sends its ${asks[i]?.[0]}`));
      else assertErrorResponse(refused, 400, /a mic producer must be audio/);
    }
    const participant = main.participant(roomId, ann.peerId);
    assert.deepEqual([...participant.producers.values()].map((p) => p.appData.source).sort(), [
      'mic',
      'screen',
      'webcam',
    ]);
    await bob.peer.ok('getRouterRtpCapabilities', {});
    assert.equal(bob.peer.notifications('newProducer').length, 3, 'three producers announced');
  });

  test('consumers asked at once: one per producer and participant, at most 2 in all (MAX_CONSUMERS_PER_PARTICIPANT=2)', async () => {
    const roomId = newRoomId('caps-consumers');
    const ann = await main.join(roomId, 'Ann');
    const bob = await main.join(roomId, 'Bob');
    const send = await createTransport(ann.peer, 'send');
    const producers: Record<string, string> = {};
    for (const [i, source] of (['mic', 'webcam', 'screen'] as const).entries()) {
      const ssrc = 60_000_000 + i;
      producers[source] = (
        await ann.peer.ok<{ id: string }>('produce', {
          transportId: send,
          kind: source === 'mic' ? 'audio' : 'video',
          rtpParameters:
            source === 'mic'
              ? { ...opusRtpParameters(ssrc), mid: String(i) }
              : vp8RtpParameters(ssrc, String(i)),
          source,
        })
      ).id;
    }
    const recvA = await createTransport(bob.peer, 'recv');
    const recvB = await createTransport(bob.peer, 'recv');

    // The same producer 8 times, over both receive transports: on the first one's transport
    // a repeat is answered with the same consumer (a browser whose answer was lost asks
    // again); on the other it is refused. Never a second consumer.
    const same = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        bob.peer.request('consume', { transportId: i % 2 ? recvB : recvA, producerId: producers.mic }),
      ),
    );
    assert.equal(same[0]?.ok, true);
    const micConsumer = same[0]?.data?.id;
    assert.ok(micConsumer);
    for (const [i, answer] of same.entries()) {
      if (i % 2) assertErrorResponse(answer, 409, /already consuming producer/);
      else assert.equal(answer?.data?.id, micConsumer, `repeat ${i}`);
    }

    // Then the others, twice each, and the first again: one more fits under the cap of 2.
    const order = ['webcam', 'screen', 'webcam', 'screen', 'mic', 'screen'] as const;
    const more = await Promise.all(
      order.map((source, i) =>
        bob.peer.request('consume', { transportId: i % 2 ? recvA : recvB, producerId: producers[source] }),
      ),
    );
    assert.equal(more[0]?.ok, true, 'webcam: the second consumer');
    assertErrorResponse(more[1] as ProtooResponse, 429, /at most 2 consumers/);
    // The webcam again on its transport: the same consumer; the mic on the other one: refused.
    assert.equal(more[2]?.data?.id, more[0]?.data?.id, 'webcam repeated: the same consumer');
    assertErrorResponse(more[3] as ProtooResponse, 429, /at most 2 consumers/);
    assertErrorResponse(more[4] as ProtooResponse, 409, /already consuming producer/);
    assertErrorResponse(more[5] as ProtooResponse, 429, /at most 2 consumers/);
    const serverBob = main.participant(roomId, bob.peerId);
    assert.deepEqual(
      [...serverBob.consumers.values()].map((c) => c.producerId).sort(),
      [producers.mic, producers.webcam].sort(),
    );

    // The cap counts live consumers: once the webcam closes, the screen fits.
    await ann.peer.ok('closeProducer', { producerId: producers.webcam });
    await bob.peer.nextNotification('consumerClosed');
    await bob.peer.ok('consume', { transportId: recvA, producerId: producers.screen });
    assert.equal(serverBob.consumers.size, 2);
  });
});

describe('phantom media', () => {
  test('peers that vanish while their transports and producers are being made leave nothing behind, and nothing announced stays open', async (t) => {
    const roomId = newRoomId('phantom');
    const observer = await main.join(roomId, 'Observer');
    const recv = await createTransport(observer.peer, 'recv');
    // The observer consumes each producer the moment it is announced, racing its owner.
    const consumes: Array<Promise<ProtooResponse>> = [];
    observer.peer.ws.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as {
        notification?: boolean;
        method?: string;
        data?: { id: string };
      };
      if (message.notification && message.method === 'newProducer')
        consumes.push(observer.peer.request('consume', { transportId: recv, producerId: message.data?.id }));
    });

    for (let i = 0; i < 24; i++) {
      const gone = await main.join(roomId, `Gone ${i}`);
      const ssrc = 70_000_000 + i * 10;
      const produce = (source: 'mic' | 'webcam', transportId: string) => ({
        transportId,
        kind: source === 'mic' ? 'audio' : 'video',
        rtpParameters: source === 'mic' ? opusRtpParameters(ssrc) : vp8RtpParameters(ssrc + 1, '1'),
        source,
      });
      switch (i % 3) {
        case 0: {
          // connect + two produces pipelined, then the socket goes: closed cleanly, or cut
          // once the frames are written, or cut at once (the frames may never arrive).
          const send = await createTransport(gone.peer, 'send');
          const written = Promise.all([
            fire(gone.peer, 101, 'connectWebRtcTransport', {
              transportId: send,
              dtlsParameters: clientDtlsParameters(i),
            }),
            fire(gone.peer, 102, 'produce', produce('mic', send)),
            fire(gone.peer, 103, 'produce', produce('webcam', send)),
          ]);
          if (i % 2 === 0) gone.peer.ws.close();
          else if (i % 4 === 1) {
            await written;
            await sleep(i % 5);
            gone.peer.ws.terminate();
          } else gone.peer.ws.terminate();
          break;
        }
        case 1: {
          // produce + leaveCall + produce pipelined: the call is left in between.
          const send = await createTransport(gone.peer, 'send');
          const [produced, left, late] = await Promise.all([
            gone.peer.request('produce', produce('mic', send)),
            gone.peer.request('leaveCall', {}),
            gone.peer.request('produce', produce('webcam', send)),
          ]);
          assert.equal(produced.ok, true, JSON.stringify(produced));
          assert.equal(left.ok, true, JSON.stringify(left));
          assertErrorResponse(late, 404, /not in the call/);
          const participant = main.participant(roomId, gone.peerId);
          assert.equal(participant.inCall, false);
          assert.equal(participant.transports.size, 0);
          assert.equal(participant.producers.size, 0);
          await gone.peer.close();
          break;
        }
        default: {
          // Transport creation in flight when the socket goes.
          void fire(gone.peer, 101, 'createWebRtcTransport', { direction: 'send' });
          void fire(gone.peer, 102, 'createWebRtcTransport', { direction: 'recv' });
          gone.peer.ws.terminate();
        }
      }
    }

    const room = main.room(roomId);
    await waitUntil('everyone but the observer to be gone', () => room.participants.size === 1);
    // Let anything still in flight on the server finish, then flush the observer's socket.
    await sleep(300);
    const answers = await Promise.all(consumes);
    await observer.peer.ok('getRouterRtpCapabilities', {});

    const received = observer.peer.received;
    let announced = 0;
    for (const [at, message] of received.entries()) {
      const note = message as unknown as ProtooNotification;
      if (note.notification !== true || note.method !== 'newProducer') continue;
      announced++;
      const { id, peerId } = note.data as { id: string; peerId: string };
      const closedAt = indexAfter(
        received,
        at,
        (m) =>
          (m.method === 'producerClosed' && m.data.producerId === id) ||
          (m.method === 'peerLeft' && m.data.peerId === peerId),
      );
      assert.ok(closedAt > at, `producer ${id} was announced and never closed`);
      const leftBefore = received
        .slice(0, at)
        .some((m) => m.method === 'peerLeft' && (m.data as { peerId?: string }).peerId === peerId);
      assert.equal(leftBefore, false, `producer ${id} announced after its owner left`);
    }
    let consumed = 0;
    for (const answer of answers) {
      if (!answer.ok) {
        assertRefusal(answer, 'a consume racing its producer');
        continue;
      }
      consumed++;
      const consumerId = (answer.data as { id: string }).id;
      assert.ok(
        observer.peer.notifications('consumerClosed').some((n) => n.data.consumerId === consumerId),
        `consumer ${consumerId} was told its producer closed`,
      );
    }

    // The server holds only the observer's receive transport.
    const media = await room.currentMedia();
    assert.ok(media);
    assert.equal(media.producerCount, 0, 'no producer left in the room');
    assert.deepEqual((await homeOf(media).router.dump()).transportIds, [recv], 'only the observer transport');
    assert.equal(main.participant(roomId, observer.peerId).consumers.size, 0);
    t.diagnostic(`24 vanishing peers: ${announced} producers announced (each closed), ${consumed} consumed`);
  });
});

describe('media requests racing another participant', () => {
  test('a consumer paused or resumed while its producer closes: answered 200 or 409 with a reason, never 500', async () => {
    const roomId = newRoomId('consumer-race');
    const ann = await main.join(roomId, 'Ann');
    const bob = await main.join(roomId, 'Bob');
    const send = await createTransport(ann.peer, 'send');
    const recv = await createTransport(bob.peer, 'recv');
    const codes = new Map<number, number>();
    for (let i = 0; i < 30; i++) {
      const producer = await ann.peer.ok<{ id: string }>('produce', {
        transportId: send,
        kind: 'audio',
        rtpParameters: { ...opusRtpParameters(80_000_000 + i), mid: String(i) },
        source: 'mic',
      });
      const consumer = await bob.peer.ok<{ id: string }>('consume', {
        transportId: recv,
        producerId: producer.id,
      });
      // The close goes first, so that the worker has dropped the consumer when the other arrives.
      const closed = ann.peer.request('closeProducer', { producerId: producer.id });
      const raced = bob.peer.request(i % 2 ? 'pauseConsumer' : 'resumeConsumer', { consumerId: consumer.id });
      assert.equal((await closed).ok, true);
      const answer = await raced;
      codes.set(answer.errorCode ?? 200, (codes.get(answer.errorCode ?? 200) ?? 0) + 1);
      if (answer.ok) continue;
      assertRefusal(answer, 'a consumer request racing its producer');
      assert.ok([404, 409].includes(answer.errorCode ?? 0), JSON.stringify(answer));
      await bob.peer.nextNotification('consumerClosed');
    }
    // A pause of a consumer that is already paused is answered at once (nothing to change),
    // possibly before the worker's close of the last one has come through.
    await waitUntil(
      'every consumer to be gone',
      () => main.participant(roomId, bob.peerId).consumers.size === 0,
    );
    assert.deepEqual(
      [...codes.keys()].filter((code) => code >= 500),
      [],
    );
  });
});

describe('bounded memory per connection', () => {
  test('a client that stops reading while asking for pages of history is disconnected; memory stays bounded', async (t) => {
    const roomId = newRoomId('slow-reader');
    const writer = await main.join(roomId, 'Writer');
    // 120 messages of about 300 characters: a page of 100 is some 60 kB of JSON.
    for (let batch = 0; batch < 3; batch++) {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          writer.peer.ok('chatSend', {
            clientId: `seed-${batch}-${i}-message`,
            text: `${batch}/${i} ${'lorem ipsum dolor sit amet '.repeat(11)}`,
          }),
        ),
      );
    }
    const reader = await main.join(roomId, 'Reader');
    const page = await reader.peer.ok<{ messages: unknown[] }>('chatHistory', { limit: 100 });
    assert.equal(page.messages.length, 100);
    const pageBytes = JSON.stringify(page).length;
    assert.ok(pageBytes > 30_000, `a page is ${pageBytes} bytes`);

    const room = main.room(roomId);
    const left = writer.peer.nextNotification('peerLeft', 30_000);
    reader.peer.ws.pause();
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    let sent = 0;
    const gone = () => !room.participants.has(reader.peerId);
    // Batches of 50 until the server gives up on the reader (what fits in the kernel's socket
    // buffers first depends on the machine: some 1,000 requests here), at most 10,000.
    while (sent < 10_000 && !gone()) {
      for (let i = 0; i < 50; i++) {
        reader.peer.ws.send(
          JSON.stringify({ request: true, id: 1000 + sent++, method: 'chatHistory', data: { limit: 100 } }),
        );
      }
      await sleep(40);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    await waitUntil('the server to drop the reader', gone, 15_000);
    const rssAfter = process.memoryUsage().rss;
    assert.deepEqual((await left).data, { peerId: reader.peerId });
    reader.peer.ws.terminate();

    const growth = (Math.max(peakRss, rssAfter) - rssBefore) / MiB;
    t.diagnostic(
      `dropped after ${sent} requests (${pageBytes} B a page); RSS ${(rssBefore / MiB).toFixed(0)} MiB before, ` +
        `${(peakRss / MiB).toFixed(0)} MiB peak, ${(rssAfter / MiB).toFixed(0)} MiB after`,
    );
    assert.ok(growth < 150, `the server process grew by ${growth.toFixed(0)} MiB`);
    // The room and the writer carry on.
    const still = await writer.peer.ok<{ messages: unknown[] }>('chatHistory', { limit: 10 });
    assert.equal(still.messages.length, 10);
  });

  test('a frame over 256 KiB (1009) or not UTF-8 (1007) closes its socket, unread, logged below error level', async () => {
    const errors: string[] = [];
    captureErrorLogs(main.server, errors);
    const roomId = newRoomId('big-frame');
    const stay = await main.join(roomId, 'Stay');
    const before = await main.server.app.database.prisma.message.count({ where: { roomId } });
    const big = await main.join(roomId, 'Big');
    big.peer.sendRaw(
      JSON.stringify({
        request: true,
        id: 1,
        method: 'chatSend',
        data: { clientId: 'too-big-frame', text: 'x'.repeat(300 * 1024) },
      }),
    );
    assert.equal((await big.peer.waitClosed()).code, 1009, 'Message Too Big');
    assert.deepEqual((await stay.peer.nextNotification('peerLeft')).data, { peerId: big.peerId });
    const garbled = await main.join(roomId, 'Garbled');
    garbled.peer.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    assert.equal((await garbled.peer.waitClosed()).code, 1007, 'Invalid frame payload data');
    assert.deepEqual((await stay.peer.nextNotification('peerLeft')).data, { peerId: garbled.peerId });
    assert.equal(await main.server.app.database.prisma.message.count({ where: { roomId } }), before);
    assert.deepEqual(errors, [], 'nothing logged at error level');
  });
});

describe('reconnection replaces its ghost', () => {
  test('a socket of the same identity with ?resume=<old participant> makes the old one leave; another identity cannot', async () => {
    const roomId = newRoomId('ghost');
    const annIdentity = await createIdentity(main.server.url, 'Ann');
    const ann = await main.join(roomId, annIdentity);
    const bob = await main.join(roomId, 'Bob');
    await ann.peer.nextNotification('peerJoined');

    // Ann's browser comes back (its old connection is half-open, still counted here).
    const again = main.track(
      await RawPeer.open(`${main.server.wsUrl(roomId)}&resume=${ann.peerId}`, annIdentity),
    );
    assert.deepEqual((await bob.peer.nextNotification('peerLeft')).data, { peerId: ann.peerId });
    assert.equal((await ann.peer.waitClosed()).code, 4000, 'the ghost is closed by the server');
    const rejoined = await again.ok<{ peerId: string }>('join', {
      displayName: 'Ann',
      rtpCapabilities: await main.caps(),
    });
    assert.notEqual(rejoined.peerId, ann.peerId);
    assert.equal((await bob.peer.nextNotification('peerJoined')).data.identityId, annIdentity.id);

    // Someone else naming Bob's participant, or Ann naming one of another room or an
    // unknown one, changes nothing.
    const mallory = main.track(
      await RawPeer.open(
        `${main.server.wsUrl(roomId)}&resume=${bob.peerId}`,
        await createIdentity(main.server.url, 'Mallory'),
      ),
    );
    const elsewhere = main.track(
      await RawPeer.open(
        `${main.server.wsUrl(newRoomId('elsewhere'))}&resume=${rejoined.peerId}`,
        annIdentity,
      ),
    );
    const unknown = main.track(
      await RawPeer.open(
        `${main.server.wsUrl(roomId)}&resume=00000000-0000-4000-8000-000000000000`,
        annIdentity,
      ),
    );
    for (const peer of [mallory, elsewhere, unknown]) await peer.ok('getRouterRtpCapabilities', {});
    await again.ok('getRouterRtpCapabilities', {});
    await bob.peer.ok('getRouterRtpCapabilities', {});
    assert.equal(bob.peer.isOpen && again.isOpen, true);
    assert.equal(again.notifications('peerLeft').length, 0, 'nobody left');
    assert.equal(bob.peer.notifications('peerLeft').length, 1, 'only the ghost left');
    const room = main.room(roomId);
    assert.ok(room.participants.has(bob.peerId) && room.participants.has(rejoined.peerId));
    // A resume id that is not a participant id at all is refused before the upgrade.
    const refused = await tryUpgrade(`${main.server.wsUrl(roomId)}&resume=not-a-uuid`, {
      cookie: annIdentity.cookie,
    });
    assert.equal(refused.status, 400);
  });

  test('a lone participant replacing its ghost keeps the room: the reconnection joins and gets media', async () => {
    const roomId = newRoomId('lone-ghost');
    const identity = await createIdentity(main.server.url, 'Alone');
    const alone = await main.join(roomId, identity);
    const room = main.room(roomId);
    const again = main.track(
      await RawPeer.open(`${main.server.wsUrl(roomId)}&resume=${alone.peerId}`, identity),
    );
    assert.equal((await alone.peer.waitClosed()).code, 4000);
    assert.equal(room.closed, false, 'the room did not close between the ghost and its replacement');
    assert.equal(main.server.app.rooms.get(roomId), room);
    await again.ok('join', { displayName: 'Alone', rtpCapabilities: await main.caps() });
    await again.ok('createWebRtcTransport', { direction: 'send' });
    assert.deepEqual(
      [...room.participants.values()].map((p) => p.joined),
      [true],
    );
  });
});

describe('routers are made for media only', () => {
  test('a room of chat-only participants has no router; the first transport makes one, the last leaver frees it', async () => {
    const before = await main.routers();
    const roomId = newRoomId('no-router');
    const people = [
      await main.join(roomId, 'Ann'),
      await main.join(roomId, 'Bob'),
      await main.join(roomId, 'Cat'),
    ];
    await people[0]?.peer.ok('chatSend', { clientId: 'no-router-1', text: 'hello' });
    await people[1]?.peer.ok('setPresence', { away: true });
    await people[2]?.peer.ok('chatHistory', {});
    // Sockets that never join do not make one either.
    await main.connect(roomId, 'Lurker');
    const room = main.room(roomId);
    assert.equal(await room.currentMedia(), undefined, 'no router for a chat-only room');
    assert.equal(await main.routers(), before, 'no router was made');

    await people[0]?.peer.ok('createWebRtcTransport', { direction: 'recv' });
    assert.ok(await room.currentMedia(), 'the first transport made the router');
    assert.equal(await main.routers(), before + 1);

    for (const peer of room.participants.values()) peer.disconnect();
    await waitUntil('the room to close', () => room.closed);
    await waitUntil('its router to be closed', async () => (await main.routers()) === before);
  });
});

describe('concurrent first joins', () => {
  const crowdPg = new Fixture(
    {
      MEDIA_WORKERS: '1',
      MAX_PEERS_PER_ROOM: '200',
      MAX_CONNECTIONS_PER_IP: '1000',
      IDENTITY_RATE_LIMIT: '100000',
    },
    { database: 'postgres' },
  );

  async function crowd(fixture: Fixture, label: string, count: number, log: (line: string) => void) {
    const { server } = fixture;
    const roomId = newRoomId(label);
    const identities: TestIdentity[] = [];
    for (let i = 0; i < count; i += 20) {
      identities.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(20, count - i) }, (_, j) =>
            createIdentity(server.url, `Crowd ${i + j}`),
          ),
        )),
      );
    }
    const caps = await fixture.caps();
    const peers = await Promise.all(
      identities.map(async (identity) => fixture.track(await RawPeer.open(server.wsUrl(roomId), identity))),
    );
    // Every join in the same tick: the room does not exist in the database yet.
    assert.equal(await server.app.database.prisma.room.count({ where: { id: roomId } }), 0);
    const started = performance.now();
    const responses = await Promise.all(
      peers.map((peer, i) =>
        peer.request('join', { displayName: `Crowd ${i}`, rtpCapabilities: caps }, 60_000),
      ),
    );
    const elapsed = performance.now() - started;
    for (const response of responses) assert.equal(response.ok, true, JSON.stringify(response));
    const room = fixture.room(roomId);
    assert.equal(room.joinedParticipants().length, count);
    const db = server.app.database.prisma;
    assert.equal(await db.room.count({ where: { id: roomId } }), 1);
    assert.equal(await db.membership.count({ where: { roomId } }), count);

    // Each pair met exactly once: the later one in its join answer, the earlier one by peerJoined.
    await Promise.all(peers.map((peer) => peer.ok('getRouterRtpCapabilities', {})));
    const ids = responses.map((response) => (response.data as { peerId: string }).peerId);
    for (const [i, peer] of peers.entries()) {
      const met = [
        ...(responses[i]?.data as { peers: Array<{ id: string }> }).peers.map((p) => p.id),
        ...peer.notifications('peerJoined').map((n) => n.data.id as string),
      ];
      assert.equal(met.length, count - 1, `participant ${i} was told of ${met.length} others`);
      assert.deepEqual(new Set(met), new Set(ids.filter((id) => id !== ids[i])));
    }
    log(`${count} concurrent first joins (${label}): all in ${elapsed.toFixed(0)} ms`);
    await Promise.all(peers.map((peer) => peer.close()));
  }

  test('120 participants opening a new room at the same instant all join (PostgreSQL)', async (t) => {
    await crowd(crowdPg, 'crowd-pg', 120, (line) => t.diagnostic(line));
  });

  test('120 participants opening a new room at the same instant all join (embedded database)', async (t) => {
    await crowd(main, 'crowd-embedded', 120, (line) => t.diagnostic(line));
  });
});

describe('heartbeat, join timeout and allowed origins', () => {
  const beats = new Fixture(
    {
      MEDIA_WORKERS: '1',
      HEARTBEAT_INTERVAL: '300',
      JOIN_TIMEOUT: '700',
      ALLOWED_ORIGINS: 'https://meet.example',
    },
    { database: 'postgres' },
  );

  test('a half-open connection (no pongs) is dropped and the room told; a live one stays (HEARTBEAT_INTERVAL=300)', async (t) => {
    const roomId = newRoomId('half-open');
    const live = await beats.join(roomId, 'Live');
    const silent = await beats.join(roomId, 'Silent');
    const started = performance.now();
    silent.peer.ws.pause(); // reads nothing more: answers no ping
    assert.deepEqual((await live.peer.nextNotification('peerLeft', 10_000)).data, { peerId: silent.peerId });
    const dropped = performance.now() - started;
    assert.equal(beats.room(roomId).participants.has(silent.peerId), false);
    // Several intervals later the live one, answering pings, is still there.
    await sleep(1200);
    assert.equal(live.peer.isOpen, true);
    await live.peer.ok('getRouterRtpCapabilities', {});
    assert.equal(beats.room(roomId).participants.has(live.peerId), true);
    silent.peer.ws.terminate();
    t.diagnostic(`dropped ${dropped.toFixed(0)} ms after it stopped answering`);
  });

  test('a socket that does not join within JOIN_TIMEOUT (700 ms) is closed; one that joined stays', async () => {
    const roomId = newRoomId('join-timeout');
    const started = performance.now();
    const idle = await beats.connect(roomId, 'Idle');
    const asker = await beats.connect(roomId, 'Asker');
    await asker.ok('getRouterRtpCapabilities', {}); // allowed before join, but not a join
    const member = await beats.join(roomId, 'Member');
    for (const peer of [idle, asker]) {
      const { code } = await peer.waitClosed(5000);
      assert.equal(code, 4000, 'closed by the server');
    }
    assert.ok(performance.now() - started >= 650, 'not before the timeout');
    await sleep(800);
    assert.equal(member.peer.isOpen, true, 'the member stays');
    await member.peer.ok('getRouterRtpCapabilities', {});
    assert.deepEqual([...beats.room(roomId).participants.keys()], [member.peerId]);
  });

  test("ALLOWED_ORIGINS lets a listed origin in besides the server's own, and refuses others", async () => {
    const roomId = newRoomId('origins-listed');
    const identity = await createIdentity(beats.server.url, 'Origin');
    for (const origin of ['https://meet.example', beats.server.url]) {
      const allowed = await tryUpgrade(beats.server.wsUrl(roomId), { cookie: identity.cookie, origin });
      assert.equal(allowed.status, 101, origin);
      if (allowed.opened) allowed.ws.terminate();
    }
    for (const origin of ['http://evil.example', 'https://meet.example:444', 'null']) {
      const refused = await tryUpgrade(beats.server.wsUrl(roomId), { cookie: identity.cookie, origin });
      assert.equal(refused.status, 403, origin);
      assert.ok(!refused.opened);
      assert.match(refused.body, /may not open this socket/);
    }
  });
});

describe('foreign origins (no ALLOWED_ORIGINS: this server only)', () => {
  test('an upgrade from http://evil.example gets 403 with the reason; the same origin and no Origin pass', async () => {
    const roomId = newRoomId('origins');
    const identity = await createIdentity(main.server.url, 'Origin');
    const evil = await tryUpgrade(main.server.wsUrl(roomId), {
      cookie: identity.cookie,
      origin: 'http://evil.example',
    });
    assert.equal(evil.status, 403);
    assert.ok(!evil.opened);
    assert.match(evil.body, /pages of http:\/\/evil\.example may not open this socket/);
    const port = new URL(main.server.url).port;
    for (const origin of [
      'null',
      'http://127.0.0.1',
      `http://127.0.0.1:${port}.evil.example`,
      `https://127.0.0.1:${port}`,
    ]) {
      assert.equal(
        (await tryUpgrade(main.server.wsUrl(roomId), { cookie: identity.cookie, origin })).status,
        403,
        origin,
      );
    }
    assert.equal(main.server.app.rooms.get(roomId), undefined, 'no room was made');
    for (const headers of [
      { cookie: identity.cookie, origin: main.server.url },
      { cookie: identity.cookie },
    ] as Array<Record<string, string>>) {
      const opened = await tryUpgrade(main.server.wsUrl(roomId), headers);
      assert.equal(opened.status, 101, JSON.stringify(headers));
      if (opened.opened) opened.ws.terminate();
    }
  });
});

describe('connections per identity and per address', () => {
  const limits = new Fixture(
    { MEDIA_WORKERS: '1', MAX_CONNECTIONS_PER_IP: '5', MAX_CONNECTIONS_PER_IDENTITY: '2' },
    { database: 'postgres' },
  );
  const open: RawPeer[] = [];

  const connected = () =>
    limits.server.app.rooms.list().reduce((sum, room) => sum + room.participants.size, 0);

  /** Closes one socket and, once the server has seen it go, opens another for `identity`. */
  async function replace(closing: RawPeer | undefined, roomId: string, identity: TestIdentity) {
    await closing?.close();
    await waitUntil('the server to release the closed socket', () => connected() === open.length);
    open.push(limits.track(await RawPeer.open(limits.server.wsUrl(roomId), identity)));
  }

  test('MAX_CONNECTIONS_PER_IDENTITY=2: the third socket of one identity gets 429 until one closes', async () => {
    const roomId = newRoomId('per-identity');
    const ann = await createIdentity(limits.server.url, 'Ann');
    open.push(limits.track(await RawPeer.open(limits.server.wsUrl(roomId), ann)));
    open.push(limits.track(await RawPeer.open(limits.server.wsUrl(roomId), ann)));
    const third = await tryUpgrade(limits.server.wsUrl(roomId), { cookie: ann.cookie });
    assert.equal(third.status, 429);
    assert.ok(!third.opened);
    assert.match(third.body, /too many connections for this identity \(at most 2\)/);
    // Another identity is not affected.
    open.push(
      limits.track(
        await RawPeer.open(limits.server.wsUrl(roomId), await createIdentity(limits.server.url, 'Bob')),
      ),
    );
    await replace(open.shift(), roomId, ann);
  });

  test('MAX_CONNECTIONS_PER_IP=5: the sixth socket from one address gets 429 until one closes', async () => {
    const roomId = newRoomId('per-ip');
    while (open.length < 5)
      open.push(
        limits.track(
          await RawPeer.open(
            limits.server.wsUrl(roomId),
            await createIdentity(limits.server.url, `P${open.length}`),
          ),
        ),
      );
    const late = await createIdentity(limits.server.url, 'Late');
    const sixth = await tryUpgrade(limits.server.wsUrl(roomId), { cookie: late.cookie });
    assert.equal(sixth.status, 429);
    assert.ok(!sixth.opened);
    assert.match(sixth.body, /too many connections from this address \(at most 5\)/);
    assert.equal(connected(), 5, 'the refused upgrade made no participant');
    await replace(open.pop(), roomId, late);
  });
});

describe('rate limits', () => {
  const rates = new Fixture(
    {
      MEDIA_WORKERS: '1',
      SIGNALING_RATE: '2',
      SIGNALING_BURST: '10',
      CHAT_RATE: '1',
      CHAT_BURST: '3',
      IDENTITY_RATE_LIMIT: '3',
      UPLOAD_RATE_LIMIT: '2',
    },
    { database: 'postgres' },
  );
  const identities: TestIdentity[] = [];

  test('IDENTITY_RATE_LIMIT=3: the fourth POST /api/identity in a minute gets 429 with Retry-After', async () => {
    for (let i = 0; i < 3; i++) identities.push(await createIdentity(rates.server.url, `Rate ${i}`));
    const response = await fetch(`${rates.server.url}/api/identity`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'Fourth' }),
    });
    assert.equal(response.status, 429);
    assert.match(response.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
    const body = (await response.json()) as { message?: string };
    assert.match(body.message ?? '', /retry in/i);
  });

  test('UPLOAD_RATE_LIMIT=2: the third upload in a minute gets 429 with Retry-After, whoever sends it', async () => {
    const url = `${rates.server.url}/api/rooms/${newRoomId('uploads')}/attachments`;
    const statuses: number[] = [];
    let retryAfter = '';
    for (let i = 0; i < 3; i++) {
      const response = await fetch(url, { method: 'POST', body: new FormData() });
      statuses.push(response.status);
      retryAfter = response.headers.get('retry-after') ?? '';
      await response.arrayBuffer();
    }
    assert.deepEqual(statuses, [401, 401, 429]);
    assert.match(retryAfter, /^[1-9]\d*$/);
  });

  test('SIGNALING_BURST=10: pipelined requests past the burst get 429 "retry after N ms"; after N ms one passes', async () => {
    const peer = await rates.connect(newRoomId('signaling-rate'), identities[0] as TestIdentity);
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => peer.request('getRouterRtpCapabilities', {})),
    );
    const accepted = responses.filter((r) => r.ok).length;
    assert.ok(accepted >= 10 && accepted <= 11, `${accepted} accepted`);
    let wait = 0;
    for (const refused of responses.filter((r) => !r.ok)) {
      assertErrorResponse(refused, 429, /too many requests \(at most 2 a second\); retry after \d+ ms/);
      wait = Math.max(wait, Number(/retry after (\d+) ms/.exec(refused.errorReason ?? '')?.[1]));
    }
    assert.ok(wait > 0 && wait <= 500, `retry after ${wait} ms`);
    await sleep(wait + 50);
    await peer.ok('getRouterRtpCapabilities', {});
  });

  test('CHAT_BURST=3: chat sends past the burst get 429 "retry after N ms" and are not stored', async () => {
    const roomId = newRoomId('chat-rate');
    const peer = await rates.connect(roomId, identities[1] as TestIdentity);
    await peer.ok('join', {
      displayName: 'Chatty',
      rtpCapabilities: await peer.ok('getRouterRtpCapabilities', {}),
    });
    const responses = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        peer.request('chatSend', { clientId: `rate-limited-${i}`, text: `#${i}` }),
      ),
    );
    const accepted = responses.filter((r) => r.ok).length;
    assert.ok(accepted >= 3 && accepted <= 4, `${accepted} accepted`);
    for (const refused of responses.filter((r) => !r.ok))
      assertErrorResponse(refused, 429, /too many messages \(at most 1 a second\); retry after \d+ ms/);
    assert.equal(await rates.server.app.database.prisma.message.count({ where: { roomId } }), accepted);
  });

  test('CHAT_BURST=3: reactions and searches spend the same bucket (each is told to the room or queries)', async () => {
    const roomId = newRoomId('chat-rate-react');
    const peer = await rates.connect(roomId, identities[1] as TestIdentity);
    await peer.ok('join', {
      displayName: 'Chatty',
      rtpCapabilities: await peer.ok('getRouterRtpCapabilities', {}),
    });
    const { message } = await peer.ok<{ message: { id: string } }>('chatSend', {
      clientId: 'react-target',
      text: 'react to me',
    });
    const emoji = ['👍', '🎉', '👀', '🔥', '✅', '🙏'];
    const responses = await Promise.all([
      ...emoji.map((e) => peer.request('chatReact', { messageId: message.id, emoji: e, add: true })),
      peer.request('chatSearch', { query: 'react' }),
    ]);
    const accepted = responses.filter((r) => r.ok).length;
    assert.ok(accepted >= 2 && accepted <= 3, `${accepted} accepted`);
    for (const refused of responses.filter((r) => !r.ok))
      assertErrorResponse(refused, 429, /too many chat requests \(at most 1 a second\); retry after \d+ ms/);
    const stored = await rates.server.app.database.prisma.reaction.count({
      where: { messageId: message.id },
    });
    assert.ok(stored <= accepted, `${stored} reactions stored, ${accepted} accepted`);
  });
});
