// The server's time-limited TURN credentials against a real coturn: fresh ones allocate a
// relay; expired, forged or tampered ones are refused.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { iceServersFor, turnCredential } from '../../server/src/auth/turn-credentials.js';
import { startCoturn, type TestCoturn } from '../helpers/coturn.js';
import { tryAllocate } from '../helpers/turn-client.js';

let coturn: TestCoturn;

before(async () => {
  coturn = await startCoturn();
});

after(async () => {
  await coturn?.stop();
});

test('the credential format is <expiry>:<id> with base64 HMAC-SHA1 of the username', () => {
  const now = Date.UTC(2026, 0, 1);
  const c = turnCredential('0123456789abcdef', 'peer-1', 3600, now);
  assert.equal(c.username, `${now / 1000 + 3600}:peer-1`);
  assert.equal(c.credential, createHmac('sha1', '0123456789abcdef').update(c.username).digest('base64'));
  assert.equal(c.expiresAt, now / 1000 + 3600);
});

test('iceServersFor hands TURN URLs a fresh credential and STUN URLs none', () => {
  const servers = iceServersFor(
    {
      urls: ['stun:stun.example.org:3478', 'turn:turn.example.org:3478?transport=udp'],
      secret: 'x'.repeat(16),
      ttlSeconds: 600,
    },
    'peer-2',
  );
  assert.deepEqual(servers[0], { urls: ['stun:stun.example.org:3478'] });
  assert.deepEqual(servers[1]?.urls, ['turn:turn.example.org:3478?transport=udp']);
  assert.match(servers[1]?.username ?? '', /^\d+:peer-2$/);
  assert.deepEqual(iceServersFor({ urls: ['turn:t:3478'], secret: undefined, ttlSeconds: 600 }, 'p'), []);
});

test('coturn allocates a relay for a fresh credential', async () => {
  const { username, credential } = turnCredential(coturn.secret, 'peer-ok', 600);
  assert.deepEqual(await tryAllocate('127.0.0.1', coturn.port, username, credential), { ok: true });
});

test('coturn refuses an expired credential', async () => {
  const { username, credential } = turnCredential(coturn.secret, 'peer-expired', 600, Date.now() - 3600_000);
  const result = await tryAllocate('127.0.0.1', coturn.port, username, credential);
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.code, 401);
});

test('coturn refuses a credential signed with another secret', async () => {
  const { username, credential } = turnCredential('not-the-secret-of-this-server', 'peer-forged', 600);
  const result = await tryAllocate('127.0.0.1', coturn.port, username, credential);
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.code, 401);
});

test('coturn refuses a valid password used with a changed username (later expiry)', async () => {
  const { username, credential } = turnCredential(coturn.secret, 'peer-tamper', 600);
  const [expiry, id] = username.split(':');
  const result = await tryAllocate('127.0.0.1', coturn.port, `${Number(expiry) + 86400}:${id}`, credential);
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.code, 401);
});
