// HTTP API for accounts and sessions, by the identity cookie only:
// GET /api/account, POST /api/account/signup, /signin, /signout, /signout-everywhere,
// GET /api/account/sessions, DELETE /api/account/sessions/{id}. Signing up keeps the guest
// identity (its rooms and history); signing in merges this browser's guest identity into the
// account. Connections of an ended session (or of a merged guest) are closed, told why.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  accountResponseSchema,
  apiErrorSchema,
  sessionListSchema,
  signInRequestSchema,
  signUpRequestSchema,
} from '@meet/protocol';
import { answerRefusals } from '../api/refusals.js';
import type { Db } from '../db/database.js';
import type { RoomRegistry } from '../room/registry.js';
import { foreignWrite } from './api-auth.js';
import {
  accountOf,
  checkPassword,
  listSessions,
  mergeGuest,
  revokeAllSessions,
  revokeSession,
  roomsOf,
  SignInRefused,
  signUp,
} from './accounts.js';
import {
  clearSessionCookie,
  identityFromRequest,
  startSession,
  type CookieMode,
  type SessionIdentity,
} from './identity.js';

export interface AccountRouteOptions {
  db: Db;
  rooms: RoomRegistry;
  cookie: CookieMode;
  allowedOrigins: string[] | undefined;
  /** Sign-ups and sign-ins per minute and client address. */
  authPerMinute: number;
  perMinute: number;
}

const security = [{ identityCookie: [] }];

export function registerAccountRoutes(app: FastifyInstance, options: AccountRouteOptions): void {
  const { db, rooms } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const strict = { rateLimit: { max: options.authPerMinute, timeWindow: 60_000 } };
  const config = { rateLimit: { max: options.perMinute, timeWindow: 60_000 } };

  /** The session, or an answer: 401 without one, 403 for a write from another origin. */
  async function session(request: FastifyRequest, reply: FastifyReply): Promise<SessionIdentity | undefined> {
    const foreign = foreignWrite(request, options.allowedOrigins);
    if (foreign) {
      void reply.code(403).send({ error: 'Forbidden', message: foreign });
      return undefined;
    }
    const me = await identityFromRequest(db, request);
    if (!me)
      void reply.code(401).send({ error: 'Unauthorized', message: 'not signed in, and no guest identity' });
    return me ?? undefined;
  }

  /** Closes the open connections of these sessions (or of a whole identity) in its rooms, on every node. */
  async function disconnect(
    identityId: string,
    roomIds: string[],
    reason: string,
    sessionId?: string,
  ): Promise<void> {
    await rooms.disconnect(roomIds, { identityId, sessionId }, reason);
  }

  api.get(
    '/api/account',
    {
      config,
      schema: {
        tags: ['account'],
        summary: 'Who this browser is: a guest, or signed in (and how)',
        security,
        response: { 200: accountResponseSchema, 401: apiErrorSchema, 429: apiErrorSchema },
      },
    },
    async (request, reply) => {
      const me = await session(request, reply);
      if (!me) return reply;
      return reply.send({ account: await accountOf(db, me.id) });
    },
  );

  api.post(
    '/api/account/signup',
    {
      config: strict,
      schema: {
        tags: ['account'],
        summary: 'Sign up with an email and a password; a guest keeps their rooms and history',
        body: signUpRequestSchema,
        response: {
          201: accountResponseSchema,
          400: apiErrorSchema,
          403: apiErrorSchema,
          409: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const foreign = foreignWrite(request, options.allowedOrigins);
      if (foreign) return reply.code(403).send({ error: 'Forbidden', message: foreign });
      const current = await identityFromRequest(db, request);
      return answerRefusals(request, reply, async () => {
        const { identityId, newSession } = await signUp(db, current, request.body);
        if (newSession) await startSession(db, request, reply, identityId, options.cookie);
        request.log.info({ identityId, fromGuest: !newSession }, 'signed up');
        return reply.code(201).send({ account: await accountOf(db, identityId) });
      });
    },
  );

  api.post(
    '/api/account/signin',
    {
      config: strict,
      schema: {
        tags: ['account'],
        summary:
          'Sign in with an email and a password; this browser’s guest rooms and history join the account',
        body: signInRequestSchema,
        response: {
          200: accountResponseSchema,
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const foreign = foreignWrite(request, options.allowedOrigins);
      if (foreign) return reply.code(403).send({ error: 'Forbidden', message: foreign });
      let accountId: string;
      try {
        accountId = await checkPassword(db, request.body.email, request.body.password);
      } catch (error) {
        if (!(error instanceof SignInRefused)) throw error;
        request.log.info({ reason: error.message }, 'sign-in refused');
        return reply.code(401).send({ error: 'Unauthorized', message: error.message });
      }
      const current = await identityFromRequest(db, request);
      if (current?.id === accountId) return reply.send({ account: await accountOf(db, accountId) });
      await signInAs(request, reply, current, accountId);
      return reply.send({ account: await accountOf(db, accountId) });
    },
  );

  /**
   * Makes this browser a session of the account. A guest identity it had is merged into the
   * account (its open tabs close: they reconnect as the account); another account's session
   * here ends.
   */
  async function signInAs(
    request: FastifyRequest,
    reply: FastifyReply,
    current: SessionIdentity | null,
    accountId: string,
  ): Promise<void> {
    if (current && !current.account) {
      const guestRooms = await mergeGuest(db, current.id, accountId);
      await disconnect(current.id, guestRooms, 'you signed in: reload to continue as your account');
      request.log.info(
        { accountId, guestId: current.id, rooms: guestRooms.length },
        'guest merged into account',
      );
    } else if (current) {
      await revokeSession(db, current.id, current.sessionId).catch(() => undefined);
      await disconnect(
        current.id,
        await roomsOf(db, current.id),
        'you signed in as someone else',
        current.sessionId,
      );
    }
    await startSession(db, request, reply, accountId, options.cookie);
    request.log.info({ accountId }, 'signed in');
  }

  api.post(
    '/api/account/signout',
    {
      config,
      schema: {
        tags: ['account'],
        summary: 'End this browser’s session',
        security,
        response: {
          204: z.null().describe('signed out'),
          401: apiErrorSchema,
          403: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const me = await session(request, reply);
      if (!me) return reply;
      await revokeSession(db, me.id, me.sessionId);
      clearSessionCookie(reply);
      await disconnect(me.id, await roomsOf(db, me.id), 'you signed out', me.sessionId);
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/api/account/signout-everywhere',
    {
      config,
      schema: {
        tags: ['account'],
        summary: 'End every session of your account, this one included',
        security,
        response: {
          204: z.null().describe('signed out everywhere'),
          401: apiErrorSchema,
          403: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const me = await session(request, reply);
      if (!me) return reply;
      await revokeAllSessions(db, me.id);
      clearSessionCookie(reply);
      await disconnect(me.id, await roomsOf(db, me.id), 'you signed out everywhere');
      request.log.info({ identityId: me.id }, 'signed out everywhere');
      return reply.code(204).send(null);
    },
  );

  api.get(
    '/api/account/sessions',
    {
      config,
      schema: {
        tags: ['account'],
        summary: 'The browsers signed in as you, most recently seen first',
        security,
        response: { 200: sessionListSchema, 401: apiErrorSchema, 429: apiErrorSchema },
      },
    },
    async (request, reply) => {
      const me = await session(request, reply);
      if (!me) return reply;
      return reply.send({ sessions: await listSessions(db, me.id, me.sessionId) });
    },
  );

  api.delete(
    '/api/account/sessions/:id',
    {
      config,
      schema: {
        tags: ['account'],
        summary: 'End one of your sessions (its open tabs close)',
        security,
        params: z.object({ id: z.uuid() }),
        response: {
          204: z.null().describe('ended'),
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const me = await session(request, reply);
      if (!me) return reply;
      return answerRefusals(request, reply, async () => {
        await revokeSession(db, me.id, request.params.id);
        if (request.params.id === me.sessionId) clearSessionCookie(reply);
        await disconnect(me.id, await roomsOf(db, me.id), 'this session was ended', request.params.id);
        return reply.code(204).send(null);
      });
    },
  );
}
