// HTTP API for identities: POST /api/identity (create or rename), GET /api/identity.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeIssues, displayNameSchema } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { identityFromRequest, upsertIdentity } from './identity.js';

const bodySchema = z
  .object({
    displayName: displayNameSchema,
    /** The page runs inside another site's iframe (embed mode): a partitioned cookie. */
    embedded: z.boolean().optional(),
  })
  .strict();

export interface IdentityCookieOptions {
  secure: boolean | 'auto';
  /** Pages may be embedded in other sites (EMBED_ORIGINS): embedded pages get partitioned cookies. */
  embedding: boolean;
}

export function registerIdentityRoutes(
  app: FastifyInstance,
  db: Db,
  cookie: IdentityCookieOptions,
  perMinute: number,
): void {
  // Each new identity is a row: a client may make only so many a minute.
  app.post(
    '/api/identity',
    { config: { rateLimit: { max: perMinute, timeWindow: 60_000 } } },
    async (request, reply) => {
      const parsed = bodySchema.safeParse(request.body);
      if (!parsed.success) {
        return reply.code(400).send({ error: 'Bad Request', message: describeIssues(parsed.error) });
      }
      const identity = await upsertIdentity(db, request, reply, parsed.data.displayName, {
        secure: cookie.secure,
        partitioned: cookie.embedding && parsed.data.embedded === true,
      });
      return reply.send({ identity });
    },
  );

  app.get('/api/identity', async (request, reply) => {
    const identity = await identityFromRequest(db, request);
    if (!identity)
      return reply
        .code(401)
        .send({ error: 'Unauthorized', message: 'no identity: POST /api/identity first' });
    return reply.send({ identity });
  });
}
