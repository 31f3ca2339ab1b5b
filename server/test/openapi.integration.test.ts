// The HTTP API's OpenAPI document, against the real server: it is generated from the same
// zod schemas the routes validate with, it validates as OpenAPI 3.1, and every documented
// operation answers as documented: each operation is called here with good and bad
// requests, every answer's status is one the document lists for it and its body validates
// against the documented schema (Ajv over the document itself), and each operation is seen
// answering both a success and a refusal. An operation added without calls here fails the
// test. /api/docs serves the browsable documentation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { SignJWT } from 'jose';
import { createIdentity, type TestIdentity } from '../../tests/helpers/identity.js';
import { startOidcProvider, type TestOidcProvider } from '../../tests/helpers/oidc-provider.js';
import { startServer, type TestServer } from '../../tests/helpers/server.js';
import { RawPeer } from './support/raw-peer.js';

const secret = 'openapi-test-room-token-secret-0123456789';
const keeper = { email: 'keeper@example.com', password: 'keeper password 1' };
const pushEndpoint = 'https://fcm.googleapis.com/fcm/send/openapi-test';
// A browser's P-256 public key (65 bytes, uncompressed) and auth secret (16 bytes), base64url.
const pushKeys = {
  p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url'),
  auth: Buffer.alloc(16, 9).toString('base64url'),
};

interface OpenApiOperation {
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
type OpenApiDocument = { paths: Record<string, Record<string, OpenApiOperation>> };

interface Call {
  /** What the call shows, for messages. */
  what: string;
  /** The concrete path (the documented one with its parameters filled in). */
  path: string;
  body?: unknown;
  multipart?: FormData;
  cookie?: string;
  /** An API token's secret, sent as "Authorization: Bearer …". */
  bearer?: string;
}

describe('OpenAPI document', () => {
  let server: TestServer;
  let provider: TestOidcProvider;
  let document: OpenApiDocument;
  let member: TestIdentity;
  let outsider: TestIdentity;
  const roomId = `openapi-room-${process.pid}`;
  const leaveRoomId = `openapi-leave-${process.pid}`;
  let attachmentId: string;
  /** API tokens of the member: every scope, only rooms:read, and one to revoke. */
  let fullToken: string;
  let readToken: string;
  let spareTokenId: string;
  /** Cookies of accounts' sessions, and a session id to end. */
  let keeperCookie: string;
  let signOutCookie: string;
  let leaverCookie: string;
  let endSessionId: string;

  before(async () => {
    provider = await startOidcProvider();
    server = await startServer({
      ROOM_TOKEN_SECRET: secret,
      IDENTITY_RATE_LIMIT: '1000',
      AUTH_RATE_LIMIT: '1000',
      ...provider.env('test', 'Test IdP'),
    });
    provider.register([`${server.url}/api/auth/oidc/test/callback`]);
    member = await createIdentity(server.url, 'Member');
    outsider = await createIdentity(server.url, 'Outsider');
    // The member joins the room (and so may share files in it).
    const peer = await RawPeer.connect(server, roomId, member);
    const caps = await peer.ok('getRouterRtpCapabilities', {});
    await peer.ok('join', { displayName: 'Member', rtpCapabilities: caps });
    await peer.close();
    const form = new FormData();
    form.append('file', new Blob(['hello'], { type: 'text/plain' }), 'hello.txt');
    const upload = await fetch(new URL(`/api/rooms/${roomId}/attachments`, server.url), {
      method: 'POST',
      headers: { cookie: member.cookie },
      body: form,
    });
    assert.equal(upload.status, 201);
    attachmentId = ((await upload.json()) as { attachment: { id: string } }).attachment.id;
    const makeToken = async (scopes: string[]) => {
      const made = await fetch(new URL('/api/tokens', server.url), {
        method: 'POST',
        headers: { cookie: member.cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ name: scopes.join(' '), scopes }),
      });
      assert.equal(made.status, 201);
      return (await made.json()) as { token: { id: string }; secret: string };
    };
    fullToken = (await makeToken(['rooms:read', 'rooms:write', 'messages:read', 'messages:write'])).secret;
    readToken = (await makeToken(['rooms:read'])).secret;
    spareTokenId = (await makeToken(['messages:read'])).token.id;
    // The outsider is host of a room the member belongs to (and may leave); the member is the
    // only host of roomId, which the outsider also joins (so the member may not leave it).
    const other = await RawPeer.connect(server, leaveRoomId, outsider);
    await other.ok('join', { displayName: 'Outsider', rtpCapabilities: caps });
    await other.close();
    const joinsToo = await RawPeer.connect(server, leaveRoomId, member);
    await joinsToo.ok('join', { displayName: 'Member', rtpCapabilities: caps });
    await joinsToo.close();
    const second = await createIdentity(server.url, 'Second');
    const secondPeer = await RawPeer.connect(server, roomId, second);
    await secondPeer.ok('join', { displayName: 'Second', rtpCapabilities: caps });
    await secondPeer.close();
    const account = async (path: string, body: unknown) => {
      const answer = await fetch(new URL(path, server.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.ok(answer.ok, `${path} answered ${answer.status}`);
      return (answer.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    };
    keeperCookie = await account('/api/account/signup', { ...keeper, displayName: 'Keeper' });
    await account('/api/account/signin', keeper);
    signOutCookie = await account('/api/account/signup', {
      email: 'quitter@example.com',
      password: 'quitter password 1',
      displayName: 'Quitter',
    });
    const sessions = (await (
      await fetch(new URL('/api/account/sessions', server.url), { headers: { cookie: keeperCookie } })
    ).json()) as { sessions: Array<{ id: string; current: boolean }> };
    endSessionId = sessions.sessions.find((session) => !session.current)?.id as string;
    leaverCookie = await account('/api/account/signup', {
      email: 'leaver@example.com',
      password: 'leaver password 1',
      displayName: 'Leaver',
    });
    document = (await (await fetch(new URL('/api/openapi.json', server.url))).json()) as OpenApiDocument;
  });
  after(async () => {
    await server?.close();
    await provider?.stop();
  });

  test('is a valid OpenAPI 3.1 document listing the API', async () => {
    const result = await new Validator().validate(structuredClone(document) as never);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.deepEqual(Object.keys(document.paths).sort(), [
      '/api/account',
      '/api/account/sessions',
      '/api/account/sessions/{id}',
      '/api/account/signin',
      '/api/account/signout',
      '/api/account/signout-everywhere',
      '/api/account/signup',
      '/api/attachments/{id}',
      '/api/auth/oidc',
      '/api/auth/oidc/{provider}/callback',
      '/api/auth/oidc/{provider}/start',
      '/api/health',
      '/api/identity',
      '/api/push/key',
      '/api/push/subscriptions',
      '/api/room-token',
      '/api/rooms',
      '/api/rooms/{roomId}',
      '/api/rooms/{roomId}/attachments',
      '/api/rooms/{roomId}/members',
      '/api/rooms/{roomId}/membership',
      '/api/rooms/{roomId}/messages',
      '/api/rooms/{roomId}/notify',
      '/api/rooms/{roomId}/star',
      '/api/tokens',
      '/api/tokens/{id}',
    ]);
  });

  test('/api/docs serves the browsable documentation under the app’s CSP', async () => {
    const page = await fetch(new URL('/api/docs', server.url));
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /swagger-ui/i);
    assert.doesNotMatch(html, /<script>(?!\s*<\/script>)/, 'no inline script (the CSP would block it)');
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  });

  test('every documented operation answers as documented, successes and refusals', async () => {
    const token = (room: string) =>
      new SignJWT({ room, name: 'Tok', role: 'participant' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(secret));
    const upload = (content: string, name: string) => {
      const form = new FormData();
      form.append('file', new Blob([content]), name);
      return form;
    };
    const calls: Record<string, Call[]> = {
      'post /api/identity': [
        { what: 'a name', path: '/api/identity', body: { displayName: 'Neo' } },
        { what: 'an empty name', path: '/api/identity', body: { displayName: '' } },
        { what: 'an unknown field', path: '/api/identity', body: { displayName: 'Neo', admin: true } },
      ],
      'get /api/identity': [
        { what: 'with the cookie', path: '/api/identity', cookie: member.cookie },
        { what: 'without a cookie', path: '/api/identity' },
      ],
      'post /api/room-token': [
        { what: 'a valid token', path: '/api/room-token', body: { roomId, token: await token(roomId) } },
        { what: 'a forged token', path: '/api/room-token', body: { roomId, token: 'a.b.c' } },
        {
          what: "another room's token",
          path: '/api/room-token',
          body: { roomId, token: await token('elsewhere') },
        },
        { what: 'a bad room id', path: '/api/room-token', body: { roomId: 'Not A Room', token: 'x' } },
      ],
      'get /api/health': [{ what: 'a live node', path: '/api/health' }],
      'get /api/push/key': [{ what: 'the VAPID key', path: '/api/push/key' }],
      'post /api/push/subscriptions': [
        {
          what: 'a browser of a known push service',
          path: '/api/push/subscriptions',
          cookie: member.cookie,
          body: { endpoint: pushEndpoint, expirationTime: null, keys: pushKeys },
        },
        {
          what: 'another push service',
          path: '/api/push/subscriptions',
          cookie: member.cookie,
          body: { endpoint: 'https://push.evil.example/x', keys: pushKeys },
        },
        {
          what: 'no cookie',
          path: '/api/push/subscriptions',
          body: { endpoint: pushEndpoint, keys: pushKeys },
        },
      ],
      'delete /api/push/subscriptions': [
        {
          what: 'it',
          path: '/api/push/subscriptions',
          cookie: member.cookie,
          body: { endpoint: pushEndpoint },
        },
        {
          what: 'gone already',
          path: '/api/push/subscriptions',
          cookie: member.cookie,
          body: { endpoint: pushEndpoint },
        },
      ],
      'put /api/rooms/{roomId}/notify': [
        {
          what: 'mentions',
          path: `/api/rooms/${roomId}/notify`,
          cookie: member.cookie,
          body: { level: 'mentions' },
        },
        {
          what: 'not a member',
          path: `/api/rooms/${roomId}/notify`,
          cookie: outsider.cookie,
          body: { level: 'all' },
        },
        {
          what: 'no such level',
          path: `/api/rooms/${roomId}/notify`,
          cookie: member.cookie,
          body: { level: 'loud' },
        },
      ],
      'get /api/auth/oidc': [{ what: 'the providers', path: '/api/auth/oidc' }],
      'get /api/auth/oidc/{provider}/start': [
        { what: 'a provider', path: '/api/auth/oidc/test/start?returnTo=%2F' },
        { what: 'no such provider', path: '/api/auth/oidc/nope/start' },
        { what: 'not a provider id', path: '/api/auth/oidc/Not!/start' },
      ],
      'get /api/auth/oidc/{provider}/callback': [
        { what: 'an answer to no sign-in', path: '/api/auth/oidc/test/callback?state=unknown&code=x' },
        { what: 'no such provider', path: '/api/auth/oidc/nope/callback?state=x' },
      ],
      'get /api/account': [
        { what: 'a guest', path: '/api/account', cookie: member.cookie },
        { what: 'an account', path: '/api/account', cookie: keeperCookie },
        { what: 'nobody', path: '/api/account' },
      ],
      'post /api/account/signup': [
        {
          what: 'a new account',
          path: '/api/account/signup',
          body: { email: 'new@example.com', password: 'new password 12', displayName: 'New' },
        },
        {
          what: 'the same email again',
          path: '/api/account/signup',
          body: { email: 'new@example.com', password: 'new password 12', displayName: 'New' },
        },
        {
          what: 'not an email',
          path: '/api/account/signup',
          body: { email: 'new', password: 'new password 12', displayName: 'New' },
        },
        {
          what: 'a short password',
          path: '/api/account/signup',
          body: { email: 'short@example.com', password: 'short', displayName: 'New' },
        },
      ],
      'post /api/account/signin': [
        { what: 'the right password', path: '/api/account/signin', body: keeper },
        { what: 'a wrong password', path: '/api/account/signin', body: { ...keeper, password: 'wrong one' } },
        { what: 'no password', path: '/api/account/signin', body: { email: keeper.email } },
      ],
      'get /api/account/sessions': [
        { what: 'an account', path: '/api/account/sessions', cookie: keeperCookie },
        { what: 'nobody', path: '/api/account/sessions' },
      ],
      'delete /api/account/sessions/{id}': [
        {
          what: 'another session of mine',
          path: `/api/account/sessions/${endSessionId}`,
          cookie: keeperCookie,
        },
        { what: 'ended already', path: `/api/account/sessions/${endSessionId}`, cookie: keeperCookie },
        { what: 'not a uuid', path: '/api/account/sessions/nope', cookie: keeperCookie },
      ],
      'post /api/account/signout': [
        { what: 'a session', path: '/api/account/signout', cookie: signOutCookie },
        { what: 'nobody', path: '/api/account/signout' },
      ],
      'post /api/account/signout-everywhere': [
        { what: 'an account', path: '/api/account/signout-everywhere', cookie: leaverCookie },
        { what: 'nobody', path: '/api/account/signout-everywhere' },
      ],
      'post /api/tokens': [
        {
          what: 'a token for a bot',
          path: '/api/tokens',
          cookie: member.cookie,
          body: { name: 'bot', scopes: ['messages:write'], expiresInDays: 30 },
        },
        { what: 'no cookie', path: '/api/tokens', body: { name: 'bot', scopes: ['messages:write'] } },
        {
          what: 'with a token instead of the cookie',
          path: '/api/tokens',
          bearer: fullToken,
          body: { name: 'bot', scopes: ['messages:write'] },
        },
        {
          what: 'an unknown scope',
          path: '/api/tokens',
          cookie: member.cookie,
          body: { name: 'bot', scopes: ['admin'] },
        },
      ],
      'get /api/tokens': [
        { what: 'with the cookie', path: '/api/tokens', cookie: member.cookie },
        { what: 'without a cookie', path: '/api/tokens' },
      ],
      'delete /api/tokens/{id}': [
        { what: 'one of one’s tokens', path: `/api/tokens/${spareTokenId}`, cookie: member.cookie },
        { what: 'revoked already', path: `/api/tokens/${spareTokenId}`, cookie: member.cookie },
        { what: 'not a uuid', path: '/api/tokens/nope', cookie: member.cookie },
      ],
      'get /api/rooms': [
        { what: 'with the cookie', path: '/api/rooms', cookie: member.cookie },
        { what: 'with a rooms:read token', path: '/api/rooms', bearer: readToken },
        { what: 'with neither', path: '/api/rooms' },
        { what: 'with an unknown token', path: '/api/rooms', bearer: `meet_${'x'.repeat(43)}` },
      ],
      'post /api/rooms': [
        {
          what: 'a named room',
          path: '/api/rooms',
          bearer: fullToken,
          body: { id: `openapi-made-${process.pid}` },
        },
        { what: 'a random id', path: '/api/rooms', cookie: member.cookie, body: {} },
        { what: 'an id taken', path: '/api/rooms', cookie: member.cookie, body: { id: roomId } },
        { what: 'a bad id', path: '/api/rooms', cookie: member.cookie, body: { id: 'Bad Id' } },
        { what: 'a token without rooms:write', path: '/api/rooms', bearer: readToken, body: {} },
      ],
      'get /api/rooms/{roomId}': [
        { what: 'a member', path: `/api/rooms/${roomId}`, cookie: member.cookie },
        { what: 'not a member', path: `/api/rooms/${roomId}`, cookie: outsider.cookie },
        { what: 'a bad id', path: '/api/rooms/Bad_Room', cookie: member.cookie },
      ],
      'patch /api/rooms/{roomId}': [
        {
          what: 'a host names it',
          path: `/api/rooms/${roomId}`,
          cookie: member.cookie,
          body: { name: 'Team', topic: 'Weekly' },
        },
        {
          what: 'not a member',
          path: `/api/rooms/${roomId}`,
          cookie: outsider.cookie,
          body: { name: 'Mine now' },
        },
        { what: 'nothing to change', path: `/api/rooms/${roomId}`, cookie: member.cookie, body: {} },
        {
          what: 'a name too long',
          path: `/api/rooms/${roomId}`,
          cookie: member.cookie,
          body: { name: 'x'.repeat(81) },
        },
      ],
      'put /api/rooms/{roomId}/star': [
        {
          what: 'star it',
          path: `/api/rooms/${roomId}/star`,
          cookie: member.cookie,
          body: { starred: true },
        },
        {
          what: 'not a member',
          path: `/api/rooms/${roomId}/star`,
          cookie: outsider.cookie,
          body: { starred: true },
        },
        {
          what: 'not a boolean',
          path: `/api/rooms/${roomId}/star`,
          cookie: member.cookie,
          body: { starred: 'yes' },
        },
      ],
      'delete /api/rooms/{roomId}/membership': [
        { what: 'a member leaves', path: `/api/rooms/${leaveRoomId}/membership`, cookie: member.cookie },
        { what: 'not a member', path: `/api/rooms/${roomId}/membership`, cookie: outsider.cookie },
        {
          what: 'the only host, with others in it',
          path: `/api/rooms/${roomId}/membership`,
          cookie: member.cookie,
        },
      ],
      'get /api/rooms/{roomId}/members': [
        { what: 'a member', path: `/api/rooms/${roomId}/members`, bearer: readToken },
        { what: 'not a member', path: `/api/rooms/${roomId}/members`, cookie: outsider.cookie },
      ],
      'get /api/rooms/{roomId}/messages': [
        { what: 'a member', path: `/api/rooms/${roomId}/messages?limit=10`, bearer: fullToken },
        { what: 'a token without messages:read', path: `/api/rooms/${roomId}/messages`, bearer: readToken },
        { what: 'a limit of 0', path: `/api/rooms/${roomId}/messages?limit=0`, cookie: member.cookie },
        {
          what: 'an unknown parameter',
          path: `/api/rooms/${roomId}/messages?after=1`,
          cookie: member.cookie,
        },
      ],
      'post /api/rooms/{roomId}/messages': [
        {
          what: 'a message',
          path: `/api/rooms/${roomId}/messages`,
          bearer: fullToken,
          body: { clientId: 'openapi-message-1', text: 'from a bot' },
        },
        {
          what: 'the same again',
          path: `/api/rooms/${roomId}/messages`,
          bearer: fullToken,
          body: { clientId: 'openapi-message-1', text: 'from a bot' },
        },
        {
          what: 'not a member',
          path: `/api/rooms/${roomId}/messages`,
          cookie: outsider.cookie,
          body: { clientId: 'openapi-message-2', text: 'hi' },
        },
        {
          what: 'no text',
          path: `/api/rooms/${roomId}/messages`,
          cookie: member.cookie,
          body: { clientId: 'openapi-message-3', text: '  ' },
        },
        {
          what: 'an attachment posted already',
          path: `/api/rooms/${roomId}/messages`,
          cookie: member.cookie,
          body: {
            clientId: 'openapi-message-4',
            text: '',
            attachmentId: '00000000-0000-4000-8000-000000000000',
          },
        },
      ],
      'post /api/rooms/{roomId}/attachments': [
        {
          what: 'a text file',
          path: `/api/rooms/${roomId}/attachments`,
          cookie: member.cookie,
          multipart: upload('hi', 'a.txt'),
        },
        { what: 'no cookie', path: `/api/rooms/${roomId}/attachments`, multipart: upload('hi', 'a.txt') },
        {
          what: 'not a member',
          path: `/api/rooms/${roomId}/attachments`,
          cookie: outsider.cookie,
          multipart: upload('hi', 'a.txt'),
        },
        {
          what: 'an HTML file',
          path: `/api/rooms/${roomId}/attachments`,
          cookie: member.cookie,
          multipart: upload('<!doctype html><html><script>x</script></html>', 'x.html'),
        },
        {
          what: 'a bad room id',
          path: '/api/rooms/Bad_Room/attachments',
          cookie: member.cookie,
          multipart: upload('hi', 'a.txt'),
        },
      ],
      'get /api/attachments/{id}': [
        {
          what: 'an unposted upload, by its uploader',
          path: `/api/attachments/${attachmentId}`,
          cookie: member.cookie,
        },
        { what: 'no cookie', path: `/api/attachments/${attachmentId}` },
        { what: 'not a member', path: `/api/attachments/${attachmentId}`, cookie: outsider.cookie },
        {
          what: 'an unknown id',
          path: '/api/attachments/00000000-0000-4000-8000-000000000000',
          cookie: member.cookie,
        },
      ],
    };

    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    ajv.addSchema(document, 'openapi');
    const pointer = (...parts: string[]) =>
      parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method} ${path}`),
    );
    assert.deepEqual(
      documented.filter((operation) => !calls[operation]).sort(),
      [],
      'every documented operation is called here',
    );
    for (const [operation, list] of Object.entries(calls)) {
      const [method, path] = operation.split(' ') as [string, string];
      const spec = document.paths[path]?.[method];
      assert.ok(spec, `${operation} is documented`);
      const seen: number[] = [];
      for (const call of list) {
        const headers: Record<string, string> = {};
        if (call.cookie) headers.cookie = call.cookie;
        if (call.bearer) headers.authorization = `Bearer ${call.bearer}`;
        if (call.body !== undefined) headers['content-type'] = 'application/json';
        const response = await fetch(new URL(call.path, server.url), {
          redirect: 'manual',
          method: method.toUpperCase(),
          headers,
          ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
          ...(call.multipart ? { body: call.multipart } : {}),
        });
        const label = `${operation}, ${call.what} → ${response.status}`;
        const documentedResponse = spec.responses[String(response.status)];
        assert.ok(
          documentedResponse,
          `${label}: status not documented (${Object.keys(spec.responses).join(', ')})`,
        );
        seen.push(response.status);
        const schema = documentedResponse.content?.['application/json']?.schema;
        if (!schema || response.status === 204 || (response.status >= 300 && response.status < 400)) {
          await response.arrayBuffer();
          continue;
        }
        const body: unknown = await response.json();
        const validate = ajv.getSchema(
          `openapi#/${pointer('paths', path, method, 'responses', String(response.status), 'content', 'application/json', 'schema')}`,
        );
        assert.ok(validate, `${label}: schema compiled`);
        assert.equal(
          validate(body),
          true,
          `${label}: ${JSON.stringify(body)} ${ajv.errorsText(validate.errors)}`,
        );
      }
      assert.ok(
        seen.some((status) => status < 400),
        `${operation}: a success was seen (${seen.join(', ')})`,
      );
      // (Health, the list of sign-in providers and the push key refuse nothing.)
      if (!['get /api/health', 'get /api/auth/oidc', 'get /api/push/key'].includes(operation))
        assert.ok(
          seen.some((status) => status >= 400 && status < 500),
          `${operation}: a refusal was seen (${seen.join(', ')})`,
        );
    }
  });
});
