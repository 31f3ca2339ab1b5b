// Accounts and sessions against the real server, on both databases: a guest who signs up
// keeps their identity (rooms, history); signing in from another browser merges that
// browser's guest into the account (its rooms, messages and reactions move; its open tab is
// closed with the reason) and both browsers are sessions of the account; wrong passwords and
// unknown emails get the same 401; sessions are listed, one is revoked from the other browser
// (its cookie stops working and its open tab closes), sign out and sign out everywhere. With
// GUEST_ACCESS=false, no guest is made or let in, while accounts and room-token holders are.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import type { ChatMessage } from '@meet/protocol';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer } from './support/raw-peer.js';

const password = 'correct horse battery';

/** A browser: its cookie, as the server last set it. */
class Browser {
  cookie = '';
  constructor(readonly server: TestServer) {}

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(new URL(path, this.server.url), {
      method,
      headers: {
        ...headers,
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const set = response.headers.get('set-cookie');
    if (set) {
      const pair = set.split(';')[0] ?? '';
      this.cookie = /=$/.test(pair) || /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(set) ? '' : pair;
    }
    const text = await response.text();
    return {
      status: response.status,
      body: (text ? JSON.parse(text) : null) as Record<string, unknown>,
      set,
    };
  }

  identity(): TestIdentity {
    return { id: '', displayName: '', cookie: this.cookie };
  }
}

async function joined(server: TestServer, roomId: string, cookie: string, name: string) {
  const peer = await RawPeer.connect(server, roomId, { id: '', displayName: name, cookie });
  const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
  await peer.ok('join', { displayName: name, rtpCapabilities });
  return peer;
}

for (const database of ['embedded', 'postgres'] as const) {
  describe(`accounts and sessions (${database})`, () => {
    let server: TestServer;
    const peers: RawPeer[] = [];
    before(async () => {
      server = await startServer({ IDENTITY_RATE_LIMIT: '1000', AUTH_RATE_LIMIT: '1000' }, { database });
    });
    after(async () => {
      await Promise.all(peers.map((peer) => peer.close()));
      await server?.close();
    });

    test('a guest signs up and keeps their rooms; signing in elsewhere merges that browser’s guest', async () => {
      const email = `ada-${database}@example.com`;
      // Browser 1: a guest in a room, with a message; signs up.
      const one = new Browser(server);
      one.cookie = (await createIdentity(server.url, 'Ada')).cookie;
      const guestOne = (await one.call('GET', '/api/account')).body.account as { identity: { id: string } };
      const roomA = `acct-a-${database}`;
      const peerA = await joined(server, roomA, one.cookie, 'Ada');
      peers.push(peerA);
      await peerA.ok('chatSend', { clientId: 'acct-00001', text: 'as a guest' });
      const signedUp = await one.call('POST', '/api/account/signup', {
        email: ` Ada-${database}@Example.com `,
        password,
        displayName: 'Ada L',
      });
      assert.equal(signedUp.status, 201, JSON.stringify(signedUp.body));
      const account = signedUp.body.account as { identity: { id: string }; signedIn: boolean; email: string };
      assert.equal(account.identity.id, guestOne.identity.id, 'the guest became the account');
      assert.equal(account.signedIn, true);
      assert.equal(account.email, email, 'stored trimmed and lower-cased');
      assert.equal(signedUp.set, null, 'the same session goes on');
      assert.equal(
        (
          await one.call('POST', '/api/account/signup', {
            email: 'x@example.com',
            password,
            displayName: 'X',
          })
        ).status,
        409,
      );
      const row = await server.app.database.prisma.identity.findUniqueOrThrow({
        where: { id: account.identity.id },
      });
      assert.match(row.passwordHash ?? '', /^\$argon2id\$/);

      // Another browser cannot take the email.
      const taken = await new Browser(server).call('POST', '/api/account/signup', {
        email,
        password,
        displayName: 'Eve',
      });
      assert.equal(taken.status, 409);
      assert.match(String(taken.body.message), /exists/);

      // Browser 2: a guest with a room of its own, a message and a reaction; its tab open.
      const two = new Browser(server);
      two.cookie = (await createIdentity(server.url, 'Ada on the phone')).cookie;
      const guestTwo = ((await two.call('GET', '/api/account')).body.account as { identity: { id: string } })
        .identity.id;
      const roomB = `acct-b-${database}`;
      const peerB = await joined(server, roomB, two.cookie, 'Ada on the phone');
      peers.push(peerB);
      const { message } = await peerB.ok<{ message: ChatMessage }>('chatSend', {
        clientId: 'acct-00002',
        text: 'from the phone',
      });
      await peerB.ok('chatReact', { messageId: message.id, emoji: '👍', add: true });
      await peerB.ok('chatMarkRead', { seq: message.seq });

      // Wrong password and unknown email: the same answer.
      const wrong = await two.call('POST', '/api/account/signin', { email, password: 'not the password' });
      const unknown = await two.call('POST', '/api/account/signin', {
        email: 'nobody@example.com',
        password,
      });
      assert.deepEqual([wrong.status, wrong.body.message], [401, 'wrong email or password']);
      assert.deepEqual([unknown.status, unknown.body.message], [401, 'wrong email or password']);

      const signedIn = await two.call('POST', '/api/account/signin', { email, password });
      assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
      assert.ok(signedIn.set, 'a new session cookie');
      assert.equal((signedIn.body.account as { identity: { id: string } }).identity.id, account.identity.id);
      // The guest's open tab is told and closed; its identity is gone, its things moved.
      const { data } = await peerB.nextNotification('removed');
      assert.match((data as { reason: string }).reason, /you signed in/);
      await peerB.waitClosed();
      const prisma = server.app.database.prisma;
      assert.equal(await prisma.identity.findUnique({ where: { id: guestTwo } }), null);
      const rooms = (await two.call('GET', '/api/rooms')).body.rooms as Array<{ id: string; unread: number }>;
      assert.deepEqual(rooms.map((r) => r.id).sort(), [roomA, roomB]);
      const moved = await prisma.message.findUniqueOrThrow({
        where: { id: message.id },
        include: { reactions: true },
      });
      assert.equal(moved.authorId, account.identity.id);
      assert.deepEqual(
        moved.reactions.map((r) => r.identityId),
        [account.identity.id],
      );
      assert.equal(rooms.find((r) => r.id === roomB)?.unread, 0, 'the read marker came along');
      // Browser 1 is still signed in: two sessions, each knows which is its own.
      const sessions = (await one.call('GET', '/api/account/sessions')).body.sessions as Array<{
        id: string;
        current: boolean;
      }>;
      assert.equal(sessions.length, 2);
      assert.equal(sessions.filter((s) => s.current).length, 1);
    });

    test('sessions: one revoked from the other browser stops at once (its tab closes); sign out; sign out everywhere', async () => {
      const email = `bo-${database}@example.com`;
      const one = new Browser(server);
      assert.equal(
        (await one.call('POST', '/api/account/signup', { email, password, displayName: 'Bo' })).status,
        201,
      );
      assert.ok(one.cookie, 'signing up without a guest starts a session');
      const two = new Browser(server);
      assert.equal(
        (await two.call('POST', '/api/account/signin', { email, password }, { 'user-agent': 'Phone/1.0' }))
          .status,
        200,
      );
      const room = `acct-sessions-${database}`;
      const tabOne = await joined(server, room, one.cookie, 'Bo');
      const tabTwo = await joined(server, room, two.cookie, 'Bo');
      peers.push(tabOne, tabTwo);

      const listed = (await two.call('GET', '/api/account/sessions')).body.sessions as Array<{
        id: string;
        current: boolean;
        userAgent: string | null;
      }>;
      const phone = listed.find((s) => s.current);
      const laptop = listed.find((s) => !s.current);
      assert.equal(phone?.userAgent, 'Phone/1.0');
      assert.ok(laptop);
      assert.equal((await two.call('DELETE', `/api/account/sessions/${laptop.id}`)).status, 204);
      assert.equal((await one.call('GET', '/api/account')).status, 401, 'the revoked cookie no longer works');
      const { data } = await tabOne.nextNotification('removed');
      assert.deepEqual(data, { reason: 'this session was ended' });
      await tabOne.waitClosed();
      assert.equal(tabTwo.isOpen, true, 'the other session’s tab stays');
      assert.equal((await two.call('DELETE', `/api/account/sessions/${laptop.id}`)).status, 404);

      // Sign out: the cookie is cleared and the session ends.
      const three = new Browser(server);
      await three.call('POST', '/api/account/signin', { email, password });
      const kept = three.cookie;
      const out = await three.call('POST', '/api/account/signout');
      assert.equal(out.status, 204);
      assert.match(out.set ?? '', /meet_identity=;/);
      assert.equal(
        (await new Browser(server).call('GET', '/api/account', undefined, { cookie: kept })).status,
        401,
      );

      // Everywhere: the phone's session ends too, and its tab closes.
      const four = new Browser(server);
      await four.call('POST', '/api/account/signin', { email, password });
      assert.equal((await four.call('POST', '/api/account/signout-everywhere')).status, 204);
      assert.equal((await two.call('GET', '/api/account')).status, 401);
      await tabTwo.nextNotification('removed');
      assert.equal(await server.app.database.prisma.session.count({ where: { identity: { email } } }), 0);
      // A write from another origin is refused.
      const foreign = await four.call(
        'POST',
        '/api/account/signin',
        { email, password },
        { origin: 'https://evil.example' },
      );
      assert.equal(foreign.status, 403);
    });
  });
}

describe('GUEST_ACCESS=false', () => {
  let server: TestServer;
  const secret = 'guest-off-room-token-secret-0123456789';
  before(async () => {
    server = await startServer(
      { GUEST_ACCESS: 'false', ROOM_TOKEN_SECRET: secret, AUTH_RATE_LIMIT: '8' },
      { database: 'postgres' },
    );
  });
  after(async () => {
    await server?.close();
  });

  test('no guest is made or let in; accounts and room-token holders are; sign-ins are rate-limited', async () => {
    const guest = await fetch(new URL('/api/identity', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'Guest' }),
    });
    assert.equal(guest.status, 403);
    assert.match(((await guest.json()) as { message: string }).message, /does not let guests in/);

    // A guest from before the switch (made here directly) cannot connect.
    const prisma = server.app.database.prisma;
    const old = await prisma.identity.create({ data: { displayName: 'Old guest' } });
    const { createHash } = await import('node:crypto');
    const token = 'old-guest-token-0123456789abcdef';
    await prisma.session.create({
      data: { identityId: old.id, tokenHash: createHash('sha256').update(token).digest('hex') },
    });
    await assert.rejects(
      RawPeer.connect(server, 'guest-off-room', {
        id: old.id,
        displayName: 'Old',
        cookie: `meet_identity=${token}`,
      }),
      /403/,
    );

    // An account joins; it may rename itself through POST /api/identity.
    const ann = new Browser(server);
    assert.equal(
      (
        await ann.call('POST', '/api/account/signup', {
          email: 'ann@example.com',
          password,
          displayName: 'Ann',
        })
      ).status,
      201,
    );
    assert.equal((await ann.call('POST', '/api/identity', { displayName: 'Ann B' })).status, 200);
    const peer = await joined(server, 'guest-off-room', ann.cookie, 'Ann B');
    await peer.close();

    // A room token's holder joins (the operator's application let them in).
    const jwt = await new SignJWT({ room: 'guest-off-room', name: 'Tok', role: 'participant' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret));
    const holder = new Browser(server);
    assert.equal(
      (await holder.call('POST', '/api/room-token', { roomId: 'guest-off-room', token: jwt })).status,
      200,
    );
    const tokenPeer = await joined(server, 'guest-off-room', holder.cookie, 'Tok');
    await tokenPeer.close();
    // ... in that room only.
    await assert.rejects(RawPeer.connect(server, 'another-room', holder.identity()), /403/);

    // Sign-ins past AUTH_RATE_LIMIT (8) a minute: 429.
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push(
        (
          await new Browser(server).call('POST', '/api/account/signin', {
            email: 'ann@example.com',
            password: 'wrong password',
          })
        ).status,
      );
    assert.ok(statuses.includes(429), `statuses ${statuses.join(', ')}`);
  });
});
