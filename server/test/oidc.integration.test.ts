// OpenID Connect sign-in against a real provider (oidc-provider) started here, without a
// browser: the start redirects to the provider with state, nonce and a PKCE challenge and
// sets a sign-in cookie; an answer is refused, with the reason on the account page, when it
// comes back without that cookie (another browser), with a state never issued, twice, with a
// code that does not check out, or as the provider's refusal; unknown providers are 404; a
// returnTo off this site is never followed. Misconfiguration stops the server at start.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadConfig } from '../src/config.js';
import { startOidcProvider, type TestOidcProvider } from '../../tests/helpers/oidc-provider.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';

let provider: TestOidcProvider;
let server: TestServer;

before(async () => {
  provider = await startOidcProvider();
  server = await startServer({ ...provider.env('test', 'Test IdP'), AUTH_RATE_LIMIT: '1000' });
  provider.register([`${server.url}/api/auth/oidc/test/callback`]);
});
after(async () => {
  await server?.close();
  await provider?.stop();
});

const get = (path: string, cookie?: string) =>
  fetch(new URL(path, server.url), { redirect: 'manual', headers: cookie ? { cookie } : {} });

async function start(returnTo = '/r/some-room') {
  const response = await get(`/api/auth/oidc/test/start?returnTo=${encodeURIComponent(returnTo)}`);
  assert.equal(response.status, 302);
  const location = new URL(response.headers.get('location') ?? '');
  const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  return { location, cookie, state: location.searchParams.get('state') as string };
}

const refusal = (response: Response) => {
  assert.equal(response.status, 302);
  const location = new URL(response.headers.get('location') ?? '', server.url);
  assert.equal(location.pathname, '/account');
  return location.searchParams.get('error');
};

test('the start: to the provider with state, nonce and PKCE; a sign-in cookie for this browser', async () => {
  const { location, cookie } = await start();
  assert.equal(location.origin, provider.issuer);
  const params = location.searchParams;
  assert.equal(params.get('client_id'), provider.clientId);
  assert.equal(params.get('redirect_uri'), `${server.url}/api/auth/oidc/test/callback`);
  assert.equal(params.get('response_type'), 'code');
  assert.equal(params.get('code_challenge_method'), 'S256');
  assert.match(params.get('scope') ?? '', /openid/);
  for (const name of ['state', 'nonce', 'code_challenge'])
    assert.ok((params.get(name) ?? '').length >= 32, name);
  assert.match(cookie, /^meet_oidc=/);
  const providers = (await (await get('/api/auth/oidc')).json()) as { providers: unknown };
  assert.deepEqual(providers, { providers: [{ id: 'test', name: 'Test IdP' }] });
  assert.equal((await get('/api/auth/oidc/nope/start')).status, 404);
  assert.equal((await get('/api/auth/oidc/nope/callback?state=x')).status, 404);
});

test('answers are refused with their reason: another browser, unknown state, replay, bad code, provider refusal', async () => {
  const one = await start();
  assert.equal(
    refusal(await get(`/api/auth/oidc/test/callback?code=abc&state=${one.state}`)),
    'this sign-in began in another browser: start again here',
  );
  // That consumed it: even with the cookie now, it is gone.
  assert.equal(
    refusal(await get(`/api/auth/oidc/test/callback?code=abc&state=${one.state}`, one.cookie)),
    'this sign-in expired or is unknown: start again',
  );
  assert.equal(
    refusal(await get('/api/auth/oidc/test/callback?code=abc&state=never-issued', one.cookie)),
    'this sign-in expired or is unknown: start again',
  );
  const two = await start();
  assert.match(
    refusal(
      await get(
        `/api/auth/oidc/test/callback?code=forged-code&state=${two.state}&iss=${encodeURIComponent(provider.issuer)}`,
        two.cookie,
      ),
    ) ?? '',
    /did not check out/,
  );
  const three = await start();
  assert.equal(
    refusal(
      await get(
        `/api/auth/oidc/test/callback?error=access_denied&error_description=${encodeURIComponent('the person said no')}&state=${three.state}`,
        three.cookie,
      ),
    ),
    'the provider refused: the person said no',
  );
  // No session was made by any of these.
  assert.equal(await server.app.database.prisma.identity.count({ where: { oidcSubject: { not: null } } }), 0);
});

test('returnTo stays on this site', async () => {
  const { safeReturnTo } = await import('../src/auth/oidc.js');
  assert.equal(safeReturnTo('/r/room?x=1'), '/r/room?x=1');
  for (const bad of [
    'https://evil.example/',
    '//evil.example/',
    '/\\evil.example',
    'javascript:alert(1)',
    '',
    undefined,
  ])
    assert.equal(safeReturnTo(bad), '/', String(bad));
});

test('a provider misconfigured stops the server at start, saying what is missing', () => {
  assert.throws(() => loadConfig({ OIDC_PROVIDERS: 'kc' }), /OIDC_KC_ISSUER is not set/);
  assert.throws(
    () =>
      loadConfig({
        OIDC_PROVIDERS: 'kc',
        OIDC_KC_ISSUER: 'http://kc.example',
        OIDC_KC_CLIENT_ID: 'a',
        OIDC_KC_CLIENT_SECRET: 'b',
      }),
    /plain http/,
  );
  assert.throws(() => loadConfig({ OIDC_PROVIDERS: 'Key Cloak' }), /not 1-32 of a-z/);
  const ok = loadConfig({
    OIDC_PROVIDERS: 'kc',
    OIDC_KC_ISSUER: 'https://kc.example/realms/x',
    OIDC_KC_CLIENT_ID: 'meet',
    OIDC_KC_CLIENT_SECRET: 'secret',
    OIDC_KC_NAME: 'Keycloak',
  });
  assert.deepEqual(
    ok.oidcProviders.map((p) => [p.id, p.name]),
    [['kc', 'Keycloak']],
  );
});
