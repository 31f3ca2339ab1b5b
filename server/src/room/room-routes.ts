// HTTP API for rooms, by the identity cookie or an API token (rooms:read, rooms:write):
// GET /api/rooms (mine: unread counts, the newest message, who is connected), POST /api/rooms
// (make one, as its host), GET and PATCH /api/rooms/{roomId} (hosts name it and set its
// topic; everyone connected is told), GET /api/rooms/{roomId}/members, PUT
// /api/rooms/{roomId}/star and DELETE /api/rooms/{roomId}/membership (leave). Members only:
// a room one does not belong to answers 404.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  apiErrorSchema,
  roomCreateRequestSchema,
  roomListSchema,
  roomMembersSchema,
  roomParamsSchema,
  roomResponseSchema,
  roomStarRequestSchema,
  roomUpdateRequestSchema,
} from '@meet/protocol';
import { answerRefusals } from '../api/refusals.js';
import type { Authenticate } from '../auth/api-auth.js';
import type { RoomRegistry } from './registry.js';
import type { RoomDirectory } from './room-directory.js';

export const apiSecurity: Array<Record<string, string[]>> = [{ identityCookie: [] }, { apiToken: [] }];
export const notAMember = { error: 'Not Found', message: 'no such room among yours' } as const;

export function registerRoomRoutes(
  app: FastifyInstance,
  directory: RoomDirectory,
  rooms: RoomRegistry,
  authenticate: Authenticate,
  perMinute: number,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const config = { rateLimit: { max: perMinute, timeWindow: 60_000 } };
  const refusals = { 401: apiErrorSchema, 403: apiErrorSchema, 429: apiErrorSchema };
  const oneRoom = { 400: apiErrorSchema, 404: apiErrorSchema, ...refusals };

  api.get(
    '/api/rooms',
    {
      config,
      schema: {
        tags: ['rooms'],
        summary: 'The rooms you belong to: starred first, then the most recently active (scope rooms:read)',
        security: apiSecurity,
        response: { 200: roomListSchema, ...refusals },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'rooms:read');
      if (!caller) return reply;
      return reply.send({ rooms: await directory.mine(caller.identity.id) });
    },
  );

  api.post(
    '/api/rooms',
    {
      config,
      schema: {
        tags: ['rooms'],
        summary: 'Make a room, with you as its host (scope rooms:write)',
        security: apiSecurity,
        body: roomCreateRequestSchema,
        response: { 201: roomResponseSchema, 400: apiErrorSchema, 409: apiErrorSchema, ...refusals },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'rooms:write');
      if (!caller) return reply;
      const { identity } = caller;
      const room = await directory.create(identity.id, identity.displayName, request.body.id);
      if (!room)
        return reply
          .code(409)
          .send({ error: 'Conflict', message: `a room ${request.body.id} exists already` });
      request.log.info({ roomId: room.id, identityId: identity.id, via: caller.via }, 'room made by the API');
      return reply.code(201).send({ room });
    },
  );

  api.get(
    '/api/rooms/:roomId',
    {
      config,
      schema: {
        tags: ['rooms'],
        summary: 'One of your rooms (scope rooms:read)',
        security: apiSecurity,
        params: roomParamsSchema,
        response: { 200: roomResponseSchema, ...oneRoom },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'rooms:read');
      if (!caller) return reply;
      const room = await directory.get(caller.identity.id, request.params.roomId);
      if (!room) return reply.code(404).send(notAMember);
      return reply.send({ room });
    },
  );

  api.patch(
    '/api/rooms/:roomId',
    {
      config,
      schema: {
        tags: ['rooms'],
        summary: 'Name a room you host, or set its topic; everyone connected is told (scope rooms:write)',
        security: apiSecurity,
        params: roomParamsSchema,
        body: roomUpdateRequestSchema,
        response: { 200: roomResponseSchema, ...oneRoom },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'rooms:write');
      if (!caller) return reply;
      const { roomId } = request.params;
      return answerRefusals(request, reply, async () => {
        const named = await directory.update(caller.identity.id, roomId, request.body);
        await rooms.withRoom(roomId, async (room) => room.broadcast('roomUpdated', named));
        const room = await directory.get(caller.identity.id, roomId);
        if (!room) return reply.code(404).send(notAMember);
        return reply.send({ room });
      });
    },
  );

  api.get(
    '/api/rooms/:roomId/members',
    {
      config,
      schema: {
        tags: ['rooms'],
        summary: 'The members of one of your rooms, by when they joined (scope rooms:read)',
        security: apiSecurity,
        params: roomParamsSchema,
        response: { 200: roomMembersSchema, ...oneRoom },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'rooms:read');
      if (!caller) return reply;
      const members = await directory.members(request.params.roomId);
      if (!members.some((m) => m.identityId === caller.identity.id)) return reply.code(404).send(notAMember);
      return reply.send({ members });
    },
  );

  api.put(
    '/api/rooms/:roomId/star',
    {
      config,
      schema: {
        tags: ['rooms'],
        summary: 'Star one of your rooms (listed first), or unstar it (scope rooms:write)',
        security: apiSecurity,
        params: roomParamsSchema,
        body: roomStarRequestSchema,
        response: { 204: z.null().describe('done'), ...oneRoom },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'rooms:write');
      if (!caller) return reply;
      return answerRefusals(request, reply, async () => {
        await directory.star(caller.identity.id, request.params.roomId, request.body.starred);
        return reply.code(204).send(null);
      });
    },
  );

  api.delete(
    '/api/rooms/:roomId/membership',
    {
      config,
      schema: {
        tags: ['rooms'],
        summary:
          'Leave one of your rooms: it is no longer yours, and your open tabs in it close (scope rooms:write)',
        description: 'The only host of a room with other members is refused (409): make another host first.',
        security: apiSecurity,
        params: roomParamsSchema,
        response: { 204: z.null().describe('left'), 409: apiErrorSchema, ...oneRoom },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'rooms:write');
      if (!caller) return reply;
      const { roomId } = request.params;
      const identityId = caller.identity.id;
      return answerRefusals(request, reply, async () => {
        await directory.leave(identityId, roomId);
        await rooms.withRoom(roomId, async (room) =>
          room.disconnectIdentity(identityId, 'you left this room'),
        );
        request.log.info({ roomId, identityId }, 'left the room');
        return reply.code(204).send(null);
      });
    },
  );
}
