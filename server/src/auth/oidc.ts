// Sign-in with OpenID Connect providers the operator configures (Keycloak, Google, GitLab, …)
// through openid-client: the authorization code flow with PKCE, state and nonce. A sign-in
// under way is kept in the database (any node may get the provider's answer) with a hash of
// a value in this browser's sign-in cookie, so that the answer only completes where it began.
import { createHash, randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import type { Db } from '../db/database.js';

export interface OidcProviderConfig {
  id: string;
  /** Shown on the sign-in button. */
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** For a provider on plain http (tests, a lab): never in production. */
  allowHttp: boolean;
}

/** Reads OIDC_PROVIDERS=<id>,… and, per id, OIDC_<ID>_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _NAME, _ALLOW_HTTP. */
export function oidcProvidersFromEnv(env: NodeJS.ProcessEnv): OidcProviderConfig[] {
  const ids = (env.OIDC_PROVIDERS ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  return ids.map((id) => {
    if (!/^[a-z0-9]{1,32}$/.test(id)) throw new Error(`OIDC_PROVIDERS: "${id}" is not 1-32 of a-z and 0-9`);
    const key = (name: string) => `OIDC_${id.toUpperCase()}_${name}`;
    const need = (name: string) => {
      const value = env[key(name)];
      if (!value) throw new Error(`OIDC_PROVIDERS names ${id} but ${key(name)} is not set`);
      return value;
    };
    const issuer = need('ISSUER');
    if (!/^https?:\/\//.test(issuer)) throw new Error(`${key('ISSUER')} must be an http(s) URL`);
    const allowHttp = env[key('ALLOW_HTTP')] === 'true';
    if (issuer.startsWith('http:') && !allowHttp)
      throw new Error(`${key('ISSUER')} is plain http: use https (or ${key('ALLOW_HTTP')}=true in a lab)`);
    return {
      id,
      name: env[key('NAME')] ?? id,
      issuer,
      clientId: need('CLIENT_ID'),
      clientSecret: need('CLIENT_SECRET'),
      allowHttp,
    };
  });
}

/** A sign-in under way expires after this long. */
const loginTtlMs = 10 * 60_000;
export const oidcCookie = 'meet_oidc';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** Where to go once signed in: a path of this site only (never another site's). */
export function safeReturnTo(value: string | undefined): string {
  return value && /^\/(?![/\\])[\x21-\x7e]*$/.test(value) ? value : '/';
}

export interface OidcClaims {
  issuer: string;
  subject: string;
  name: string;
  email: string | undefined;
}

export class OidcError extends Error {}

export class OidcProviders {
  readonly #providers: Map<string, OidcProviderConfig>;
  readonly #configs = new Map<string, Promise<client.Configuration>>();

  constructor(providers: OidcProviderConfig[]) {
    this.#providers = new Map(providers.map((provider) => [provider.id, provider]));
  }

  list(): Array<{ id: string; name: string }> {
    return [...this.#providers.values()].map(({ id, name }) => ({ id, name }));
  }

  has(id: string): boolean {
    return this.#providers.has(id);
  }

  /** The provider's configuration, discovered once (again after a failure). */
  #config(id: string): Promise<client.Configuration> {
    const provider = this.#providers.get(id);
    if (!provider) throw new OidcError(`no sign-in provider ${id}`);
    let config = this.#configs.get(id);
    if (!config) {
      config = client.discovery(
        new URL(provider.issuer),
        provider.clientId,
        undefined,
        client.ClientSecretBasic(provider.clientSecret),
        provider.allowHttp ? { execute: [client.allowInsecureRequests] } : undefined,
      );
      config.catch(() => this.#configs.delete(id));
      this.#configs.set(id, config);
    }
    return config;
  }

  /**
   * Begins a sign-in: the provider's authorization URL, and the value for this browser's
   * sign-in cookie. `sessionId`: the browser's session now (a guest to merge once signed in).
   */
  async start(
    db: Db,
    input: { provider: string; redirectUri: string; returnTo: string; sessionId: string | undefined },
  ): Promise<{ url: URL; binding: string }> {
    let config: client.Configuration;
    try {
      config = await this.#config(input.provider);
    } catch (error) {
      if (error instanceof OidcError) throw error;
      throw new OidcError(
        `the sign-in provider ${input.provider} cannot be reached: ${(error as Error).message}`,
      );
    }
    const state = client.randomState();
    const nonce = client.randomNonce();
    const codeVerifier = client.randomPKCECodeVerifier();
    const binding = randomBytes(32).toString('base64url');
    await db.oidcLogin.deleteMany({ where: { createdAt: { lt: new Date(Date.now() - loginTtlMs) } } });
    await db.oidcLogin.create({
      data: {
        state,
        provider: input.provider,
        nonce,
        codeVerifier,
        returnTo: safeReturnTo(input.returnTo),
        sessionId: input.sessionId ?? null,
        bindingHash: sha256(binding),
      },
    });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: input.redirectUri,
      scope: 'openid profile email',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { url, binding };
  }

  /**
   * Completes a sign-in with the provider's answer (`currentUrl`, the callback with its
   * parameters): checks it came back to the browser it began in, then the code, state, nonce
   * and PKCE through openid-client. Each sign-in completes once.
   */
  async finish(
    db: Db,
    input: { provider: string; currentUrl: URL; binding: string | undefined },
  ): Promise<{ claims: OidcClaims; returnTo: string; sessionId: string | null }> {
    const state = input.currentUrl.searchParams.get('state');
    if (!state) throw new OidcError('the provider’s answer has no state');
    const login = await db.oidcLogin.findUnique({ where: { state } });
    if (login) await db.oidcLogin.delete({ where: { state } }).catch(() => undefined);
    if (!login || login.provider !== input.provider || Date.now() - login.createdAt.getTime() > loginTtlMs)
      throw new OidcError('this sign-in expired or is unknown: start again');
    if (!input.binding || sha256(input.binding) !== login.bindingHash)
      throw new OidcError('this sign-in began in another browser: start again here');
    const error = input.currentUrl.searchParams.get('error');
    if (error)
      throw new OidcError(
        `the provider refused: ${input.currentUrl.searchParams.get('error_description') ?? error}`.slice(
          0,
          300,
        ),
      );
    const config = await this.#config(input.provider);
    let claims: client.IDToken | undefined;
    try {
      const tokens = await client.authorizationCodeGrant(config, input.currentUrl, {
        pkceCodeVerifier: login.codeVerifier,
        expectedState: state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (err) {
      throw new OidcError(`the provider’s answer did not check out: ${(err as Error).message}`.slice(0, 300));
    }
    if (!claims) throw new OidcError('the provider sent no ID token');
    const text = (value: unknown) => (typeof value === 'string' && value.trim() ? value.trim() : undefined);
    const email = text(claims.email);
    return {
      claims: {
        issuer: claims.iss,
        subject: claims.sub,
        name: (text(claims.name) ?? text(claims.preferred_username) ?? email ?? 'Someone').slice(0, 40),
        email,
      },
      returnTo: login.returnTo,
      sessionId: login.sessionId,
    };
  }
}
