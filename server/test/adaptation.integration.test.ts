// Adaptive meetings against the real server and real mediasoup workers, over raw protoo
// peers: what a viewer shows (setView) decides which of its video consumers are forwarded
// and at which layer; publishers are told which simulcast layers anyone wants (dynacast),
// raised at once and lowered only after a hold. Raw peers produce without sending RTP: the
// server's consumers are looked at directly (paused, preferred layers).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_VIEW_TILES, requests } from '@meet/protocol';
import { MIN_DOWNLINK_ESTIMATE } from '../src/media/transport.js';
import { LOWER_HOLD_MS } from '../src/room/dynacast.js';
import type { RoomMedia } from '../src/room/room-media.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer, opusRtpParameters, waitUntil, type ProtooNotification } from './support/raw-peer.js';
import { speakingMicrophone } from './support/speaking-microphone.js';

let server: TestServer;
const peers: RawPeer[] = [];
let roomCounter = 0;
const newRoomId = (label: string) => `${label}-${process.pid}-${++roomCounter}`;

before(async () => {
  server = await startServer();
});

after(async () => {
  await Promise.all(peers.map((peer) => peer.close()));
  await server?.close();
});

interface Joined {
  peer: RawPeer;
  peerId: string;
  roomId: string;
  activeSpeaker: unknown;
}

async function joinAs(roomId: string, displayName: string): Promise<Joined> {
  const peer = await RawPeer.connect(server, roomId, displayName);
  peers.push(peer);
  const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
  const joined = await peer.ok<{ peerId: string; activeSpeaker: unknown }>('join', {
    displayName,
    rtpCapabilities,
  });
  assert.ok(requests.join.response.safeParse(joined).success, JSON.stringify(joined));
  return { peer, peerId: joined.peerId, roomId, activeSpeaker: joined.activeSpeaker };
}

async function transport(who: Joined, direction: 'send' | 'recv'): Promise<string> {
  return (await who.peer.ok<{ id: string }>('createWebRtcTransport', { direction })).id;
}

let ssrcCounter = 50_000_000;

/** VP8 with `layers` simulcast encodings (rids r0, r1, …), three temporal layers each. */
function simulcastRtpParameters(mid: string, layers = 3) {
  return {
    mid,
    codecs: [
      {
        mimeType: 'video/VP8',
        payloadType: 101,
        clockRate: 90000,
        rtcpFeedback: [
          { type: 'nack' },
          { type: 'nack', parameter: 'pli' },
          { type: 'ccm', parameter: 'fir' },
        ],
      },
    ],
    headerExtensions: [
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 },
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', id: 2 },
    ],
    encodings: Array.from({ length: layers }, (_, i) => ({ rid: `r${i}`, scalabilityMode: 'L1T3' })),
    rtcp: { cname: `cname-${++ssrcCounter}` },
  };
}

async function produceVideo(
  who: Joined,
  sendId: string,
  {
    source = 'webcam',
    layers = 3,
    mid = '1',
  }: { source?: 'webcam' | 'screen'; layers?: number; mid?: string } = {},
): Promise<string> {
  const { id } = await who.peer.ok<{ id: string }>('produce', {
    transportId: sendId,
    kind: 'video',
    rtpParameters: simulcastRtpParameters(mid, layers),
    source,
  });
  return id;
}

async function produceMic(who: Joined, sendId: string): Promise<string> {
  const { id } = await who.peer.ok<{ id: string }>('produce', {
    transportId: sendId,
    kind: 'audio',
    rtpParameters: opusRtpParameters(++ssrcCounter),
    source: 'mic',
  });
  return id;
}

async function consume(viewer: Joined, recvId: string, producerId: string, resume = true): Promise<string> {
  const { id } = await viewer.peer.ok<{ id: string }>('consume', { transportId: recvId, producerId });
  if (resume) await viewer.peer.ok('resumeConsumer', { consumerId: id });
  return id;
}

async function serverParticipant(who: Joined) {
  const room = (await server.app.rooms.list()).find((r) => r.id === who.roomId);
  const participant = room?.participants.get(who.peerId);
  assert.ok(participant, `${who.peerId} is in room ${who.roomId}`);
  return participant;
}

/** The server's consumer: whether it is paused there and which layers it prefers. */
async function serverConsumer(who: Joined, consumerId: string) {
  const consumer = (await serverParticipant(who)).consumers.get(consumerId);
  assert.ok(consumer, `consumer ${consumerId} is open on the server`);
  return consumer;
}

/** The next producerLayers notification about `producerId`, with the time it arrived. */
async function nextLayers(who: Joined, producerId: string): Promise<{ layer: number; at: number }> {
  const note = await who.peer.waitFor<ProtooNotification>(
    `producerLayers of ${producerId}`,
    (m) =>
      m.notification === true &&
      m.method === 'producerLayers' &&
      (m.data as { producerId?: string }).producerId === producerId,
  );
  return { layer: note.data.maxSpatialLayer as number, at: performance.now() };
}

const tile = (consumerId: string, width: number, height: number) => ({ consumerId, width, height });

describe('setView: validation', () => {
  test('malformed views get 400 naming the problem; too many tiles are refused by the schema', async () => {
    const roomId = newRoomId('view-bad');
    const viewer = await joinAs(roomId, 'Viewer');
    await transport(viewer, 'recv');
    const tooMany = Array.from({ length: MAX_VIEW_TILES + 1 }, (_, i) => tile(`c${i}`, 320, 180));
    await viewer.peer.fails('setView', { tiles: tooMany }, 400, /invalid setView request: tiles/);
    await viewer.peer.fails('setView', { tiles: [tile('c', -1, 180)] }, 400, /tiles\.0\.width/);
    await viewer.peer.fails('setView', { tiles: [tile('c', 320.5, 180)] }, 400, /tiles\.0\.width/);
    await viewer.peer.fails('setView', { tiles: [{ ...tile('c', 1, 1), pinned: true }] }, 400, /pinned/);
    await viewer.peer.fails('setView', {}, 400, /tiles/);
    await viewer.peer.fails(
      'setView',
      { tiles: [{ consumerId: 7, width: 1, height: 1 }] },
      400,
      /consumerId/,
    );
    // The connection still works.
    assert.deepEqual(await viewer.peer.ok('setView', { tiles: [] }), {});
  });

  test('not in the call: 409 with a reason; before joining: 403', async () => {
    const roomId = newRoomId('view-nocall');
    const chatOnly = await joinAs(roomId, 'Chat only');
    await chatOnly.peer.fails('setView', { tiles: [] }, 409, /not in the call/);
    const early = await RawPeer.connect(server, roomId, 'Early');
    peers.push(early);
    await early.fails('setView', { tiles: [] }, 403, /join the room before setView/);
    // After leaving the call: not in it any more.
    await transport(chatOnly, 'recv');
    await chatOnly.peer.ok('setView', { tiles: [] });
    await chatOnly.peer.ok('leaveCall', {});
    await chatOnly.peer.fails('setView', { tiles: [] }, 409, /not in the call/);
  });

  test('ids that are not the viewer’s consumers are ignored, its own are applied', async () => {
    const roomId = newRoomId('view-unknown');
    const alice = await joinAs(roomId, 'Alice');
    const bob = await joinAs(roomId, 'Bob');
    const cam = await produceVideo(alice, await transport(alice, 'send'));
    const aliceRecv = await transport(alice, 'recv');
    const bobSend = await transport(bob, 'send');
    const bobCam = await produceVideo(bob, bobSend);
    const seen = await consume(alice, aliceRecv, bobCam);
    const bobRecv = await transport(bob, 'recv');
    const consumerId = await consume(bob, bobRecv, cam);
    // Another participant's consumer id and made-up ids: ignored, no error, nothing changes for Alice.
    await bob.peer.ok('setView', {
      tiles: [tile('no-such-consumer', 320, 180), tile(seen, 1280, 720), tile(consumerId, 320, 180)],
    });
    assert.equal((await serverConsumer(bob, consumerId)).paused, false);
    assert.equal((await serverConsumer(bob, consumerId)).preferredLayers?.spatialLayer, 0);
    const alicesConsumer = await serverConsumer(alice, seen);
    assert.equal(alicesConsumer.paused, false, "Alice's consumer is untouched by Bob's view");
    assert.equal(alicesConsumer.preferredLayers?.spatialLayer, 2);
  });
});

describe('setView: what is forwarded', () => {
  test("the server's estimate toward a viewer has a floor that fits one camera's lowest layer; sending has none", async () => {
    const viewer = await joinAs(newRoomId('estimate-floor'), 'Vera');
    const recvId = await transport(viewer, 'recv');
    const sendId = await transport(viewer, 'send');
    const stats = async (id: string) => {
      const t = (await serverParticipant(viewer)).transports.get(id);
      assert.ok(t, `transport ${id} is open on the server`);
      const [own] = await t.getStats();
      assert.ok(own, `stats of transport ${id}`);
      return own;
    };
    // mediasoup's own floor (30 kbit/s) fits no video layer: a collapsed estimate forwarded
    // nothing for seconds (tests/e2e/constrained-viewer-top-layer.e2e.test.ts).
    assert.equal((await stats(recvId)).minOutgoingBitrate, MIN_DOWNLINK_ESTIMATE);
    assert.ok(MIN_DOWNLINK_ESTIMATE >= 150_000, 'the web camera lowest encoding is capped at 150 kbit/s');
    assert.ok(!(await stats(sendId)).minOutgoingBitrate, 'the server sends nothing on a send transport');
  });

  test('the view decides which video consumers are paused on the server, and at which layer; audio is never affected', async () => {
    const roomId = newRoomId('view-paused');
    const alice = await joinAs(roomId, 'Alice');
    const bob = await joinAs(roomId, 'Bob');
    const aliceSend = await transport(alice, 'send');
    const cam = await produceVideo(alice, aliceSend);
    const mic = await produceMic(alice, aliceSend);
    const bobRecv = await transport(bob, 'recv');
    const video = await consume(bob, bobRecv, cam);
    const audio = await consume(bob, bobRecv, mic);

    // No view set yet: resumed by the browser, forwarded at the top layer.
    assert.equal((await serverConsumer(bob, video)).paused, false);
    assert.equal((await serverConsumer(bob, video)).preferredLayers?.spatialLayer, 2);

    await bob.peer.ok('setView', { tiles: [] });
    assert.equal((await serverConsumer(bob, video)).paused, true, 'off screen: paused on the server');
    assert.equal((await serverConsumer(bob, audio)).paused, false, 'audio keeps flowing');
    assert.deepEqual((await serverParticipant(bob)).media?.viewCounts(), {
      forwarding: 0,
      offView: 1,
      notReady: 0,
      held: 0,
    });

    await bob.peer.ok('setView', { tiles: [tile(video, 320, 180)] });
    let consumer = await serverConsumer(bob, video);
    assert.equal(consumer.paused, false);
    assert.deepEqual(consumer.preferredLayers, { spatialLayer: 0, temporalLayer: 2 });

    await bob.peer.ok('setView', { tiles: [tile(video, 640, 360)] });
    assert.equal((await serverConsumer(bob, video)).preferredLayers?.spatialLayer, 1);
    await bob.peer.ok('setView', { tiles: [tile(video, 1920, 1080)] });
    assert.equal((await serverConsumer(bob, video)).preferredLayers?.spatialLayer, 2);

    // The browser pauses it: paused, even while listed; resumed again once it resumes.
    await bob.peer.ok('pauseConsumer', { consumerId: video });
    await bob.peer.ok('setView', { tiles: [tile(video, 320, 180)] });
    consumer = await serverConsumer(bob, video);
    assert.equal(consumer.paused, true, 'not ready: a view does not resume it');
    assert.deepEqual((await serverParticipant(bob)).media?.viewCounts(), {
      forwarding: 0,
      offView: 0,
      notReady: 1,
      held: 0,
    });
    await bob.peer.ok('resumeConsumer', { consumerId: video });
    assert.equal((await serverConsumer(bob, video)).paused, false);
    assert.equal((await serverConsumer(bob, video)).preferredLayers?.spatialLayer, 0);

    // Pausing audio from the browser still works as before.
    await bob.peer.ok('pauseConsumer', { consumerId: audio });
    assert.equal((await serverConsumer(bob, audio)).paused, true);
    await bob.peer.ok('resumeConsumer', { consumerId: audio });
    assert.equal((await serverConsumer(bob, audio)).paused, false);
  });

  test('a consumer made after the last view stays paused until a view lists it; the view outlives leaving the call', async () => {
    const roomId = newRoomId('view-late');
    const alice = await joinAs(roomId, 'Alice');
    const carol = await joinAs(roomId, 'Carol');
    const bob = await joinAs(roomId, 'Bob');
    const aliceCam = await produceVideo(alice, await transport(alice, 'send'));
    let bobRecv = await transport(bob, 'recv');
    const first = await consume(bob, bobRecv, aliceCam);
    await bob.peer.ok('setView', { tiles: [tile(first, 640, 360)] });
    assert.equal((await serverConsumer(bob, first)).paused, false);

    const carolCam = await produceVideo(carol, await transport(carol, 'send'));
    const late = await consume(bob, bobRecv, carolCam);
    assert.equal((await serverConsumer(bob, late)).paused, true, 'not in the last view');
    await bob.peer.ok('setView', { tiles: [tile(first, 640, 360), tile(late, 320, 180)] });
    assert.equal((await serverConsumer(bob, late)).paused, false);
    assert.equal((await serverConsumer(bob, late)).preferredLayers?.spatialLayer, 0);

    // Out of the call and back: the new consumers wait for a view, as before.
    await bob.peer.ok('leaveCall', {});
    bobRecv = await transport(bob, 'recv');
    const again = await consume(bob, bobRecv, aliceCam);
    assert.equal((await serverConsumer(bob, again)).paused, true, 'waits for the next view');
    await bob.peer.ok('setView', { tiles: [tile(again, 320, 180)] });
    assert.equal((await serverConsumer(bob, again)).paused, false);
  });

  test('a screen share is preferred at its top layer whatever the tile size', async () => {
    const roomId = newRoomId('view-screen');
    const alice = await joinAs(roomId, 'Alice');
    const bob = await joinAs(roomId, 'Bob');
    const screen = await produceVideo(alice, await transport(alice, 'send'), { source: 'screen', layers: 2 });
    assert.equal((await nextLayers(alice, screen)).layer, -1);
    const bobRecv = await transport(bob, 'recv');
    const consumerId = await consume(bob, bobRecv, screen, false);
    await bob.peer.ok('setView', { tiles: [tile(consumerId, 160, 90)] });
    await bob.peer.ok('resumeConsumer', { consumerId });
    const consumer = await serverConsumer(bob, consumerId);
    assert.equal(consumer.paused, false);
    assert.equal(consumer.preferredLayers?.spatialLayer, 1);
    assert.equal(consumer.priority, 3, 'screen share goes first');
    assert.equal((await nextLayers(alice, screen)).layer, 1);
  });
});

describe('dynacast: what publishers are told', () => {
  test('-1 after produce answers; up to the tile’s layer, up to 2 at once; down only after the hold; -1 after the viewer leaves the call', async () => {
    const roomId = newRoomId('dynacast');
    const alice = await joinAs(roomId, 'Alice');
    const bob = await joinAs(roomId, 'Bob');
    const aliceSend = await transport(alice, 'send');
    const cam = await produceVideo(alice, aliceSend);
    const first = await nextLayers(alice, cam);
    assert.equal(first.layer, -1, 'nobody views a new producer');
    const answered = alice.peer.received.findIndex(
      (m) => m.response === true && (m.data as { id?: string })?.id === cam,
    );
    const toldAt = alice.peer.received.findIndex((m) => m.method === 'producerLayers');
    assert.ok(answered >= 0 && answered < toldAt, 'told after the answer to produce');
    // An audio producer is not part of dynacast.
    await produceMic(alice, aliceSend);

    const bobRecv = await transport(bob, 'recv');
    await bob.peer.ok('setView', { tiles: [] });
    const consumerId = await consume(bob, bobRecv, cam);
    await bob.peer.ok('setView', { tiles: [tile(consumerId, 320, 180)] });
    assert.equal((await nextLayers(alice, cam)).layer, 0, 'a small tile wants layer 0');
    await bob.peer.ok('setView', { tiles: [tile(consumerId, 1280, 720)] });
    assert.equal((await nextLayers(alice, cam)).layer, 2, 'a big tile: 2 at once');

    const shrunkAt = performance.now();
    await bob.peer.ok('setView', { tiles: [tile(consumerId, 640, 360)] });
    const lowered = await nextLayers(alice, cam);
    assert.equal(lowered.layer, 1);
    assert.ok(
      lowered.at - shrunkAt >= LOWER_HOLD_MS - 20,
      `lowered after ${Math.round(lowered.at - shrunkAt)} ms, not before the hold`,
    );

    // Brief scroll away and back within the hold: nothing told.
    await bob.peer.ok('setView', { tiles: [] });
    await bob.peer.ok('setView', { tiles: [tile(consumerId, 640, 360)] });

    const leftAt = performance.now();
    await bob.peer.ok('leaveCall', {});
    const gone = await nextLayers(alice, cam);
    assert.equal(gone.layer, -1, 'nobody views it any more');
    assert.ok(gone.at - leftAt >= LOWER_HOLD_MS - 20, 'after the hold');
    const told = alice.peer
      .notifications('producerLayers')
      .filter((n) => n.data.producerId === cam)
      .map((n) => n.data.maxSpatialLayer);
    assert.deepEqual(told, [-1, 0, 2, 1, -1], 'only changes are told; the scroll was not');
    assert.ok(
      alice.peer.notifications('producerLayers').every((n) => n.data.producerId === cam),
      'nothing about the microphone',
    );
  });

  test('the highest layer over every viewer; a viewer that disconnects drops out', async () => {
    const roomId = newRoomId('dynacast-many');
    const alice = await joinAs(roomId, 'Alice');
    const bob = await joinAs(roomId, 'Bob');
    const carol = await joinAs(roomId, 'Carol');
    const cam = await produceVideo(alice, await transport(alice, 'send'));
    assert.equal((await nextLayers(alice, cam)).layer, -1);
    const bobConsumer = await consume(bob, await transport(bob, 'recv'), cam, false);
    const carolConsumer = await consume(carol, await transport(carol, 'recv'), cam, false);
    await bob.peer.ok('setView', { tiles: [tile(bobConsumer, 1280, 720)] });
    await carol.peer.ok('setView', { tiles: [tile(carolConsumer, 320, 180)] });
    await carol.peer.ok('resumeConsumer', { consumerId: carolConsumer });
    assert.equal((await nextLayers(alice, cam)).layer, 0, 'Carol: layer 0 (Bob is not ready yet)');
    await bob.peer.ok('resumeConsumer', { consumerId: bobConsumer });
    assert.equal((await nextLayers(alice, cam)).layer, 2, 'Bob: layer 2');

    const closedAt = performance.now();
    bob.peer.ws.terminate();
    const afterBob = await nextLayers(alice, cam);
    assert.equal(afterBob.layer, 0, 'what Carol wants is left');
    assert.ok(afterBob.at - closedAt >= LOWER_HOLD_MS - 20);

    await carol.peer.ok('pauseConsumer', { consumerId: carolConsumer });
    assert.equal((await nextLayers(alice, cam)).layer, -1, 'a consumer paused by its viewer wants nothing');
    await alice.peer.ok('closeProducer', { producerId: cam });
    const media = await (await serverParticipant(alice)).room.currentMedia();
    assert.equal(media?.wantedLayer(cam), undefined, 'a closed producer leaves dynacast');
  });
});

describe('sources and the join answer', () => {
  test('screenAudio is an audio source, one per participant; its consumers ignore the view', async () => {
    const roomId = newRoomId('screen-audio');
    const alice = await joinAs(roomId, 'Alice');
    const bob = await joinAs(roomId, 'Bob');
    const send = await transport(alice, 'send');
    await alice.peer.fails(
      'produce',
      {
        transportId: send,
        kind: 'video',
        rtpParameters: simulcastRtpParameters('5', 1),
        source: 'screenAudio',
      },
      400,
      /screenAudio producer must be audio/,
    );
    const { id } = await alice.peer.ok<{ id: string }>('produce', {
      transportId: send,
      kind: 'audio',
      rtpParameters: { ...opusRtpParameters(++ssrcCounter), mid: '6' },
      source: 'screenAudio',
    });
    await produceMic(alice, send);
    await alice.peer.fails(
      'produce',
      {
        transportId: send,
        kind: 'audio',
        rtpParameters: { ...opusRtpParameters(++ssrcCounter), mid: '7' },
        source: 'screenAudio',
      },
      409,
      /already sends its screenAudio/,
    );
    const consumerId = await consume(bob, await transport(bob, 'recv'), id);
    await bob.peer.ok('setView', { tiles: [] });
    assert.equal((await serverConsumer(bob, consumerId)).paused, false);
  });

  test('a video producer with more than three encodings is refused (400)', async () => {
    const alice = await joinAs(newRoomId('encodings'), 'Alice');
    await alice.peer.fails(
      'produce',
      {
        transportId: await transport(alice, 'send'),
        kind: 'video',
        rtpParameters: simulcastRtpParameters('1', 4),
        source: 'webcam',
      },
      400,
      /at most 3 simulcast encodings/,
    );
  });

  test("the active speaker (mediasoup's dominant speaker) is broadcast, given in the join answer, first for priorities, and null when their microphone closes", async () => {
    const roomId = newRoomId('speaker');
    const alice = await joinAs(roomId, 'Alice');
    assert.equal(alice.activeSpeaker, null, 'nobody yet');
    const bob = await joinAs(roomId, 'Bob');
    const aliceSend = await transport(alice, 'send');
    const cam = await produceVideo(alice, aliceSend);
    const camConsumer = await consume(bob, await transport(bob, 'recv'), cam);
    assert.equal((await serverConsumer(bob, camConsumer)).priority, 1);
    // A lone microphone is the dominant speaker at the observer's next round (no RTP needed).
    const mic = await produceMic(alice, aliceSend);
    assert.deepEqual((await bob.peer.nextNotification('activeSpeaker')).data, { peerId: alice.peerId });
    assert.deepEqual((await alice.peer.nextNotification('activeSpeaker')).data, { peerId: alice.peerId });
    await waitUntil(
      'the speaker camera to go first',
      async () => (await serverConsumer(bob, camConsumer)).priority === 2,
    );
    const carol = await joinAs(roomId, 'Carol');
    assert.equal(carol.activeSpeaker, alice.peerId, 'the join answer says who speaks');

    await alice.peer.ok('closeProducer', { producerId: mic });
    assert.deepEqual((await bob.peer.nextNotification('activeSpeaker')).data, { peerId: null });
    assert.deepEqual((await carol.peer.nextNotification('activeSpeaker')).data, { peerId: null });
    await waitUntil(
      'the camera to lose its priority',
      async () => (await serverConsumer(bob, camConsumer)).priority === 1,
    );
    // screenAudio is not a speaker.
    await alice.peer.ok('produce', {
      transportId: aliceSend,
      kind: 'audio',
      rtpParameters: { ...opusRtpParameters(++ssrcCounter), mid: '8' },
      source: 'screenAudio',
    });
    // Bob's microphone: he becomes the speaker; when he leaves, nobody is.
    await produceMic(bob, await transport(bob, 'send'));
    assert.deepEqual((await carol.peer.nextNotification('activeSpeaker')).data, { peerId: bob.peerId });
    await bob.peer.close();
    assert.deepEqual((await carol.peer.nextNotification('activeSpeaker')).data, { peerId: null });
    assert.deepEqual(
      carol.peer.notifications('activeSpeaker').map((n) => n.data.peerId),
      [null, bob.peerId, null],
      'never the shared screen audio',
    );
  });
});

async function roomMediaOf(who: Joined): Promise<RoomMedia> {
  await transport(who, 'send');
  const media = await (await serverParticipant(who)).room.currentMedia();
  assert.ok(media);
  return media;
}

describe('audio levels and the active speaker from real RTP', () => {
  test('a microphone sending speech levels is reported by peer id; silence is reported once', async () => {
    const roomId = newRoomId('levels');
    const alice = await joinAs(roomId, 'Alice');
    const bob = await joinAs(roomId, 'Bob');
    const mic = await speakingMicrophone(await roomMediaOf(alice), alice.peerId);
    try {
      const loud = await bob.peer.waitFor<ProtooNotification>(
        'audioLevels with Alice',
        (m) => m.method === 'audioLevels' && (m.data as { levels: unknown[] }).levels.length > 0,
      );
      const levels = loud.data.levels as Array<{ peerId: string; volume: number }>;
      assert.deepEqual(
        levels.map((level) => level.peerId),
        [alice.peerId],
      );
      assert.ok(Math.abs((levels[0]?.volume ?? 0) + 20) <= 1, `about -20 dBov: ${JSON.stringify(levels)}`);
      assert.deepEqual((await bob.peer.nextNotification('activeSpeaker')).data, { peerId: alice.peerId });
    } finally {
      mic.stop();
    }
    const quiet = await bob.peer.waitFor<ProtooNotification>(
      'audioLevels saying silence',
      (m) => m.method === 'audioLevels' && (m.data as { levels: unknown[] }).levels.length === 0,
    );
    assert.deepEqual(quiet.data, { levels: [] });
    // Told once: a few more intervals bring no further empty report.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const empties = bob.peer
      .notifications('audioLevels')
      .filter((n) => (n.data.levels as unknown[]).length === 0).length;
    assert.equal(empties, 1, 'silence is told once');
    mic.close();
    assert.deepEqual((await bob.peer.nextNotification('activeSpeaker')).data, { peerId: null });
  });

  test('the one who speaks takes over from a silent microphone', async () => {
    const roomId = newRoomId('takeover');
    const alice = await joinAs(roomId, 'Alice');
    const bob = await joinAs(roomId, 'Bob');
    // Bob's microphone, silent (no RTP): dominant as long as it is the only one.
    await produceMic(bob, await transport(bob, 'send'));
    assert.deepEqual((await alice.peer.nextNotification('activeSpeaker')).data, { peerId: bob.peerId });
    // Speech-like: 200 ms syllables at -10 dBov between 200 ms pauses (a steady level looks
    // like background noise to the dominant speaker detection).
    const syllables = (seq: number) => (Math.floor(seq / 10) % 2 === 0 ? -10 : -100);
    const mic = await speakingMicrophone(await roomMediaOf(alice), alice.peerId, { level: syllables });
    try {
      await bob.peer.waitFor(
        'Alice to become the active speaker',
        (m) => m.method === 'activeSpeaker' && (m.data as { peerId: unknown }).peerId === alice.peerId,
        20_000,
      );
    } finally {
      mic.close();
    }
  });
});
