// POST /api/room-token: a person arrives with a room token (a link like /r/<room>#token=…
// that an operator's application made). The token is verified; the browser gets an
// identity named as the token says (its cookie), and that identity becomes a member of the
// room with the token's role and name. Joining then goes as for any member.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { apiErrorSchema, roomTokenRequestSchema, roomTokenResponseSchema } from '@meet/protocol';
import { grantMembership } from '../chat/membership.js';
import type { Db } from '../db/database.js';
import { upsertIdentity } from './identity.js';
import { RoomTokenError, verifyRoomToken, type RoomGrant, type RoomTokenConfig } from './room-tokens.js';
import type { IdentityCookieOptions } from './routes.js';

const statusNames = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden' } as const;

export function registerRoomTokenRoute(
  app: FastifyInstance,
  db: Db,
  config: RoomTokenConfig | undefined,
  cookie: IdentityCookieOptions,
  perMinute: number,
): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/room-token',
    {
      config: { rateLimit: { max: perMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['identity'],
        summary: 'Enter a room with a room token: this browser’s identity gets its name and role there',
        description:
          'See docs/embedding.md. 401: expired, forged, unaccepted algorithm, no expiry, too ' +
          'long-lived, wrong issuer or audience; 403: a token for another room; 404: room tokens ' +
          'are not configured.',
        body: roomTokenRequestSchema,
        response: {
          200: roomTokenResponseSchema,
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      if (!config)
        return reply
          .code(404)
          .send({ error: 'Not Found', message: 'room tokens are not enabled on this server' });
      const { roomId, token, embedded } = request.body;
      let grant: RoomGrant;
      try {
        grant = await verifyRoomToken(config, token, roomId);
      } catch (error) {
        if (!(error instanceof RoomTokenError)) throw error;
        request.log.info({ roomId, reason: error.message }, 'room token refused');
        return reply
          .code(error.statusCode)
          .send({ error: statusNames[error.statusCode], message: error.message });
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
