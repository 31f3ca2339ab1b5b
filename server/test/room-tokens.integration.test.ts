// Room tokens, against the real server: an operator's application signs a short-lived JWT
// naming the room, the display name and the role; POST /api/room-token with it gives the
// browser an identity of that name and makes it a member with that role, and joining over
// the real signaling socket then says that name and role, whatever name the join asked for
// (a locked room lets the bearer in). Every bad token is refused with its reason: expired,
// forged, for another room, without an expiry, living too long, signed with "none" or with
// HMAC over the public key, malformed, bad claims. Shared secret and key pair (ES256).
// Also: the identity cookie is partitioned in embed mode, and EMBED_ORIGINS opens
// frame-ancestors to those origins only.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT, type JWTPayload } from 'jose';
import { loadConfig } from '../src/config.js';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer } from './support/raw-peer.js';

const secret = 'room-token-test-secret-0123456789abcdef';
const secretKey = new TextEncoder().encode(secret);

interface Redeemed {
  status: number;
  body: Record<string, unknown>;
  cookie: string;
  setCookie: string;
}

async function redeem(server: TestServer, body: Record<string, unknown>): Promise<Redeemed> {
  const response = await fetch(new URL('/api/room-token', server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const setCookie = response.headers.get('set-cookie') ?? '';
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    cookie: setCookie.split(';')[0] ?? '',
    setCookie,
  };
}

function sign(
  claims: JWTPayload,
  options: {
    alg?: string;
    key?: Uint8Array | CryptoKey | import('node:crypto').KeyObject;
    exp?: string | number | null;
  } = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'HS256' });
  if (claims.iat === undefined) jwt.setIssuedAt();
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? '10m');
  return jwt.sign(options.key ?? secretKey);
}

/** Joins over the signaling socket as the redeemed identity, asking for another name. */
async function joinAs(
  server: TestServer,
  roomId: string,
  identity: TestIdentity,
): Promise<Record<string, unknown>> {
  const peer = await RawPeer.connect(server, roomId, identity);
  try {
    const caps = await peer.ok('getRouterRtpCapabilities', {});
    return await peer.ok('join', { displayName: 'Someone Else', rtpCapabilities: caps });
  } finally {
    await peer.close();
  }
}

describe('room tokens (shared secret)', () => {
  let server: TestServer;
  let counter = 0;
  const newRoom = () => `token-room-${process.pid}-${++counter}`;

  before(async () => {
    server = await startServer({
      ROOM_TOKEN_SECRET: secret,
      ROOM_TOKEN_MAX_LIFETIME: '3600',
      IDENTITY_RATE_LIMIT: '1000',
      EMBED_ORIGINS: 'https://app.example.com',
    });
  });
  after(async () => {
    await server?.close();
  });

  test('a valid token lets its bearer in with its name and role, whatever name the join asks for', async () => {
    const roomId = newRoom();
    const token = await sign({ room: roomId, name: 'Dr. Ada', role: 'host' });
    const redeemed = await redeem(server, { roomId, token });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    assert.equal(redeemed.body.displayName, 'Dr. Ada');
    assert.equal(redeemed.body.role, 'host');
    assert.match(redeemed.setCookie, /SameSite=Strict/);
    const identity = {
      ...(redeemed.body.identity as { id: string; displayName: string }),
      cookie: redeemed.cookie,
    };
    const joined = await joinAs(server, roomId, identity);
    assert.equal(joined.status, 'joined');
    assert.equal(joined.displayName, 'Dr. Ada');
    assert.equal(joined.role, 'host');
  });

  test('a participant token: not host in a room someone else made, and let into it when locked', async () => {
    const roomId = newRoom();
    const creator = await createIdentity(server.url, 'Creator');
    const host = await RawPeer.connect(server, roomId, creator);
    const caps = await host.ok('getRouterRtpCapabilities', {});
    const hostJoin = await host.ok('join', { displayName: 'Creator', rtpCapabilities: caps });
    assert.equal(hostJoin.role, 'host');
    await host.ok('setRoomLocked', { locked: true });
    // Without a token, a newcomer waits in the lobby of the locked room.
    const stranger = await joinAs(server, roomId, await createIdentity(server.url, 'Stranger'));
    assert.equal(stranger.status, 'waiting');
    const redeemed = await redeem(server, {
      roomId,
      token: await sign({ room: roomId, name: 'Guest Grace', role: 'participant' }),
    });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    assert.equal(redeemed.body.role, 'participant');
    const identity = {
      ...(redeemed.body.identity as { id: string; displayName: string }),
      cookie: redeemed.cookie,
    };
    const joined = await joinAs(server, roomId, identity);
    assert.equal(joined.status, 'joined');
    assert.equal(joined.role, 'member');
    assert.equal(joined.displayName, 'Guest Grace');
    await host.close();
  });

  test('a later token changes the role it names (the operator decides)', async () => {
    const roomId = newRoom();
    const first = await redeem(server, {
      roomId,
      token: await sign({ room: roomId, name: 'Lin', role: 'host' }),
    });
    assert.equal(first.status, 200);
    // The same browser (its cookie) comes back with a participant token.
    const response = await fetch(new URL('/api/room-token', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: first.cookie },
      body: JSON.stringify({
        roomId,
        token: await sign({ room: roomId, name: 'Lin B.', role: 'participant' }),
      }),
    });
    assert.equal(response.status, 200);
    const identity = {
      ...(first.body.identity as { id: string; displayName: string }),
      cookie: first.cookie,
    };
    const joined = await joinAs(server, roomId, identity);
    assert.equal(joined.role, 'member');
    assert.equal(joined.displayName, 'Lin B.');
  });

  const refusals: Array<{
    what: string;
    status: number;
    reason: RegExp;
    token: (roomId: string) => Promise<string>;
  }> = [
    {
      what: 'expired',
      status: 401,
      reason: /expired at .*ask for a new link/,
      token: (room) =>
        sign(
          { room, name: 'Late', role: 'host', iat: Math.floor(Date.now() / 1000) - 600 },
          { exp: Math.floor(Date.now() / 1000) - 60 },
        ),
    },
    {
      what: 'forged (another secret)',
      status: 401,
      reason: /not signed with this server/,
      token: (room) =>
        sign({ room, name: 'Mallory', role: 'host' }, { key: new TextEncoder().encode('x'.repeat(40)) }),
    },
    {
      what: 'for another room',
      status: 403,
      reason: /for another room \(other-room\)/,
      token: () => sign({ room: 'other-room', name: 'Wanderer', role: 'host' }),
    },
    {
      what: 'without an expiry',
      status: 401,
      reason: /no expiry/,
      token: (room) => sign({ room, name: 'Forever', role: 'host' }, { exp: null }),
    },
    {
      what: 'living longer than ROOM_TOKEN_MAX_LIFETIME',
      status: 401,
      reason: /longer than this server accepts \(3600 s\)/,
      token: (room) => sign({ room, name: 'Long', role: 'host' }, { exp: '2h' }),
    },
    {
      what: 'unsigned (alg none)',
      status: 401,
      reason: /algorithm this server does not accept/,
      token: async (room) => {
        const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
        const exp = Math.floor(Date.now() / 1000) + 600;
        return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({ room, name: 'Nobody', role: 'host', exp })}.`;
      },
    },
    {
      what: 'with a role it may not name',
      status: 400,
      reason: /claims are invalid.*role/,
      token: (room) => sign({ room, name: 'Root', role: 'admin' }),
    },
    {
      what: 'with an empty name',
      status: 400,
      reason: /claims are invalid.*name/,
      token: (room) => sign({ room, name: '   ', role: 'host' }),
    },
    {
      what: 'malformed',
      status: 400,
      reason: /not a well-formed JWT/,
      token: async () => 'not.a.jwt',
    },
  ];
  for (const refusal of refusals) {
    test(`a token ${refusal.what} is refused with its reason, and makes no member`, async () => {
      const roomId = newRoom();
      const redeemed = await redeem(server, { roomId, token: await refusal.token(roomId) });
      assert.equal(redeemed.status, refusal.status, JSON.stringify(redeemed.body));
      assert.match(String(redeemed.body.message), refusal.reason);
      assert.equal(redeemed.setCookie, '', 'no identity is made for a refused token');
      const members = await server.app.database.prisma.membership.count({ where: { roomId } });
      assert.equal(members, 0);
    });
  }

  test('a malformed request is refused (400) with the field at fault', async () => {
    const redeemed = await redeem(server, { roomId: 'a room with spaces', token: 'x' });
    assert.equal(redeemed.status, 400);
    assert.match(String(redeemed.body.message), /roomId/);
  });

  test('embed mode: a partitioned, SameSite=None cookie; frame-ancestors names the allowed origin', async () => {
    const roomId = newRoom();
    const redeemed = await redeem(server, {
      roomId,
      token: await sign({ room: roomId, name: 'Framed', role: 'participant' }),
      embedded: true,
    });
    assert.equal(redeemed.status, 200);
    assert.match(redeemed.setCookie, /SameSite=None/);
    assert.match(redeemed.setCookie, /Secure/);
    assert.match(redeemed.setCookie, /Partitioned/);
    const page = await fetch(new URL(`/r/${roomId}`, server.url));
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /frame-ancestors 'self' https:\/\/app\.example\.com/);
    assert.equal(page.headers.get('x-frame-options'), null);
  });
});

describe('room tokens (key pair, ES256)', () => {
  let server: TestServer;
  let dir: string;
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meet-room-token-'));
    const file = join(dir, 'room-token.pub.pem');
    writeFileSync(file, publicPem);
    server = await startServer({
      ROOM_TOKEN_PUBLIC_KEY_FILE: file,
      ROOM_TOKEN_ISSUER: 'https://app.example.com',
    });
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a token signed with the private key lets its bearer in', async () => {
    const roomId = `pair-room-${process.pid}`;
    const token = await sign(
      { room: roomId, name: 'Pat', role: 'participant', iss: 'https://app.example.com' },
      { alg: 'ES256', key: privateKey },
    );
    const redeemed = await redeem(server, { roomId, token });
    assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));
    assert.equal(redeemed.body.displayName, 'Pat');
  });

  test('a token from another issuer is refused', async () => {
    const roomId = `pair-room-iss-${process.pid}`;
    const token = await sign(
      { room: roomId, name: 'Pat', role: 'participant', iss: 'https://evil.example' },
      { alg: 'ES256', key: privateKey },
    );
    const redeemed = await redeem(server, { roomId, token });
    assert.equal(redeemed.status, 401);
    assert.match(String(redeemed.body.message), /not issued by https:\/\/app\.example\.com/);
  });

  test('HMAC "signed" with the public key (algorithm confusion) is refused', async () => {
    const roomId = `pair-room-hs-${process.pid}`;
    const token = await sign(
      { room: roomId, name: 'Eve', role: 'host', iss: 'https://app.example.com' },
      { alg: 'HS256', key: new TextEncoder().encode(publicPem) },
    );
    const redeemed = await redeem(server, { roomId, token });
    assert.equal(redeemed.status, 401);
    assert.match(String(redeemed.body.message), /algorithm this server does not accept \(ES256\)/);
  });
});

describe('room tokens: configuration', () => {
  test('off by default: 404 with a reason', async () => {
    const server = await startServer();
    try {
      const redeemed = await redeem(server, { roomId: 'any-room', token: 'x.y.z' });
      assert.equal(redeemed.status, 404);
      assert.match(String(redeemed.body.message), /not enabled/);
      const page = await fetch(new URL('/r/any-room', server.url));
      assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      assert.equal(page.headers.get('x-frame-options'), 'SAMEORIGIN');
    } finally {
      await server.close();
    }
  });

  test('bad settings stop the start-up with a reason', () => {
    assert.throws(() => loadConfig({ ROOM_TOKEN_SECRET: 'short' }), /ROOM_TOKEN_SECRET must be at least 32/);
    assert.throws(
      () => loadConfig({ ROOM_TOKEN_SECRET: 'x'.repeat(32), ROOM_TOKEN_PUBLIC_KEY_FILE: '/nonexistent' }),
      /not both/,
    );
    assert.throws(() => loadConfig({ ROOM_TOKEN_PUBLIC_KEY_FILE: '/nonexistent/key.pem' }), /cannot read/);
    assert.throws(() => loadConfig({ EMBED_ORIGINS: 'app.example.com' }), /EMBED_ORIGINS/);
  });
});
