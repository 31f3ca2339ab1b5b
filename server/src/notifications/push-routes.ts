// HTTP API for web push: GET /api/push/key (the VAPID public key for PushManager.subscribe),
// POST and DELETE /api/push/subscriptions (this browser's subscription, by the identity
// cookie), PUT /api/rooms/{roomId}/notify (what one hears of a room: off, mentions, all).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  apiErrorSchema,
  pushKeyResponseSchema,
  pushSubscriptionRequestSchema,
  pushUnsubscribeRequestSchema,
  roomNotifyRequestSchema,
  roomParamsSchema,
} from '@meet/protocol';
import { answerRefusals } from '../api/refusals.js';
import type { Authenticate } from '../auth/api-auth.js';
import type { Db } from '../db/database.js';
import type { RoomDirectory } from '../room/room-directory.js';
import { apiSecurity } from '../room/room-routes.js';
import type { PushNotifier } from './push-notifier.js';
import { subscribe, unsubscribe, type PushEndpointPolicy } from './subscriptions.js';

export interface PushRouteOptions {
  db: Db;
  notifier: PushNotifier;
  directory: RoomDirectory;
  authenticate: Authenticate;
  policy: PushEndpointPolicy;
  perMinute: number;
}

export function registerPushRoutes(app: FastifyInstance, options: PushRouteOptions): void {
  const { db, authenticate } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const config = { rateLimit: { max: options.perMinute, timeWindow: 60_000 } };
  const security = [{ identityCookie: [] }];
  const refusals = { 400: apiErrorSchema, 401: apiErrorSchema, 403: apiErrorSchema, 429: apiErrorSchema };

  api.get(
    '/api/push/key',
    {
      schema: {
        tags: ['notifications'],
        summary: 'The server’s VAPID public key, to subscribe a browser to web push',
        response: { 200: pushKeyResponseSchema },
      },
    },
    async (_request, reply) => reply.send({ publicKey: options.notifier.publicKey }),
  );

  api.post(
    '/api/push/subscriptions',
    {
      config,
      schema: {
        tags: ['notifications'],
        summary: 'Subscribe this browser to web push (its PushSubscription); rooms opt in one by one',
        security,
        body: pushSubscriptionRequestSchema,
        response: { 204: z.null().describe('subscribed'), 409: apiErrorSchema, ...refusals },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, undefined);
      if (!caller) return reply;
      const { endpoint, keys } = request.body;
      return answerRefusals(request, reply, async () => {
        await subscribe(db, caller.identity.id, { endpoint, ...keys }, options.policy);
        return reply.code(204).send(null);
      });
    },
  );

  api.delete(
    '/api/push/subscriptions',
    {
      config,
      schema: {
        tags: ['notifications'],
        summary: 'Unsubscribe this browser from web push',
        security,
        body: pushUnsubscribeRequestSchema,
        response: { 204: z.null().describe('unsubscribed'), 404: apiErrorSchema, ...refusals },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, undefined);
      if (!caller) return reply;
      if (!(await unsubscribe(db, caller.identity.id, request.body.endpoint)))
        return reply.code(404).send({ error: 'Not Found', message: 'no such subscription of yours' });
      return reply.code(204).send(null);
    },
  );

  api.put(
    '/api/rooms/:roomId/notify',
    {
      config,
      schema: {
        tags: ['notifications'],
        summary: 'What web push you get of one of your rooms (scope rooms:write)',
        security: apiSecurity,
        params: roomParamsSchema,
        body: roomNotifyRequestSchema,
        response: { 204: z.null().describe('set'), 404: apiErrorSchema, ...refusals },
      },
    },
    async (request, reply) => {
      const caller = await authenticate(request, reply, 'rooms:write');
      if (!caller) return reply;
      return answerRefusals(request, reply, async () => {
        await options.directory.setNotify(caller.identity.id, request.params.roomId, request.body.level);
        options.notifier.forget(request.params.roomId);
        return reply.code(204).send(null);
      });
    },
  );
}
