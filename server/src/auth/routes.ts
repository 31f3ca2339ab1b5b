// HTTP API for identities: POST /api/identity (create or rename), GET /api/identity.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { apiErrorSchema, identityRequestSchema, identityResponseSchema } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { GuestsRefused, identityFromRequest, upsertIdentity } from './identity.js';

export interface IdentityCookieOptions {
  secure: boolean | 'auto';
  /** Pages may be embedded in other sites (EMBED_ORIGINS): embedded pages get partitioned cookies. */
  embedding: boolean;
  /** New guests may be made (GUEST_ACCESS); else only an existing session may rename itself. */
  guests?: boolean;
}

export function registerIdentityRoutes(
  app: FastifyInstance,
  db: Db,
  cookie: IdentityCookieOptions,
  perMinute: number,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  // Each new identity is a row: a client may make only so many a minute.
  api.post(
    '/api/identity',
    {
      config: { rateLimit: { max: perMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['identity'],
        summary: 'Create this browser’s identity (sets its cookie), or rename it',
        body: identityRequestSchema,
        response: {
          200: identityResponseSchema,
          400: apiErrorSchema,
          403: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      try {
        const identity = await upsertIdentity(db, request, reply, request.body.displayName, {
          secure: cookie.secure,
          partitioned: cookie.embedding && request.body.embedded === true,
          guests: cookie.guests !== false,
        });
        return reply.send({ identity });
      } catch (error) {
        if (!(error instanceof GuestsRefused)) throw error;
        return reply.code(403).send({ error: 'Forbidden', message: error.message });
      }
    },
  );

  api.get(
    '/api/identity',
    {
      schema: {
        tags: ['identity'],
        summary: 'Who this browser is',
        security: [{ identityCookie: [] }],
        response: { 200: identityResponseSchema, 401: apiErrorSchema },
      },
    },
    async (request, reply) => {
      const identity = await identityFromRequest(db, request);
      if (!identity)
        return reply
          .code(401)
          .send({ error: 'Unauthorized', message: 'no identity: POST /api/identity first' });
      return reply.send({ identity });
    },
  );
}
