// Web push against a local push endpoint started here, which checks each push as a push
// service and a browser would: the VAPID signature (RFC 8292: an ES256 JWT for the endpoint's
// origin, signed with the server's public key, the one GET /api/push/key gives) and the
// payload, decrypted per RFC 8291 (aes128gcm) with the subscription's private key and auth
// secret. Who gets a push: a private message and an @mention (level "mentions"), any message
// while not connected (level "all"), never one's own, never while busy, never with "off". A
// subscription the service says is gone (410) is forgotten; endpoints outside
// PUSH_SERVICE_HOSTS, or not https, are refused; the VAPID key pair is kept in the database.
// (The push service is https with a certificate of its own, trusted through PUSH_CA_FILE.)
// On both databases.
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { decrypt } from 'http_ece';
import { importJWK, jwtVerify } from 'jose';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { selfSignedCertificate } from '../../tests/helpers/tls.js';
import { RawPeer, waitUntil } from './support/raw-peer.js';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

let pushService: Server;
let pushHost: string;
const received: Received[] = [];
/** Paths the push service answers 410 Gone for (an unsubscribed browser). */
const gone = new Set<string>();
let server: TestServer;
let caFile: string;
const peers: RawPeer[] = [];

before(async () => {
  const tls = selfSignedCertificate();
  pushService = createServer({ key: tls.key, cert: tls.cert }, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(gone.has(request.url ?? '') ? 410 : 201).end();
    });
  });
  await new Promise<void>((resolve) => pushService.listen(0, '127.0.0.1', resolve));
  pushHost = `127.0.0.1:${(pushService.address() as AddressInfo).port}`;
  caFile = tls.certFile;
});
after(async () => {
  pushService?.closeAllConnections();
  await new Promise((resolve) => pushService?.close(resolve));
});

/** A browser's push subscription: its own P-256 key pair and auth secret. */
function browserKeys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    ecdh,
    p256dh: ecdh.getPublicKey().toString('base64url'),
    auth: randomBytes(16).toString('base64url'),
  };
}

async function subscribed(who: TestIdentity, path: string) {
  const keys = browserKeys();
  const response = await fetch(new URL('/api/push/subscriptions', server.url), {
    method: 'POST',
    headers: { cookie: who.cookie, 'content-type': 'application/json' },
    body: JSON.stringify({
      endpoint: `https://${pushHost}${path}`,
      keys: { p256dh: keys.p256dh, auth: keys.auth },
    }),
  });
  assert.equal(response.status, 204, await response.text());
  return keys;
}

async function setLevel(who: TestIdentity, roomId: string, level: string) {
  const response = await fetch(new URL(`/api/rooms/${roomId}/notify`, server.url), {
    method: 'PUT',
    headers: { cookie: who.cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ level }),
  });
  assert.equal(response.status, 204, await response.text());
}

async function joinAs(roomId: string, who: TestIdentity) {
  const peer = await RawPeer.connect(server, roomId, who);
  peers.push(peer);
  const rtpCapabilities = await peer.ok('getRouterRtpCapabilities', {});
  await peer.ok('join', { displayName: who.displayName, rtpCapabilities });
  return peer;
}

/** Checks a push as the push service (VAPID) and the browser (RFC 8291) would; its payload. */
async function openPush(push: Received, keys: ReturnType<typeof browserKeys>) {
  assert.equal(push.headers['content-encoding'], 'aes128gcm');
  assert.ok(Number(push.headers.ttl) > 0, 'a TTL');
  const vapid = /^vapid t=([^,]+),\s*k=(.+)$/.exec(String(push.headers.authorization));
  assert.ok(vapid, `VAPID authorization: ${push.headers.authorization}`);
  const [, jwt, k] = vapid as unknown as [string, string, string];
  const { publicKey } = (await (await fetch(new URL('/api/push/key', server.url))).json()) as {
    publicKey: string;
  };
  assert.equal(k, publicKey, 'signed with the key browsers subscribed with');
  const raw = Buffer.from(publicKey, 'base64url');
  const key = await importJWK(
    {
      kty: 'EC',
      crv: 'P-256',
      x: raw.subarray(1, 33).toString('base64url'),
      y: raw.subarray(33, 65).toString('base64url'),
    },
    'ES256',
  );
  const { payload } = await jwtVerify(jwt, key, { audience: `https://${pushHost}` });
  assert.equal(payload.sub, 'mailto:ops@example.com');
  const plain = decrypt(push.body, { version: 'aes128gcm', privateKey: keys.ecdh, authSecret: keys.auth });
  return JSON.parse(plain.toString('utf8')) as {
    title: string;
    body: string;
    url: string;
    roomId: string;
    messageId: string;
  };
}

const pushesTo = (path: string) => received.filter((push) => push.path === path);

for (const database of ['embedded', 'postgres'] as const) {
  describe(`web push (${database})`, () => {
    const prefix = `/push-${database}`;
    before(async () => {
      server = await startServer(
        {
          PUSH_SERVICE_HOSTS: pushHost,
          PUSH_CA_FILE: caFile,
          PUSH_SUBJECT: 'mailto:ops@example.com',
          IDENTITY_RATE_LIMIT: '1000',
          CHAT_RATE: '1000',
          CHAT_BURST: '1000',
        },
        { database },
      );
    });
    after(async () => {
      await Promise.all(peers.splice(0).map((peer) => peer.close()));
      await server?.close();
    });

    test('pushes reach the endpoint signed and encrypted: a private message and a mention; not one’s own, not while busy, not with off', async () => {
      const roomId = `push-${database}-${process.pid}`;
      const ann = await createIdentity(server.url, 'Ann');
      const ben = await createIdentity(server.url, 'Ben');
      const cid = await createIdentity(server.url, 'Cid');
      const annPeer = await joinAs(roomId, ann);
      const benPeer = await joinAs(roomId, ben);
      await joinAs(roomId, cid);
      const benKeys = await subscribed(ben, `${prefix}/ben`);
      await subscribed(cid, `${prefix}/cid`);
      await setLevel(ben, roomId, 'mentions');
      // Cid keeps "off": nothing reaches him whatever is written.

      const { message: secret } = await annPeer.ok<{ message: { id: string } }>('chatSend', {
        clientId: 'push-00001',
        text: 'psst, the launch moved',
        recipientId: ben.id,
      });
      await waitUntil('Ben’s push arrives', () => pushesTo(`${prefix}/ben`).length === 1);
      const first = await openPush(pushesTo(`${prefix}/ben`)[0] as Received, benKeys);
      assert.deepEqual(first, {
        title: `Ann (private) in ${roomId}`,
        body: 'psst, the launch moved',
        url: `/r/${roomId}#m=${secret.id}`,
        tag: roomId,
        roomId,
        messageId: secret.id,
      });
      assert.equal(pushesTo(`${prefix}/ben`)[0]?.headers.urgency, 'high');

      await annPeer.ok('chatSend', { clientId: 'push-00002', text: 'just chatting' });
      await annPeer.ok('chatSend', {
        clientId: 'push-00003',
        text: '@Ben see this',
        mentions: [ben.id, cid.id],
      });
      await benPeer.ok('chatSend', {
        clientId: 'push-00004',
        text: '@Ben talking to myself',
        mentions: [ben.id],
      });
      await waitUntil('the mention’s push', () => pushesTo(`${prefix}/ben`).length >= 2);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const bens = pushesTo(`${prefix}/ben`);
      assert.equal(bens.length, 2, 'the plain message and his own mention push nothing');
      assert.equal((await openPush(bens[1] as Received, benKeys)).body, '@Ben see this');
      assert.equal(pushesTo(`${prefix}/cid`).length, 0, 'off means off, mentions too');

      // Busy: nothing.
      await benPeer.ok('setStatus', { status: 'busy' });
      await annPeer.ok('chatSend', { clientId: 'push-00005', text: 'still there?', recipientId: ben.id });
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal(pushesTo(`${prefix}/ben`).length, 2, 'busy: no push');
      await benPeer.ok('setStatus', { status: 'available' });
    });

    test('"all": every message while not connected; a subscription gone (410) is forgotten', async () => {
      const roomId = `push-all-${database}-${process.pid}`;
      const ann = await createIdentity(server.url, 'Ann');
      const dee = await createIdentity(server.url, 'Dee');
      const annPeer = await joinAs(roomId, ann);
      const deePeer = await joinAs(roomId, dee);
      const deeKeys = await subscribed(dee, `${prefix}/dee`);
      await setLevel(dee, roomId, 'all');
      await annPeer.ok('chatSend', { clientId: 'all-000001', text: 'while Dee is here' });
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(pushesTo(`${prefix}/dee`).length, 0, 'connected: the room tells her, no push');
      await deePeer.close();
      await waitUntil(
        'Dee has left',
        () => server.app.rooms.get(roomId)?.participantsOf(dee.id).length === 0,
      );
      await annPeer.ok('chatSend', { clientId: 'all-000002', text: 'Dee, when you are back' });
      await waitUntil('Dee’s push', () => pushesTo(`${prefix}/dee`).length === 1);
      assert.equal(
        (await openPush(pushesTo(`${prefix}/dee`)[0] as Received, deeKeys)).body,
        'Dee, when you are back',
      );

      gone.add(`${prefix}/dee`);
      await annPeer.ok('chatSend', { clientId: 'all-000003', text: 'one more' });
      await waitUntil('the push service said 410', () => pushesTo(`${prefix}/dee`).length === 2);
      await waitUntil(
        'the subscription is forgotten',
        async () =>
          (await server.app.database.prisma.pushSubscription.count({ where: { identityId: dee.id } })) === 0,
      );
    });

    test('subscriptions: only the allowed push services, https; off one’s own only; the VAPID key pair is stored', async () => {
      const eve = await createIdentity(server.url, 'Eve');
      const keys = browserKeys();
      for (const endpoint of [
        'https://169.254.169.254/latest',
        `http://${pushHost}/plain-http`,
        'https://evil.example/push',
        'not a url',
      ]) {
        const response = await fetch(new URL('/api/push/subscriptions', server.url), {
          method: 'POST',
          headers: { cookie: eve.cookie, 'content-type': 'application/json' },
          body: JSON.stringify({ endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } }),
        });
        assert.equal(response.status, 400, endpoint);
      }
      const unknown = await fetch(new URL('/api/push/subscriptions', server.url), {
        method: 'DELETE',
        headers: { cookie: eve.cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ endpoint: `https://${pushHost}${prefix}/ben` }),
      });
      assert.equal(unknown.status, 404, 'another’s subscription is not hers to remove');
      const before = (await (await fetch(new URL('/api/push/key', server.url))).json()) as {
        publicKey: string;
      };
      const stored = await server.app.database.prisma.serverKey.findUniqueOrThrow({
        where: { name: 'vapid' },
      });
      assert.equal((JSON.parse(stored.value) as { publicKey: string }).publicKey, before.publicKey);
      assert.match(before.publicKey, /^[A-Za-z0-9_-]{87}$/, 'an uncompressed P-256 point, base64url');
    });
  });
}
