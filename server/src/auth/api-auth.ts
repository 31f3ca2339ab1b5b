// Who calls the HTTP API: a browser by its identity cookie (everything a person may do), or a
// script by an API token ("Authorization: Bearer <secret>": that person, within the token's
// scopes). A refusal is answered here with its reason: 401 without valid credentials, 403 for
// a missing scope or a cookie-carrying write from a page of another origin.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiScope } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { verifyApiToken } from './api-tokens.js';
import { identityFromRequest, type IdentityInfo } from './identity.js';

export interface ApiCaller {
  identity: IdentityInfo;
  via: 'cookie' | 'token';
}

export type Authenticate = (
  request: FastifyRequest,
  reply: FastifyReply,
  /** The scope a token needs for this operation; undefined: the cookie only (no token may). */
  scope: ApiScope | undefined,
) => Promise<ApiCaller | undefined>;

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export function apiAuthentication(db: Db, allowedOrigins: string[] | undefined): Authenticate {
  return async (request, reply, scope) => {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const bearer = /^Bearer ([^\s]+)$/i.exec(header)?.[1];
      const refuse = (message: string) => {
        request.log.info({ url: request.url, reason: message }, 'API token refused');
        void reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="meet"')
          .send({ error: 'Unauthorized', message });
        return undefined;
      };
      if (!bearer) return refuse('the Authorization header must be "Bearer <API token>"');
      const checked = await verifyApiToken(db, bearer);
      if (!checked.ok) return refuse(checked.reason);
      if (scope === undefined || !checked.scopes.includes(scope)) {
        const message =
          scope === undefined
            ? 'API tokens are managed signed in (identity cookie), not with a token'
            : `this API token lacks the scope ${scope} (it has ${checked.scopes.join(', ')})`;
        request.log.info({ url: request.url, reason: message }, 'API token refused');
        void reply.code(403).send({ error: 'Forbidden', message });
        return undefined;
      }
      return { identity: checked.identity, via: 'token' };
    }
    const identity = await identityFromRequest(db, request);
    if (!identity) {
      void reply.code(401).send({
        error: 'Unauthorized',
        message: 'no identity cookie (POST /api/identity) and no "Authorization: Bearer <API token>"',
      });
      return undefined;
    }
    const foreign = foreignWrite(request, allowedOrigins);
    if (foreign) {
      void reply.code(403).send({ error: 'Forbidden', message: foreign });
      return undefined;
    }
    return { identity, via: 'cookie' };
  };
}

/**
 * Why a cookie-carrying write from this request's page is refused: it comes from another
 * origin (not in ALLOWED_ORIGINS). The cookie is SameSite; this holds all the same.
 */
export function foreignWrite(
  request: FastifyRequest,
  allowedOrigins: string[] | undefined,
): string | undefined {
  const origin = request.headers.origin;
  const own = `${request.protocol}://${request.host}`;
  if (
    safeMethods.has(request.method) ||
    origin === undefined ||
    origin === own ||
    allowedOrigins?.includes(origin)
  )
    return undefined;
  return `pages of ${origin.slice(0, 200)} may not change anything here`;
}
