// HTTP API for rooms, by the identity cookie or an API token (rooms:read, rooms:write):
// GET /api/rooms (mine: unread counts and the newest message), POST /api/rooms (make one,
// as its host), GET /api/rooms/{roomId}, GET /api/rooms/{roomId}/members. Members only: a
// room one does not belong to answers 404.
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  apiErrorSchema,
  roomCreateRequestSchema,
  roomListSchema,
  roomMembersSchema,
  roomParamsSchema,
  roomResponseSchema,
} from '@meet/protocol';
import type { Authenticate } from '../auth/api-auth.js';
import type { Db } from '../db/database.js';
import { createRoom, membersOf, myRooms, roomOf } from './room-directory.js';

export const apiSecurity: Array<Record<string, string[]>> = [{ identityCookie: [] }, { apiToken: [] }];
export const notAMember = { error: 'Not Found', message: 'no such room among yours' } as const;

export function registerRoomRoutes(
  app: FastifyInstance,
  db: Db,
  authenticate: Authenticate,
  perMinute: number,
): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const config = { rateLimit: { max: perMinute, timeWindow: 60_000 } };
  const refusals = { 401: apiErrorSchema, 403: apiErrorSchema, 429: apiErrorSchema };

  api.get(
    '/api/rooms',
    {
      config,
      schema: {
        tags: ['rooms'],
        summary: 'The rooms you belong to, most recently active first (scope rooms:read)',
        security: apiSecurity,
        response: { 200: roomListSchema, ...refusals },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'rooms:read');
      if (!caller) return reply;
      return reply.send({ rooms: await myRooms(db, caller.identity.id) });
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
      const room = await createRoom(db, identity.id, identity.displayName, request.body.id);
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
        response: { 200: roomResponseSchema, 400: apiErrorSchema, 404: apiErrorSchema, ...refusals },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'rooms:read');
      if (!caller) return reply;
      const room = await roomOf(db, caller.identity.id, request.params.roomId);
      if (!room) return reply.code(404).send(notAMember);
      return reply.send({ room });
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
        response: { 200: roomMembersSchema, 400: apiErrorSchema, 404: apiErrorSchema, ...refusals },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'rooms:read');
      if (!caller) return reply;
      const members = await membersOf(db, request.params.roomId);
      if (!members.some((m) => m.identityId === caller.identity.id)) return reply.code(404).send(notAMember);
      return reply.send({ members });
    },
  );
}
