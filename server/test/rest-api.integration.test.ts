// The REST API for people and bots, against the real server on both databases: API tokens
// (made with the cookie only, secret shown once, scopes enforced, revoked and expired ones
// refused at once with their reason), my rooms (unread counts and the newest message each
// person may see, private ones included only for their two people), making a room (its
// maker is host), members, history pages, and posting: a bot's message is stored and told at
// once to everyone connected, in the room's order with the chat panel's messages, stored once
// for a retried clientId, and posted to a room nobody is in it is there for the next who
// joins. A cookie-carrying write from a page of another origin is refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatMessage, RoomListing } from '@meet/protocol';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer, waitUntil } from './support/raw-peer.js';

const allScopes = ['rooms:read', 'rooms:write', 'messages:read', 'messages:write'];

for (const database of ['embedded', 'postgres'] as const) {
  describe(`REST API (${database})`, () => {
    let server: TestServer;
    let ann: TestIdentity;
    let ben: TestIdentity;
    const peers: RawPeer[] = [];
    before(async () => {
      server = await startServer(
        { IDENTITY_RATE_LIMIT: '1000', API_RATE_LIMIT: '10000', CHAT_RATE: '1000', CHAT_BURST: '1000' },
        { database },
      );
      ann = await createIdentity(server.url, 'Ann');
      ben = await createIdentity(server.url, 'Ben');
    });
    after(async () => {
      await Promise.all(peers.map((peer) => peer.close()));
      await server?.close();
    });

    async function call(
      method: string,
      path: string,
      auth: { cookie?: string; bearer?: string; origin?: string },
      body?: unknown,
    ) {
      const headers: Record<string, string> = {};
      if (auth.cookie) headers.cookie = auth.cookie;
      if (auth.bearer) headers.authorization = `Bearer ${auth.bearer}`;
      if (auth.origin) headers.origin = auth.origin;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(new URL(path, server.url), {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await response.text();
      // The answers are read loosely here (their schemas are checked by openapi.integration.test.ts).
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      return { status: response.status, body: (text ? JSON.parse(text) : null) as Record<string, any> };
    }
    const token = async (who: TestIdentity, scopes: string[], name = 'test') => {
      const made = await call('POST', '/api/tokens', { cookie: who.cookie }, { name, scopes });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      return made.body as { token: { id: string; scopes: string[] }; secret: string };
    };
    async function joinAs(roomId: string, who: TestIdentity) {
      const peer = await RawPeer.connect(server, roomId, who);
      peers.push(peer);
      const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
      await peer.ok('join', { displayName: who.displayName, rtpCapabilities });
      return peer;
    }

    test('API tokens: made with the cookie only, shown once, scoped, revoked and expired ones refused', async () => {
      const made = await token(ann, ['rooms:read'], 'reader');
      assert.match(made.secret, /^meet_[A-Za-z0-9_-]{43}$/);
      const listed = await call('GET', '/api/tokens', { cookie: ann.cookie });
      assert.equal(listed.status, 200);
      const mine = listed.body.tokens as Array<Record<string, unknown>>;
      assert.ok(mine.some((t) => t.id === made.token.id && t.name === 'reader'));
      assert.ok(!JSON.stringify(listed.body).includes(made.secret), 'the secret is never listed');
      assert.equal((await call('GET', '/api/tokens', { cookie: ben.cookie })).body.tokens.length, 0);

      // In use: reads rooms, nothing beyond its scope, never makes tokens.
      assert.equal((await call('GET', '/api/rooms', { bearer: made.secret })).status, 200);
      const outOfScope = await call('POST', '/api/rooms', { bearer: made.secret }, {});
      assert.equal(outOfScope.status, 403);
      assert.match(outOfScope.body.message, /lacks the scope rooms:write/);
      const noTokens = await call(
        'POST',
        '/api/tokens',
        { bearer: made.secret },
        { name: 'x', scopes: ['rooms:read'] },
      );
      assert.equal(noTokens.status, 403);
      assert.match(noTokens.body.message, /signed in/);
      const row = await server.app.database.prisma.apiToken.findUniqueOrThrow({
        where: { id: made.token.id },
      });
      assert.ok(row.lastUsedAt, 'its last use is recorded');
      assert.notEqual(row.tokenHash, made.secret);

      // Another's token cannot be revoked; one's own is, and is refused at once.
      assert.equal(
        (await call('DELETE', `/api/tokens/${made.token.id}`, { cookie: ben.cookie })).status,
        404,
      );
      assert.equal(
        (await call('DELETE', `/api/tokens/${made.token.id}`, { cookie: ann.cookie })).status,
        204,
      );
      const revoked = await call('GET', '/api/rooms', { bearer: made.secret });
      assert.equal(revoked.status, 401);
      assert.match(revoked.body.message, /revoked/);

      // Expired.
      const old = await token(ann, ['rooms:read']);
      await server.app.database.prisma.apiToken.update({
        where: { id: old.token.id },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
      const expired = await call('GET', '/api/rooms', { bearer: old.secret });
      assert.equal(expired.status, 401);
      assert.match(expired.body.message, /expired/);
      assert.ok(
        !(await call('GET', '/api/tokens', { cookie: ann.cookie })).body.tokens.some(
          (t: { id: string }) => t.id === old.token.id,
        ),
      );

      // Malformed.
      for (const header of [`Basic ${made.secret}`, 'Bearer', `Bearer meet_short`]) {
        const response = await fetch(new URL('/api/rooms', server.url), {
          headers: { authorization: header },
        });
        assert.equal(response.status, 401, header);
        assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/);
      }
      const bad = await call(
        'POST',
        '/api/tokens',
        { cookie: ann.cookie },
        { name: 'x', scopes: ['rooms:read', 'rooms:read'] },
      );
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /each scope once/);
    });

    test('a bot posts: told at once to those connected, in order with theirs, once per clientId; it shares files', async () => {
      const roomId = `rest-post-${database}`;
      const annPeer = await joinAs(roomId, ann);
      const benPeer = await joinAs(roomId, ben);
      const bot = await token(ann, ['messages:write', 'messages:read']);
      await annPeer.ok('chatSend', { clientId: 'panel-0001', text: 'from the panel' });
      const posted = await call(
        'POST',
        `/api/rooms/${roomId}/messages`,
        { bearer: bot.secret },
        {
          clientId: 'bot-0001',
          text: 'deploy finished ✅',
        },
      );
      assert.equal(posted.status, 201, JSON.stringify(posted.body));
      const message = posted.body.message as ChatMessage;
      assert.equal(message.author?.id, ann.id, 'the bot posts as its token’s person');
      const received = (peer: RawPeer) =>
        peer.notifications('chatMessage').map((n) => (n.data as { message: ChatMessage }).message);
      for (const peer of [annPeer, benPeer])
        await waitUntil('the post reaches everyone connected', () =>
          received(peer).some((m) => m.id === message.id),
        );
      const benSaw = received(benPeer).map((m) => m.text);
      assert.deepEqual(benSaw, ['from the panel', 'deploy finished ✅'], 'in the room’s order');

      const retry = await call(
        'POST',
        `/api/rooms/${roomId}/messages`,
        { bearer: bot.secret },
        {
          clientId: 'bot-0001',
          text: 'deploy finished ✅',
        },
      );
      assert.equal(retry.status, 200, 'a retry answers the stored message');
      assert.equal(retry.body.message.id, message.id);
      await annPeer.ok('chatSend', { clientId: 'panel-0002', text: 'marker' });
      await waitUntil('Ben gets the marker', () => received(benPeer).some((m) => m.text === 'marker'));
      assert.equal(received(benPeer).filter((m) => m.text === 'deploy finished ✅').length, 1, 'told once');

      const page = await call('GET', `/api/rooms/${roomId}/messages?limit=2`, { bearer: bot.secret });
      assert.equal(page.status, 200);
      assert.deepEqual(
        page.body.messages.map((m: ChatMessage) => m.text),
        ['marker', 'deploy finished ✅'],
      );
      assert.equal(page.body.hasMore, true);
      const older = await call('GET', `/api/rooms/${roomId}/messages?beforeSeq=${message.seq}`, {
        bearer: bot.secret,
      });
      assert.deepEqual(
        older.body.messages.map((m: ChatMessage) => m.text),
        ['from the panel'],
      );
      assert.equal(older.body.hasMore, false);

      // A bot shares a file: uploaded and posted with its token, downloaded with messages:read.
      const upload = async (secret: string) => {
        const form = new FormData();
        form.append('file', new Blob(['build log: all green']), 'build.log');
        return fetch(new URL(`/api/rooms/${roomId}/attachments`, server.url), {
          method: 'POST',
          headers: { authorization: `Bearer ${secret}` },
          body: form,
        });
      };
      const reader = await token(ann, ['messages:read']);
      const refusedUpload = await upload(reader.secret);
      assert.equal(refusedUpload.status, 403);
      assert.match(
        ((await refusedUpload.json()) as { message: string }).message,
        /lacks the scope messages:write/,
      );
      const uploaded = await upload(bot.secret);
      assert.equal(uploaded.status, 201);
      const { attachment } = (await uploaded.json()) as { attachment: { id: string; url: string } };
      const withFile = await call(
        'POST',
        `/api/rooms/${roomId}/messages`,
        { bearer: bot.secret },
        {
          clientId: 'bot-file-0001',
          text: 'the log',
          attachmentId: attachment.id,
        },
      );
      assert.equal(withFile.status, 201);
      const download = await fetch(new URL(attachment.url, server.url), {
        headers: { authorization: `Bearer ${reader.secret}` },
      });
      assert.equal(download.status, 200);
      assert.equal(await download.text(), 'build log: all green');

      const outsider = await createIdentity(server.url, 'Out');
      const refused = await call(
        'POST',
        `/api/rooms/${roomId}/messages`,
        { cookie: outsider.cookie },
        {
          clientId: 'out-00001',
          text: 'let me in',
        },
      );
      assert.equal(refused.status, 404);
      assert.equal(
        (await call('GET', `/api/rooms/${roomId}/messages`, { cookie: outsider.cookie })).status,
        404,
      );
    });

    test('posted to a room nobody is in: stored, and there for the next who joins; the room closes again', async () => {
      const roomId = `rest-quiet-${database}`;
      const annPeer = await joinAs(roomId, ann);
      await annPeer.close();
      await waitUntil('the room closes', () => server.app.rooms.get(roomId) === undefined);
      const posted = await call(
        'POST',
        `/api/rooms/${roomId}/messages`,
        { cookie: ann.cookie },
        {
          clientId: 'quiet-0001',
          text: 'while you were away',
        },
      );
      assert.equal(posted.status, 201);
      assert.equal(server.app.rooms.get(roomId), undefined, 'opened for the post, closed after it');
      const again = await joinAs(roomId, ann);
      const history = await again.ok<{ messages: ChatMessage[] }>('chatHistory', {});
      assert.deepEqual(
        history.messages.map((m) => m.text),
        ['while you were away'],
      );
    });

    test('my rooms: unread counts and the newest message each may see; making a room; members', async () => {
      const roomId = `rest-mine-${database}`;
      const made = await call('POST', '/api/rooms', { cookie: ann.cookie }, { id: roomId });
      assert.equal(made.status, 201);
      assert.equal(made.body.room.role, 'host');
      assert.equal(made.body.room.unread, 0);
      assert.equal(made.body.room.lastMessage, null);
      assert.equal((await call('POST', '/api/rooms', { cookie: ben.cookie }, { id: roomId })).status, 409);
      const random = await call('POST', '/api/rooms', { cookie: ann.cookie }, {});
      assert.equal(random.status, 201);
      assert.match(random.body.room.id, /^[a-z0-9]{4}(-[a-z0-9]{4}){4}$/);

      // Ben joins (a member); Ann writes twice, once privately to Ben, and Ben once.
      const benPeer = await joinAs(roomId, ben);
      const annPeer = await joinAs(roomId, ann);
      await annPeer.ok('chatSend', { clientId: 'mine-0001', text: 'one' });
      await annPeer.ok('chatSend', { clientId: 'mine-0002', text: 'psst', recipientId: ben.id });
      await benPeer.ok('chatSend', { clientId: 'mine-0003', text: 'reply' });
      const mine = async (who: TestIdentity) =>
        (await call('GET', '/api/rooms', { cookie: who.cookie })).body.rooms as Array<{
          id: string;
          unread: number;
          role: string;
          lastMessage: ChatMessage | null;
        }>;
      const benRoom = (await mine(ben)).find((r) => r.id === roomId);
      assert.equal(benRoom?.role, 'member');
      assert.equal(benRoom?.unread, 2, 'Ann’s two, the private one included; not his own');
      assert.equal(benRoom?.lastMessage?.text, 'reply');
      const annRoom = (await mine(ann)).find((r) => r.id === roomId);
      assert.equal(annRoom?.unread, 1);
      assert.equal((await mine(ann))[0]?.id, roomId, 'the most recently active first');
      // A third member sees neither the private message nor counts it.
      const cid = await createIdentity(server.url, 'Cid');
      await joinAs(roomId, cid);
      await annPeer.ok('chatSend', { clientId: 'mine-0004', text: 'secret', recipientId: ben.id });
      const cidRoom = (await mine(cid)).find((r) => r.id === roomId);
      assert.equal(cidRoom?.unread, 2, 'one and reply, not the private ones');
      assert.equal(cidRoom?.lastMessage?.text, 'reply');
      // Reading moves the count.
      const newest = (await mine(ben)).find((r) => r.id === roomId)?.lastMessage?.seq as string;
      await benPeer.ok('chatMarkRead', { seq: newest });
      assert.equal((await mine(ben)).find((r) => r.id === roomId)?.unread, 0);

      const one = await call('GET', `/api/rooms/${roomId}`, { cookie: cid.cookie });
      assert.equal(one.status, 200);
      assert.equal(one.body.room.id, roomId);
      const members = await call('GET', `/api/rooms/${roomId}/members`, { cookie: cid.cookie });
      assert.deepEqual(
        members.body.members.map((m: { displayName: string; role: string }) => `${m.displayName} ${m.role}`),
        ['Ann host', 'Ben member', 'Cid member'],
      );
      const stranger = await createIdentity(server.url, 'Stranger');
      assert.equal((await call('GET', `/api/rooms/${roomId}`, { cookie: stranger.cookie })).status, 404);
      assert.equal(
        (await call('GET', `/api/rooms/${roomId}/members`, { cookie: stranger.cookie })).status,
        404,
      );
    });

    test('who is connected shows in my rooms; hosts name the room (told live), members star and leave', async () => {
      const roomId = `rest-people-${database}`;
      const annPeer = await joinAs(roomId, ann);
      const benPeer = await joinAs(roomId, ben);
      const roomFor = async (who: TestIdentity) =>
        ((await call('GET', '/api/rooms', { cookie: who.cookie })).body.rooms as RoomListing[]).find(
          (r) => r.id === roomId,
        );
      assert.deepEqual((await roomFor(ann))?.present, [
        { identityId: ann.id, displayName: 'Ann', inCall: false, away: false, busy: false },
        { identityId: ben.id, displayName: 'Ben', inCall: false, away: false, busy: false },
      ]);
      // Ben enters the call (media transports) and a second tab of his goes away: still in the call.
      await benPeer.ok('createWebRtcTransport', { direction: 'recv' });
      const benTab = await joinAs(roomId, ben);
      await benTab.ok('setPresence', { away: true });
      const present = (await roomFor(ann))?.present as Array<Record<string, unknown>>;
      assert.deepEqual(
        present.find((p) => p.identityId === ben.id),
        {
          identityId: ben.id,
          displayName: 'Ben',
          inCall: true,
          away: false,
          busy: false,
        },
      );

      // Ann (host) names it: everyone connected is told; Ben (member) may not.
      const named = await call(
        'PATCH',
        `/api/rooms/${roomId}`,
        { cookie: ann.cookie },
        { name: ' Team ', topic: 'Plans' },
      );
      assert.equal(named.status, 200, JSON.stringify(named.body));
      assert.equal(named.body.room.name, 'Team');
      const { data } = await benPeer.nextNotification('roomUpdated');
      assert.deepEqual(data, { name: 'Team', topic: 'Plans' });
      const refused = await call('PATCH', `/api/rooms/${roomId}`, { cookie: ben.cookie }, { name: 'Mine' });
      assert.equal(refused.status, 403);
      assert.match(refused.body.message, /only a host/);
      const cleared = await call('PATCH', `/api/rooms/${roomId}`, { cookie: ann.cookie }, { topic: '' });
      assert.equal(cleared.body.room.topic, null);
      assert.equal(cleared.body.room.name, 'Team', 'what is not given stays');

      // Starred rooms come first.
      const other = `rest-people-other-${database}`;
      await call('POST', '/api/rooms', { cookie: ben.cookie }, { id: other });
      assert.equal((await call('GET', '/api/rooms', { cookie: ben.cookie })).body.rooms[0].id, other);
      assert.equal(
        (await call('PUT', `/api/rooms/${roomId}/star`, { cookie: ben.cookie }, { starred: true })).status,
        204,
      );
      const starred = (await call('GET', '/api/rooms', { cookie: ben.cookie })).body.rooms;
      assert.equal(starred[0].id, roomId);
      assert.equal(starred[0].starred, true);

      // Ann is the only host: she may not leave while Ben is a member; Ben may, and his tabs close.
      const stay = await call('DELETE', `/api/rooms/${roomId}/membership`, { cookie: ann.cookie });
      assert.equal(stay.status, 409);
      assert.match(stay.body.message, /only host/);
      assert.equal(
        (await call('DELETE', `/api/rooms/${roomId}/membership`, { cookie: ben.cookie })).status,
        204,
      );
      for (const tab of [benPeer, benTab]) {
        const { data: removed } = await tab.nextNotification('removed');
        assert.deepEqual(removed, { reason: 'you left this room' });
        await tab.waitClosed();
      }
      assert.equal(await roomFor(ben), undefined, 'no longer his');
      assert.equal((await call('GET', `/api/rooms/${roomId}/messages`, { cookie: ben.cookie })).status, 404);
      assert.deepEqual(
        ((await roomFor(ann))?.present as Array<{ displayName: string }>).map((p) => p.displayName),
        ['Ann'],
      );
      // Now alone, Ann may leave.
      assert.equal(
        (await call('DELETE', `/api/rooms/${roomId}/membership`, { cookie: ann.cookie })).status,
        204,
      );
      await annPeer.nextNotification('removed');
    });

    test('a cookie-carrying write from another origin’s page is refused; reads and tokens are not origin-bound', async () => {
      const foreign = await call(
        'POST',
        '/api/rooms',
        { cookie: ann.cookie, origin: 'https://evil.example' },
        {},
      );
      assert.equal(foreign.status, 403);
      assert.match(foreign.body.message, /evil\.example may not change anything/);
      assert.equal(
        (await call('GET', '/api/rooms', { cookie: ann.cookie, origin: 'https://evil.example' })).status,
        200,
      );
      const bot = await token(ann, allScopes);
      assert.equal(
        (await call('POST', '/api/rooms', { bearer: bot.secret, origin: 'https://evil.example' }, {})).status,
        201,
      );
    });
  });
}
