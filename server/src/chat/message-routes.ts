// HTTP API for a room's messages, by the identity cookie or an API token (messages:read,
// messages:write): GET /api/rooms/{roomId}/messages (history, newest first, in pages) and
// POST /api/rooms/{roomId}/messages (post as the caller: stored with the room's next batch
// and told to everyone connected, on every node, like a message from the chat panel; a
// retry with the same clientId is stored once).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  apiErrorSchema,
  messageResponseSchema,
  messageSendRequestSchema,
  messagesPageSchema,
  messagesQuerySchema,
  roomParamsSchema,
} from '@meet/protocol';
import type { Authenticate } from '../auth/api-auth.js';
import type { Db } from '../db/database.js';
import type { RoomRegistry } from '../room/registry.js';
import { apiSecurity, notAMember } from '../room/room-routes.js';
import { answerRefusals } from '../api/refusals.js';
import { isMember } from './membership.js';
import { history, prepareSend } from './messages.js';

export function registerMessageRoutes(
  app: FastifyInstance,
  db: Db,
  rooms: RoomRegistry,
  authenticate: Authenticate,
  perMinute: number,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const config = { rateLimit: { max: perMinute, timeWindow: 60_000 } };
  const refusals = {
    400: apiErrorSchema,
    401: apiErrorSchema,
    403: apiErrorSchema,
    404: apiErrorSchema,
    429: apiErrorSchema,
  };

  api.get(
    '/api/rooms/:roomId/messages',
    {
      config,
      schema: {
        tags: ['messages'],
        summary:
          'A page of the messages you may see in one of your rooms, newest first (scope messages:read)',
        security: apiSecurity,
        params: roomParamsSchema,
        querystring: messagesQuerySchema,
        response: { 200: messagesPageSchema, ...refusals },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'messages:read');
      if (!caller) return reply;
      const { roomId } = request.params;
      if (!(await isMember(db, roomId, caller.identity.id))) return reply.code(404).send(notAMember);
      const { beforeSeq, limit } = request.query;
      return reply.send(await history(db, roomId, caller.identity.id, beforeSeq, limit ?? 50));
    },
  );

  api.post(
    '/api/rooms/:roomId/messages',
    {
      config,
      schema: {
        tags: ['messages'],
        summary: 'Post a message in one of your rooms, as you (scope messages:write)',
        description:
          'Answered once stored. Everyone connected to the room gets it at once. The same ' +
          'clientId again (a retry) answers the stored message and posts nothing more: 200 ' +
          'instead of 201.',
        security: apiSecurity,
        params: roomParamsSchema,
        body: messageSendRequestSchema,
        response: {
          201: messageResponseSchema,
          200: messageResponseSchema,
          409: apiErrorSchema,
          503: apiErrorSchema,
          ...refusals,
        },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'messages:write');
      if (!caller) return reply;
      const { roomId } = request.params;
      const identityId = caller.identity.id;
      if (!(await isMember(db, roomId, identityId))) return reply.code(404).send(notAMember);
      const { clientId, text, recipientId, attachmentId, mentions } = request.body;
      return answerRefusals(request, reply, async () => {
        const prepared = await prepareSend(db, {
          roomId,
          authorId: identityId,
          clientId,
          text,
          recipientId,
          attachmentId,
          mentions,
        });
        if (prepared.existing) return reply.code(200).send({ message: prepared.existing });
        const { message, created } = await rooms.withRoom(roomId, (room) =>
          room.chat.post(prepared.pending, `api:${identityId}`),
        );
        request.log.info(
          { roomId, identityId, via: caller.via, seq: message.seq },
          'message posted by the API',
        );
        return reply.code(created ? 201 : 200).send({ message });
      });
    },
  );
}
