// A real OpenID Connect provider for tests: panva's oidc-provider on 127.0.0.1 (plain http),
// with one confidential client and its development sign-in pages (any login, any password:
// the login becomes the subject; "<login>" is the name, "<login>@example.com" the email).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The server's environment for this provider under `id`. */
  env(id: string, name: string): Record<string, string>;
  /**
   * Registers the client's redirect URIs (known once the meeting server listens) and starts
   * answering; until then the provider answers 503.
   */
  register(redirectUris: string[]): void;
  stop(): Promise<void>;
}

/** Listens at once (the issuer URL is known); answers once `register` named the redirect URIs. */
export async function startOidcProvider(): Promise<TestOidcProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'meet-test';
  const clientSecret = 'meet-test-client-secret-0123456789abcdef';
  let handler: ReturnType<Provider['callback']> | undefined;
  server.on('request', (request, response) => {
    if (handler) return void handler(request, response);
    response.writeHead(503).end('not registered yet');
  });
  const make = (redirectUris: string[]) =>
    new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: redirectUris,
          grant_types: ['authorization_code'],
          response_types: ['code'],
        },
      ],
      claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
      // ID tokens carry the claims (not only the userinfo endpoint).
      conformIdTokenClaims: false,
      findAccount: (_context, sub) => ({
        accountId: sub,
        claims: () => ({ sub, name: sub, preferred_username: sub, email: `${sub}@example.com` }),
      }),
      cookies: { keys: ['meet-test-oidc-cookie-key-0123456789'] },
      features: { devInteractions: { enabled: true } },
    });
  return {
    issuer,
    clientId,
    clientSecret,
    env: (id, name) => ({
      OIDC_PROVIDERS: id,
      [`OIDC_${id.toUpperCase()}_ISSUER`]: issuer,
      [`OIDC_${id.toUpperCase()}_CLIENT_ID`]: clientId,
      [`OIDC_${id.toUpperCase()}_CLIENT_SECRET`]: clientSecret,
      [`OIDC_${id.toUpperCase()}_NAME`]: name,
      [`OIDC_${id.toUpperCase()}_ALLOW_HTTP`]: 'true',
    }),
    register: (redirectUris) => {
      handler = make(redirectUris).callback();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
