// The identity cookie is HttpOnly and SameSite=Strict always, and Secure when the request
// came over https (COOKIE_SECURE=auto, the default). Behind a TLS proxy the app believes the
// proxy's X-Forwarded-Proto only when TRUST_PROXY names it; otherwise anyone could claim https.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from '../../tests/helpers/server.js';

async function identityCookie(server: TestServer, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(new URL('/api/identity', server.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ displayName: 'Cookie' }),
  });
  assert.equal(response.status, 200);
  return response.headers.get('set-cookie') ?? '';
}

for (const trusted of [true, false]) {
  describe(`identity cookie, ${trusted ? 'behind a trusted proxy' : 'no trusted proxy'}`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServer(trusted ? { TRUST_PROXY: '127.0.0.1' } : {});
    });
    after(async () => {
      await server?.close();
    });

    test('plain http: HttpOnly, SameSite=Strict, not Secure', async () => {
      const cookie = await identityCookie(server);
      assert.match(cookie, /^meet_identity=[A-Za-z0-9_-]+;/);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      assert.doesNotMatch(cookie, /Secure/);
    });

    test(`X-Forwarded-Proto: https ${trusted ? 'makes it Secure' : 'is not believed'}`, async () => {
      const cookie = await identityCookie(server, { 'x-forwarded-proto': 'https' });
      if (trusted) assert.match(cookie, /; Secure/);
      else assert.doesNotMatch(cookie, /Secure/);
    });
  });
}
