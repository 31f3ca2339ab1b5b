// Identities: who a browser is, across reloads and days. A guest is an identity made for a
// browser with just a name; an account is one that signed up (accounts.ts). The browser
// holds a session of its identity: a random token in an HttpOnly cookie, of which the
// database keeps only the SHA-256. The same cookie authenticates the signaling websocket
// (same origin), the HTTP API and attachment downloads.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';

export const identityCookie = 'meet_identity';
const oneYearSeconds = 365 * 24 * 3600;

export interface IdentityInfo {
  id: string;
  displayName: string;
  /** The browser session it came with (a signaling connection's), when known. */
  sessionId?: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function tokenFromRequest(request: FastifyRequest): string | undefined {
  const token = request.cookies?.[identityCookie];
  return token && /^[A-Za-z0-9_-]{20,100}$/.test(token) ? token : undefined;
}

/** The identity a request's cookie stands for, and the session it belongs to. */
export interface SessionIdentity extends IdentityInfo {
  sessionId: string;
  /** Signed up or signed in (email and password, or OpenID Connect): not a guest. */
  account: boolean;
}

/** lastSeenAt is written at most this often per session. */
const lastSeenResolutionMs = 60_000;

export async function identityFromRequest(db: Db, request: FastifyRequest): Promise<SessionIdentity | null> {
  const token = tokenFromRequest(request);
  if (!token) return null;
  const session = await db.session.findUnique({
    where: { tokenHash: hashToken(token) },
    select: {
      id: true,
      lastSeenAt: true,
      identity: { select: { id: true, displayName: true, email: true, oidcSubject: true } },
    },
  });
  if (!session) return null;
  const now = Date.now();
  if (now - session.lastSeenAt.getTime() > lastSeenResolutionMs)
    await db.session.update({ where: { id: session.id }, data: { lastSeenAt: new Date(now) } });
  const { identity } = session;
  return {
    id: identity.id,
    displayName: identity.displayName,
    sessionId: session.id,
    account: identity.email !== null || identity.oidcSubject !== null,
  };
}

/**
 * How the identity cookie is set: SameSite=Strict, Secure as configured ('auto': when the
 * request came over https). `partitioned`: for a page inside another site's iframe (embed
 * mode), SameSite=None; Secure; Partitioned (CHIPS), so the browser keeps it for that
 * embedding site only and sends it from the iframe.
 */
export interface CookieMode {
  secure: boolean | 'auto';
  partitioned?: boolean;
}

/** A guest identity may not be made (GUEST_ACCESS=false): the caller answers 403 with this. */
export class GuestsRefused extends Error {
  constructor() {
    super('this server does not let guests in: sign in or sign up first');
  }
}

/**
 * Returns the request's identity with the new display name, or makes a guest identity (and
 * its session and cookie) when the request has none; `guests: false` refuses that.
 */
export async function upsertIdentity(
  db: Db,
  request: FastifyRequest,
  reply: FastifyReply,
  displayName: string,
  cookie: CookieMode & { guests?: boolean },
): Promise<IdentityInfo> {
  const current = await identityFromRequest(db, request);
  if (current) {
    return db.identity.update({
      where: { id: current.id },
      data: { displayName },
      select: { id: true, displayName: true },
    });
  }
  if (cookie.guests === false) throw new GuestsRefused();
  const identity = await db.identity.create({
    data: { displayName },
    select: { id: true, displayName: true },
  });
  await startSession(db, request, reply, identity.id, cookie);
  return identity;
}

/** Begins a session of the identity in this browser: a fresh token in its cookie. */
export async function startSession(
  db: Db,
  request: FastifyRequest,
  reply: FastifyReply,
  identityId: string,
  cookie: CookieMode,
): Promise<string> {
  const fresh = randomBytes(32).toString('base64url');
  const session = await db.session.create({
    data: {
      identityId,
      tokenHash: hashToken(fresh),
      userAgent: request.headers['user-agent']?.slice(0, 300) ?? null,
    },
    select: { id: true },
  });
  reply.setCookie(identityCookie, fresh, {
    path: '/',
    httpOnly: true,
    maxAge: oneYearSeconds,
    ...(cookie.partitioned
      ? { sameSite: 'none', secure: true, partitioned: true }
      : {
          sameSite: 'strict',
          // 'auto': Secure when this request came over https (behind a proxy: TRUST_PROXY).
          secure: cookie.secure === 'auto' ? request.protocol === 'https' : cookie.secure,
        }),
  });
  return session.id;
}

/** Forgets this browser's cookie (its session was ended). */
export function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(identityCookie, { path: '/' });
}
