// HTTP API for API tokens, signed in by the identity cookie only (a token cannot make
// tokens): POST /api/tokens (the secret is in this answer only), GET /api/tokens,
// DELETE /api/tokens/{id}.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  apiErrorSchema,
  apiTokenCreateRequestSchema,
  apiTokenCreatedSchema,
  apiTokenListSchema,
} from '@meet/protocol';
import type { Db } from '../db/database.js';
import type { Authenticate } from './api-auth.js';
import { createApiToken, listApiTokens, revokeApiToken } from './api-tokens.js';

/** Working tokens one person may hold at once. */
export const maxApiTokensPerIdentity = 50;

export function registerApiTokenRoutes(
  app: FastifyInstance,
  db: Db,
  authenticate: Authenticate,
  perMinute: number,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const config = { rateLimit: { max: perMinute, timeWindow: 60_000 } };
  const security = [{ identityCookie: [] }];

  api.post(
    '/api/tokens',
    {
      config,
      schema: {
        tags: ['tokens'],
        summary: 'Make an API token for a script or a bot (it acts as you, within its scopes)',
        security,
        body: apiTokenCreateRequestSchema,
        response: {
          201: apiTokenCreatedSchema,
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          409: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, undefined);
      if (!caller) return reply;
      const held = (await listApiTokens(db, caller.identity.id)).length;
      if (held >= maxApiTokensPerIdentity)
        return reply.code(409).send({
          error: 'Conflict',
          message: `you hold ${held} API tokens, the most allowed: revoke one first`,
        });
      const created = await createApiToken(db, caller.identity.id, request.body);
      request.log.info(
        { identityId: caller.identity.id, tokenId: created.token.id, scopes: created.token.scopes },
        'API token made',
      );
      return reply.code(201).send(created);
    },
  );

  api.get(
    '/api/tokens',
    {
      config,
      schema: {
        tags: ['tokens'],
        summary: 'Your API tokens that still work (never their secrets)',
        security,
        response: { 200: apiTokenListSchema, 401: apiErrorSchema, 403: apiErrorSchema, 429: apiErrorSchema },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, undefined);
      if (!caller) return reply;
      return reply.send({ tokens: await listApiTokens(db, caller.identity.id) });
    },
  );

  api.delete(
    '/api/tokens/:id',
    {
      config,
      schema: {
        tags: ['tokens'],
        summary: 'Revoke one of your API tokens (at once, on every node)',
        security,
        params: z.object({ id: z.uuid() }),
        response: {
          204: z.null().describe('revoked'),
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, undefined);
      if (!caller) return reply;
      if (!(await revokeApiToken(db, caller.identity.id, request.params.id)))
        return reply.code(404).send({ error: 'Not Found', message: 'you have no such API token' });
      request.log.info({ identityId: caller.identity.id, tokenId: request.params.id }, 'API token revoked');
      return reply.code(204).send(null);
    },
  );
}
