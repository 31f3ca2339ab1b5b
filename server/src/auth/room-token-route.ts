// POST /api/room-token: a person arrives with a room token (a link like /r/<room>#token=…
// that an operator's application made). The token is verified; the browser gets an
// identity named as the token says (its cookie), and that identity becomes a member of the
// room with the token's role and name. Joining then goes as for any member.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeIssues, roomIdSchema } from '@meet/protocol';
import { grantMembership } from '../chat/membership.js';
import type { Db } from '../db/database.js';
import { upsertIdentity } from './identity.js';
import { RoomTokenError, verifyRoomToken, type RoomTokenConfig } from './room-tokens.js';
import type { IdentityCookieOptions } from './routes.js';

const bodySchema = z
  .object({
    roomId: roomIdSchema,
    token: z.string().min(1).max(8192),
    /** The page runs inside another site's iframe (embed mode): a partitioned cookie. */
    embedded: z.boolean().optional(),
  })
  .strict();

export function registerRoomTokenRoute(
  app: FastifyInstance,
  db: Db,
  config: RoomTokenConfig | undefined,
  cookie: IdentityCookieOptions,
  perMinute: number,
): void {
  app.post(
    '/api/room-token',
    { config: { rateLimit: { max: perMinute, timeWindow: 60_000 } } },
    async (request, reply) => {
      if (!config)
        return reply
          .code(404)
          .send({ error: 'Not Found', message: 'room tokens are not enabled on this server' });
      const parsed = bodySchema.safeParse(request.body);
      if (!parsed.success)
        return reply.code(400).send({ error: 'Bad Request', message: describeIssues(parsed.error) });
      const { roomId, token, embedded } = parsed.data;
      let grant;
      try {
        grant = await verifyRoomToken(config, token, roomId);
      } catch (error) {
        if (!(error instanceof RoomTokenError)) throw error;
        request.log.info({ roomId, reason: error.message }, 'room token refused');
        const names = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden' } as const;
        return reply.code(error.statusCode).send({ error: names[error.statusCode], message: error.message });
      }
      const identity = await upsertIdentity(db, request, reply, grant.displayName, {
        secure: cookie.secure,
        partitioned: cookie.embedding && embedded === true,
      });
      await grantMembership(db, roomId, identity.id, grant.displayName, grant.role);
      request.log.info({ roomId, identityId: identity.id, role: grant.role }, 'room token redeemed');
      return reply.send({
        identity,
        roomId,
        displayName: grant.displayName,
        role: grant.role === 'host' ? 'host' : 'participant',
        expiresAt: grant.expiresAt.toISOString(),
      });
    },
  );
}
