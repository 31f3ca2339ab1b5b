// HTTP routes of OpenID Connect sign-in: GET /api/auth/oidc (the providers, for the account
// page's buttons), GET /api/auth/oidc/{provider}/start (to the provider) and
// GET /api/auth/oidc/{provider}/callback (its answer: a session of the account, then back to
// where the person was). A failure goes back to the account page with the reason.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { apiErrorSchema, displayNameSchema } from '@meet/protocol';
import type { Db } from '../db/database.js';
import type { RoomRegistry } from '../room/registry.js';
import { accountForOidc, revokeSession } from './accounts.js';
import { identityFromRequest, startSession, type CookieMode } from './identity.js';
import { oidcCookie, OidcError, type OidcProviders } from './oidc.js';

export interface OidcRouteOptions {
  db: Db;
  rooms: RoomRegistry;
  providers: OidcProviders;
  cookie: CookieMode;
  /** The site's public URL (PUBLIC_URL), for the redirect URI; else this request's origin. */
  publicUrl: string | undefined;
  perMinute: number;
}

const providerParams = z.object({ provider: z.string().regex(/^[a-z0-9]{1,32}$/) });

export function registerOidcRoutes(app: FastifyInstance, options: OidcRouteOptions): void {
  const { db, providers } = options;
  const api = app.withTypeProvider<ZodTypeProvider>();
  const config = { rateLimit: { max: options.perMinute, timeWindow: 60_000 } };
  const origin = (request: FastifyRequest) => options.publicUrl ?? `${request.protocol}://${request.host}`;
  const callbackUrl = (request: FastifyRequest, provider: string) =>
    `${origin(request)}/api/auth/oidc/${provider}/callback`;
  const backToAccount = (reply: FastifyReply, reason: string) =>
    reply.redirect(`/account?error=${encodeURIComponent(reason)}`, 302);

  api.get(
    '/api/auth/oidc',
    {
      schema: {
        tags: ['account'],
        summary: 'The OpenID Connect providers one may sign in with',
        response: { 200: z.object({ providers: z.array(z.object({ id: z.string(), name: z.string() })) }) },
      },
    },
    async (_request, reply) => reply.send({ providers: providers.list() }),
  );

  api.get(
    '/api/auth/oidc/:provider/start',
    {
      config,
      schema: {
        tags: ['account'],
        summary: 'Sign in with a provider: redirects to it (a browser navigates here)',
        params: providerParams,
        querystring: z.object({ returnTo: z.string().max(2000).optional() }).strict(),
        response: {
          302: z.null().describe('to the provider (or back to /account with the reason)'),
          400: apiErrorSchema,
          404: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { provider } = request.params;
      if (!providers.has(provider))
        return reply.code(404).send({ error: 'Not Found', message: `no sign-in provider ${provider}` });
      const current = await identityFromRequest(db, request);
      try {
        const { url, binding } = await providers.start(db, {
          provider,
          redirectUri: callbackUrl(request, provider),
          returnTo: request.query.returnTo ?? '/',
          sessionId: current?.sessionId,
        });
        reply.setCookie(oidcCookie, binding, {
          path: '/api/auth/oidc',
          httpOnly: true,
          // Lax: the provider's answer is a cross-site navigation back to this site.
          sameSite: 'lax',
          maxAge: 600,
          secure: options.cookie.secure === 'auto' ? request.protocol === 'https' : options.cookie.secure,
        });
        return reply.redirect(url.href, 302);
      } catch (error) {
        if (!(error instanceof OidcError)) throw error;
        request.log.warn({ provider, reason: error.message }, 'sign-in could not start');
        return backToAccount(reply, error.message);
      }
    },
  );

  api.get(
    '/api/auth/oidc/:provider/callback',
    {
      config,
      schema: {
        tags: ['account'],
        summary: 'The provider’s answer: signs this browser in, then back to where it was',
        params: providerParams,
        // The provider's parameters (others it adds, such as session_state, pass too).
        querystring: z.looseObject({
          code: z.string().max(4096).optional(),
          state: z.string().max(512).optional(),
          iss: z.string().max(2048).optional(),
          error: z.string().max(256).optional(),
          error_description: z.string().max(2048).optional(),
        }),
        response: {
          302: z.null().describe('signed in: back where the sign-in began (or to /account with the reason)'),
          400: apiErrorSchema,
          404: apiErrorSchema,
          429: apiErrorSchema,
        },
      },
    },
    async (request, reply) => {
      const { provider } = request.params;
      if (!providers.has(provider))
        return reply.code(404).send({ error: 'Not Found', message: `no sign-in provider ${provider}` });
      const currentUrl = new URL(request.url, callbackUrl(request, provider));
      reply.clearCookie(oidcCookie, { path: '/api/auth/oidc' });
      try {
        const done = await providers.finish(db, {
          provider,
          currentUrl,
          binding: request.cookies?.[oidcCookie],
        });
        const began = done.sessionId
          ? await db.session.findUnique({
              where: { id: done.sessionId },
              select: { id: true, identity: { select: { id: true, email: true, oidcSubject: true } } },
            })
          : null;
        const guestId =
          began && began.identity.email === null && began.identity.oidcSubject === null
            ? began.identity.id
            : undefined;
        const name = displayNameSchema.safeParse(done.claims.name);
        const { identityId, mergedRooms } = await accountForOidc(
          db,
          { ...done.claims, name: name.success ? name.data : 'Someone' },
          guestId,
        );
        // The session it began with ends (a guest's went with the merge; another account's here).
        if (began && began.identity.id !== identityId)
          await revokeSession(db, began.identity.id, began.id).catch(() => undefined);
        if (guestId)
          await options.rooms.disconnect(
            mergedRooms,
            { identityId: guestId },
            'you signed in: reload to continue as your account',
          );
        await startSession(db, request, reply, identityId, options.cookie);
        request.log.info(
          { provider, identityId, fromGuest: guestId !== undefined },
          'signed in with OpenID Connect',
        );
        return reply.redirect(done.returnTo, 302);
      } catch (error) {
        if (!(error instanceof OidcError)) throw error;
        request.log.info({ provider, reason: error.message }, 'OpenID Connect sign-in refused');
        return backToAccount(reply, error.message);
      }
    },
  );
}
