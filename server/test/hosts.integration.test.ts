// Hosts control their rooms, over the real signaling socket and on both databases (roles and
// the lock are stored): the creator is host (exactly one, even when many join a new room at
// once), a locked room's newcomers wait in the lobby until a host admits or refuses them,
// a removed participant cannot come back into a locked room, a host can pause someone's
// microphone or camera (only its owner resumes it), ends the meeting for everyone, and
// raised hands are queued in order. Every host-only request by a member is refused (403).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { requests } from '@meet/protocol';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer, opusRtpParameters, waitUntil } from './support/raw-peer.js';

/** RTP parameters of a VP8 camera track the room's routers accept. */
function vp8RtpParameters(ssrc = 22_222_222) {
  return {
    mid: '1',
    codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000, parameters: {}, rtcpFeedback: [] }],
    headerExtensions: [],
    encodings: [{ ssrc }],
    rtcp: { cname: `cname-${ssrc}` },
  };
}

interface Joined {
  peer: RawPeer;
  peerId: string;
  identity: TestIdentity;
  response: Record<string, unknown>;
}

const JOIN_TIMEOUT_MS = 1500;

for (const database of ['embedded', 'postgres'] as const) {
  describe(`hosts (${database})`, () => {
    let server: TestServer;
    let caps: Record<string, unknown>;
    const peers: RawPeer[] = [];
    let counter = 0;
    const newRoomId = (label: string) => `${label}-${database}-${process.pid}-${++counter}`;

    before(async () => {
      // A short join timeout: someone waiting in the lobby must outlast it.
      server = await startServer(
        { JOIN_TIMEOUT: String(JOIN_TIMEOUT_MS), IDENTITY_RATE_LIMIT: '1000' },
        { database },
      );
      const probe = await RawPeer.connect(server, 'caps-probe', 'Probe');
      caps = await probe.ok('getRouterRtpCapabilities', {});
      await probe.close();
    });

    after(async () => {
      await Promise.all(peers.map((peer) => peer.close()));
      await server?.close();
    });

    async function open(roomId: string, who: string | TestIdentity): Promise<RawPeer> {
      const peer = await RawPeer.connect(server, roomId, who);
      peers.push(peer);
      return peer;
    }

    /** Connects and sends join; the answer may be 'joined' or 'waiting'. */
    async function knock(roomId: string, who: string | TestIdentity, name?: string): Promise<Joined> {
      const identity = typeof who === 'string' ? await createIdentity(server.url, who) : who;
      const peer = await open(roomId, identity);
      const response = await peer.ok('join', {
        displayName: name ?? (typeof who === 'string' ? who : identity.displayName),
        rtpCapabilities: caps,
      });
      assert.ok(requests.join.response.safeParse(response).success, JSON.stringify(response));
      return { peer, peerId: response.peerId as string, identity, response };
    }

    async function join(roomId: string, who: string | TestIdentity, name?: string): Promise<Joined> {
      const joined = await knock(roomId, who, name);
      assert.equal(joined.response.status, 'joined', JSON.stringify(joined.response));
      return joined;
    }

    function roomOf(roomId: string) {
      const room = server.app.rooms.get(roomId);
      assert.ok(room, `room ${roomId} is open`);
      return room;
    }

    async function roleInDb(roomId: string, identityId: string): Promise<string | undefined> {
      const row = await server.app.database.prisma.membership.findUnique({
        where: { roomId_identityId: { roomId, identityId } },
      });
      return row?.role;
    }

    /** `who` sends its microphone or camera (on its send transport, made on first use). */
    async function produce(roomId: string, who: Joined, source: 'mic' | 'webcam'): Promise<string> {
      const transports = roomOf(roomId).participants.get(who.peerId)?.transports.values() ?? [];
      let transportId = [...transports].find((t) => t.appData.direction === 'send')?.id;
      transportId ??= (await who.peer.ok<{ id: string }>('createWebRtcTransport', { direction: 'send' })).id;
      const { id } = await who.peer.ok<{ id: string }>('produce', {
        transportId,
        kind: source === 'mic' ? 'audio' : 'video',
        rtpParameters: source === 'mic' ? opusRtpParameters() : vp8RtpParameters(),
        source,
      });
      return id;
    }

    test('the creator is host, later members are not; join says role, lock, hands and lobby', async () => {
      const roomId = newRoomId('roles');
      const alice = await join(roomId, 'Alice');
      assert.deepEqual(
        { ...alice.response, peerId: undefined, identityId: undefined },
        {
          status: 'joined',
          peerId: undefined,
          identityId: undefined,
          displayName: 'Alice',
          peers: [],
          role: 'host',
          locked: false,
          hands: [],
          lobby: [],
          selfStatus: 'available',
          activeSpeaker: null,
        },
      );
      const bob = await join(roomId, 'Bob');
      assert.equal(bob.response.role, 'member');
      assert.deepEqual(
        (bob.response.peers as Array<{ id: string; role: string }>).map((p) => [p.id, p.role]),
        [[alice.peerId, 'host']],
      );
      const joined = await alice.peer.nextNotification('peerJoined');
      assert.equal(joined.data.role, 'member');
      assert.equal(await roleInDb(roomId, alice.identity.id), 'host');
      assert.equal(await roleInDb(roomId, bob.identity.id), 'member');
      // The creator coming back (a new connection) is still host.
      await alice.peer.close();
      const again = await join(roomId, alice.identity, 'Alice');
      assert.equal(again.response.role, 'host');
    });

    test('many first joins of a new room at once: all get in, exactly one is host', async () => {
      const roomId = newRoomId('race');
      const identities = await Promise.all(
        Array.from({ length: 8 }, (_, i) => createIdentity(server.url, `Racer ${i}`)),
      );
      const opened = await Promise.all(
        identities.map((identity) => RawPeer.open(server.wsUrl(roomId), identity)),
      );
      peers.push(...opened);
      const responses = await Promise.all(
        opened.map((peer, i) => peer.ok('join', { displayName: `Racer ${i}`, rtpCapabilities: caps })),
      );
      assert.deepEqual(
        responses.map((r) => r.status),
        Array(8).fill('joined'),
      );
      assert.equal(responses.filter((r) => r.role === 'host').length, 1, JSON.stringify(responses));
      const hosts = await server.app.database.prisma.membership.count({ where: { roomId, role: 'host' } });
      const members = await server.app.database.prisma.membership.count({ where: { roomId } });
      assert.deepEqual([hosts, members], [1, 8]);
    });

    test('locked: newcomers wait in the lobby (the join answers at once), hosts admit or refuse', async () => {
      const roomId = newRoomId('lobby');
      const alice = await join(roomId, 'Alice');
      const bob = await join(roomId, 'Bob');
      await bob.peer.fails('setRoomLocked', { locked: true }, 403, /only a host can lock/);
      assert.deepEqual(await alice.peer.ok('setRoomLocked', { locked: true }), {});
      assert.deepEqual((await bob.peer.nextNotification('roomLocked')).data, { locked: true });
      assert.deepEqual((await alice.peer.nextNotification('roomLocked')).data, { locked: true });
      const stored = await server.app.database.prisma.room.findUniqueOrThrow({ where: { id: roomId } });
      assert.equal(stored.locked, true, 'the lock is stored');

      // A newcomer knocks: answered 'waiting' at once; the hosts see them in the lobby.
      const nia = await knock(roomId, 'Nia');
      assert.deepEqual(nia.response, { status: 'waiting', peerId: nia.peerId, identityId: nia.identity.id });
      const lobby = (await alice.peer.nextNotification('lobbyUpdated')).data.lobby as Array<
        Record<string, unknown>
      >;
      assert.deepEqual(
        lobby.map((e) => [e.peerId, e.displayName, e.identityId]),
        [[nia.peerId, 'Nia', nia.identity.id]],
      );
      assert.equal(bob.peer.notifications('lobbyUpdated').length, 0, 'members do not see the lobby');
      assert.equal(bob.peer.notifications('peerJoined').length, 0, 'no one is told of a waiting person');
      // Asking again while waiting: still waiting, not listed twice.
      assert.equal(
        (await nia.peer.ok('join', { displayName: 'Nia', rtpCapabilities: caps })).status,
        'waiting',
      );
      // Waiting outlasts the join timeout; nothing but join and leave is allowed meanwhile.
      await new Promise((resolve) => setTimeout(resolve, JOIN_TIMEOUT_MS + 500));
      assert.equal(nia.peer.isOpen, true, 'someone in the lobby is not timed out');
      await nia.peer.fails('chatHistory', {}, 403, /join the room/);
      await nia.peer.fails('raiseHand', {}, 403, /join the room/);
      // A member gets in directly, even while the room is locked; a host joining sees the lobby.
      await bob.peer.close();
      const bobAgain = await join(roomId, bob.identity, 'Bob');
      assert.equal(bobAgain.response.locked, true);
      assert.deepEqual(bobAgain.response.lobby, [], 'members are not shown the lobby');

      await bobAgain.peer.fails('admit', { peerId: nia.peerId }, 403, /only a host/);
      await alice.peer.fails('admit', { peerId: bobAgain.peerId }, 404, /not waiting in the lobby/);
      await alice.peer.fails('admit', { peerId: 'nobody' }, 404, /not waiting in the lobby/);
      assert.deepEqual(await alice.peer.ok('admit', { peerId: nia.peerId }), {});
      await nia.peer.nextNotification('admitted');
      assert.deepEqual((await alice.peer.nextNotification('lobbyUpdated')).data, { lobby: [] });
      const niaIn = await nia.peer.ok('join', { displayName: 'Nia', rtpCapabilities: caps });
      assert.equal(niaIn.status, 'joined');
      assert.equal(niaIn.role, 'member');
      assert.equal((await bobAgain.peer.nextNotification('peerJoined')).data.displayName, 'Nia');
      assert.equal(await roleInDb(roomId, nia.identity.id), 'member', 'admitted: now a member');

      // Another knocks and is refused: told why, then disconnected.
      const otto = await knock(roomId, 'Otto');
      assert.equal(otto.response.status, 'waiting');
      await alice.peer.nextNotification('lobbyUpdated');
      assert.deepEqual(await alice.peer.ok('refuse', { peerId: otto.peerId }), {});
      assert.match(
        String((await otto.peer.nextNotification('refused')).data.reason),
        /Alice did not let you in/,
      );
      const closed = await otto.peer.waitClosed();
      assert.equal(closed.code, 4000);
      assert.match(closed.reason, /did not let you in/);
      assert.deepEqual((await alice.peer.nextNotification('lobbyUpdated')).data, { lobby: [] });
      assert.equal(await roleInDb(roomId, otto.identity.id), undefined, 'refused: not a member');

      // Someone waiting who gives up leaves the lobby.
      const quitter = await knock(roomId, 'Quitter');
      await alice.peer.nextNotification('lobbyUpdated');
      await quitter.peer.close();
      assert.deepEqual((await alice.peer.nextNotification('lobbyUpdated')).data, { lobby: [] });

      // Unlocking lets everyone waiting in.
      const pia = await knock(roomId, 'Pia');
      const ray = await knock(roomId, 'Ray');
      await waitUntil('two waiting', () => roomOf(roomId).hosts.lobbySize === 2);
      await alice.peer.ok('setRoomLocked', { locked: false });
      await pia.peer.nextNotification('admitted');
      await ray.peer.nextNotification('admitted');
      assert.equal(
        (await pia.peer.ok('join', { displayName: 'Pia', rtpCapabilities: caps })).status,
        'joined',
      );
      // And newcomers now walk in.
      const sam = await knock(roomId, 'Sam');
      assert.equal(sam.response.status, 'joined');
    });

    test('a removed participant is told, disconnected, no longer a member, and waits if the room is locked', async () => {
      const roomId = newRoomId('remove');
      const alice = await join(roomId, 'Alice');
      const bob = await join(roomId, 'Bob');
      const carol = await join(roomId, 'Carol');
      // Bob in a second tab: both connections go.
      const bobTab = await join(roomId, bob.identity, 'Bob');
      await carol.peer.fails('removeParticipant', { peerId: bob.peerId }, 403, /only a host can remove/);
      await alice.peer.fails('removeParticipant', { peerId: alice.peerId }, 400, /cannot remove themselves/);
      await alice.peer.fails('removeParticipant', { peerId: 'nobody' }, 404, /not in this room/);
      await alice.peer.ok('setRoomLocked', { locked: true });

      assert.deepEqual(await alice.peer.ok('removeParticipant', { peerId: bob.peerId }), {});
      for (const tab of [bob, bobTab]) {
        assert.match(String((await tab.peer.nextNotification('removed')).data.reason), /Alice removed you/);
        const closed = await tab.peer.waitClosed();
        assert.equal(closed.code, 4000);
        assert.match(closed.reason, /removed you/);
      }
      const left = new Set<string>();
      await waitUntil('Carol to see both of Bob\u2019s connections leave', () => {
        for (const n of carol.peer.notifications('peerLeft')) left.add(n.data.peerId as string);
        return left.has(bob.peerId) && left.has(bobTab.peerId);
      });
      assert.equal(await roleInDb(roomId, bob.identity.id), undefined, 'the membership is gone');
      const attachmentsRefused = await fetch(`${server.url}/api/rooms/${roomId}/attachments`, {
        method: 'POST',
        headers: { cookie: bob.identity.cookie, 'content-type': 'multipart/form-data; boundary=x' },
        body: '--x\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x--\r\n',
      });
      assert.equal(attachmentsRefused.status, 403, 'no longer a member: no uploads');

      // Back with the same identity: the room is locked, so Bob waits in the lobby.
      const back = await knock(roomId, bob.identity, 'Bob');
      assert.equal(back.response.status, 'waiting');
      await back.peer.fails('chatHistory', {}, 403, /join the room/);
    });

    test('a host pauses someone\u2019s microphone or camera; only its owner resumes it', async () => {
      const roomId = newRoomId('mute');
      const alice = await join(roomId, 'Alice');
      const bob = await join(roomId, 'Bob');
      const carol = await join(roomId, 'Carol');
      const mic = await produce(roomId, bob, 'mic');
      const cam = await produce(roomId, bob, 'webcam');
      const serverBob = roomOf(roomId).participants.get(bob.peerId);
      assert.ok(serverBob);

      await carol.peer.fails('muteParticipant', { peerId: bob.peerId, source: 'mic' }, 403, /only a host/);
      await alice.peer.fails('muteParticipant', { peerId: 'nobody', source: 'mic' }, 404, /not in this room/);
      await alice.peer.fails(
        'muteParticipant',
        { peerId: carol.peerId, source: 'mic' },
        404,
        /not sending a microphone/,
      );

      assert.deepEqual(await alice.peer.ok('muteParticipant', { peerId: bob.peerId, source: 'mic' }), {});
      assert.equal(serverBob.producers.get(mic)?.paused, true, 'paused on the server');
      assert.deepEqual((await bob.peer.nextNotification('mutedByHost')).data, {
        source: 'mic',
        producerId: mic,
        by: 'Alice',
      });
      for (const other of [alice, carol])
        assert.deepEqual((await other.peer.nextNotification('producerPaused')).data, {
          peerId: bob.peerId,
          producerId: mic,
        });
      assert.equal(bob.peer.notifications('producerPaused').length, 0, 'the owner hears mutedByHost instead');
      // Muting again changes nothing and tells no one.
      await alice.peer.ok('muteParticipant', { peerId: bob.peerId, source: 'mic' });
      // No one else can resume it: it is not their producer.
      await alice.peer.fails('resumeProducer', { producerId: mic }, 404, /not one of this participant/);
      await carol.peer.fails('resumeProducer', { producerId: mic }, 404, /not one of this participant/);
      assert.equal(serverBob.producers.get(mic)?.paused, true);
      // Bob unmutes himself: everyone hears him again.
      await bob.peer.ok('resumeProducer', { producerId: mic });
      assert.equal(serverBob.producers.get(mic)?.paused, false);
      assert.deepEqual((await carol.peer.nextNotification('producerResumed')).data, {
        peerId: bob.peerId,
        producerId: mic,
      });

      // The camera the same way.
      await alice.peer.ok('muteParticipant', { peerId: bob.peerId, source: 'webcam' });
      assert.equal(serverBob.producers.get(cam)?.paused, true);
      assert.equal((await bob.peer.nextNotification('mutedByHost')).data.source, 'webcam');
      assert.equal((await carol.peer.nextNotification('producerPaused')).data.producerId, cam);
      assert.equal(bob.peer.notifications('mutedByHost').length, 2);
    });

    test('a host makes others hosts (stored), never changes their own role', async () => {
      const roomId = newRoomId('role');
      const alice = await join(roomId, 'Alice');
      const bob = await join(roomId, 'Bob');
      const carol = await join(roomId, 'Carol');
      await bob.peer.fails(
        'setRole',
        { peerId: carol.peerId, role: 'host' },
        403,
        /only a host can change roles/,
      );
      await alice.peer.fails('setRole', { peerId: alice.peerId, role: 'member' }, 400, /their own role/);
      await alice.peer.fails('setRole', { peerId: 'nobody', role: 'host' }, 404, /not in this room/);
      await alice.peer.ok('setRoomLocked', { locked: true });
      const waiting = await knock(roomId, 'Wes');
      assert.equal(waiting.response.status, 'waiting');

      assert.deepEqual(await alice.peer.ok('setRole', { peerId: bob.peerId, role: 'host' }), {});
      for (const who of [alice, bob, carol])
        assert.deepEqual((await who.peer.nextNotification('roleChanged')).data, {
          peerId: bob.peerId,
          role: 'host',
        });
      // The new host is shown the lobby, and can act as host.
      const lobby = (await bob.peer.nextNotification('lobbyUpdated')).data.lobby as Array<{ peerId: string }>;
      assert.deepEqual(
        lobby.map((e) => e.peerId),
        [waiting.peerId],
      );
      assert.equal(await roleInDb(roomId, bob.identity.id), 'host');
      await bob.peer.ok('admit', { peerId: waiting.peerId });
      await waiting.peer.nextNotification('admitted');
      // Bob reconnecting is still host.
      await bob.peer.close();
      const bobAgain = await join(roomId, bob.identity, 'Bob');
      assert.equal(bobAgain.response.role, 'host');
      // ... until a host makes him a member again.
      await alice.peer.ok('setRole', { peerId: bobAgain.peerId, role: 'member' });
      assert.equal((await bobAgain.peer.nextNotification('roleChanged')).data.role, 'member');
      await bobAgain.peer.fails('setRoomLocked', { locked: false }, 403, /only a host/);
    });

    test('every host-only request by a member is refused (403) and changes nothing', async () => {
      const roomId = newRoomId('forbidden');
      const alice = await join(roomId, 'Alice');
      const bob = await join(roomId, 'Bob');
      const asks: Array<[string, unknown]> = [
        ['setRoomLocked', { locked: true }],
        ['admit', { peerId: alice.peerId }],
        ['refuse', { peerId: alice.peerId }],
        ['removeParticipant', { peerId: alice.peerId }],
        ['muteParticipant', { peerId: alice.peerId, source: 'mic' }],
        ['setRole', { peerId: bob.peerId, role: 'host' }],
        ['endMeeting', {}],
        ['lowerHand', { peerId: alice.peerId }],
      ];
      for (const [method, data] of asks) await bob.peer.fails(method, data, 403, /only a host can/);
      assert.equal(alice.peer.isOpen && bob.peer.isOpen, true);
      assert.equal(await roleInDb(roomId, bob.identity.id), 'member');
      const stored = await server.app.database.prisma.room.findUniqueOrThrow({ where: { id: roomId } });
      assert.equal(stored.locked, false);
    });

    test('a host ends the meeting: everyone (the lobby too) is told and disconnected', async () => {
      const roomId = newRoomId('end');
      const alice = await join(roomId, 'Alice');
      const bob = await join(roomId, 'Bob');
      const carol = await join(roomId, 'Carol');
      await alice.peer.ok('setRoomLocked', { locked: true });
      const waiting = await knock(roomId, 'Wes');
      assert.equal(waiting.response.status, 'waiting');
      assert.deepEqual(await alice.peer.ok('endMeeting', {}), {}, 'the host is answered first');
      for (const who of [alice, bob, carol, waiting]) {
        assert.match(
          String((await who.peer.nextNotification('meetingEnded')).data.reason),
          /Alice ended the meeting/,
        );
        const closed = await who.peer.waitClosed();
        assert.equal(closed.code, 4000);
        assert.match(closed.reason, /ended the meeting/);
      }
      await waitUntil('the room to close', () => server.app.rooms.get(roomId) === undefined);
    });

    test('raised hands are queued in order; hosts lower others\u2019, members only their own', async () => {
      const roomId = newRoomId('hands');
      const alice = await join(roomId, 'Alice');
      const bob = await join(roomId, 'Bob');
      const carol = await join(roomId, 'Carol');
      const handsOf = (data: Record<string, unknown>) =>
        (data.hands as Array<{ peerId: string; raisedAt: string }>).map((h) => h.peerId);

      await bob.peer.ok('raiseHand', {});
      assert.deepEqual(handsOf((await alice.peer.nextNotification('handsUpdated')).data), [bob.peerId]);
      await carol.peer.ok('raiseHand', {});
      await bob.peer.ok('raiseHand', {}); // again: keeps his place
      const queue = (await alice.peer.nextNotification('handsUpdated')).data;
      assert.deepEqual(handsOf(queue), [bob.peerId, carol.peerId]);
      assert.ok(
        (queue.hands as Array<{ raisedAt: string }>).every((h) => !Number.isNaN(Date.parse(h.raisedAt))),
      );
      // Everyone sees the queue, the one who raised too; a newcomer learns it on joining.
      await waitUntil('Bob and Carol to see the queue', () =>
        [bob, carol].every((who) => who.peer.notifications('handsUpdated').length === 2),
      );
      assert.equal(alice.peer.notifications('handsUpdated').length, 2, 'the repeated raise told no one');
      const dave = await join(roomId, 'Dave');
      assert.deepEqual(handsOf(dave.response), [bob.peerId, carol.peerId]);

      await dave.peer.fails('lowerHand', { peerId: bob.peerId }, 403, /only a host can lower/);
      await alice.peer.fails('lowerHand', { peerId: 'nobody' }, 404, /not in this room/);
      await bob.peer.ok('lowerHand', {});
      assert.deepEqual(handsOf((await dave.peer.nextNotification('handsUpdated')).data), [carol.peerId]);
      await alice.peer.ok('lowerHand', { peerId: carol.peerId });
      assert.deepEqual(handsOf((await dave.peer.nextNotification('handsUpdated')).data), []);
      // Someone who leaves with a hand up leaves the queue.
      await dave.peer.ok('raiseHand', {});
      const aliceSees = () => alice.peer.notifications('handsUpdated').map((n) => handsOf(n.data));
      await waitUntil('Alice to see Dave\u2019s hand', () => aliceSees().at(-1)?.[0] === dave.peerId);
      await dave.peer.close();
      await waitUntil('Alice to see the queue empty', () => aliceSees().at(-1)?.length === 0);
      assert.deepEqual(aliceSees(), [
        [bob.peerId],
        [bob.peerId, carol.peerId],
        [carol.peerId],
        [],
        [dave.peerId],
        [],
      ]);
    });
  });
}
