// Identities: who a browser is, across reloads and days. The browser holds a random token
// in an HttpOnly cookie; the database keeps only its SHA-256. The same cookie authenticates
// the signaling websocket (same origin) and attachment downloads.
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';

export const identityCookie = 'meet_identity';
const oneYearSeconds = 365 * 24 * 3600;

export interface IdentityInfo {
  id: string;
  displayName: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function tokenFromRequest(request: FastifyRequest): string | undefined {
  const token = request.cookies?.[identityCookie];
  return token && /^[A-Za-z0-9_-]{20,100}$/.test(token) ? token : undefined;
}

export async function identityFromRequest(db: Db, request: FastifyRequest): Promise<IdentityInfo | null> {
  const token = tokenFromRequest(request);
  if (!token) return null;
  return db.identity.findUnique({
    where: { tokenHash: hashToken(token) },
    select: { id: true, displayName: true },
  });
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

/** Returns the request's identity with the new display name, creating it (and its cookie) if needed. */
export async function upsertIdentity(
  db: Db,
  request: FastifyRequest,
  reply: FastifyReply,
  displayName: string,
  cookie: CookieMode,
): Promise<IdentityInfo> {
  const token = tokenFromRequest(request);
  if (token) {
    const updated = await db.identity.updateMany({
      where: { tokenHash: hashToken(token) },
      data: { displayName },
    });
    if (updated.count === 1) {
      return db.identity.findUniqueOrThrow({
        where: { tokenHash: hashToken(token) },
        select: { id: true, displayName: true },
      });
    }
  }
  const fresh = randomBytes(32).toString('base64url');
  const identity = await db.identity.create({
    data: { tokenHash: hashToken(fresh), displayName },
    select: { id: true, displayName: true },
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
  return identity;
}
