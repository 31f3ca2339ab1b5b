// API tokens: a person makes one (signed in by their identity cookie) for a script or a bot,
// with scopes and an expiry; the secret is shown once and only its SHA-256 is kept. A request
// carrying it as "Authorization: Bearer <secret>" acts as that person, within the scopes.
import { randomBytes } from 'node:crypto';
import { maxApiTokenDays, type ApiScope } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { hashToken, type IdentityInfo } from './identity.js';

const prefix = 'meet_';
const secretPattern = /^meet_[A-Za-z0-9_-]{43}$/;
/** lastUsedAt is written at most this often per token (not on every request). */
const lastUsedResolutionMs = 60_000;

export interface ApiTokenInfo {
  id: string;
  name: string;
  scopes: ApiScope[];
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
}

interface Row {
  id: string;
  name: string;
  scopes: string[];
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
}

const select = { id: true, name: true, scopes: true, createdAt: true, expiresAt: true, lastUsedAt: true };

function info(row: Row): ApiTokenInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes as ApiScope[],
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  };
}

export async function createApiToken(
  db: Db,
  identityId: string,
  input: { name: string; scopes: ApiScope[]; expiresInDays?: number | undefined },
): Promise<{ token: ApiTokenInfo; secret: string }> {
  const secret = prefix + randomBytes(32).toString('base64url');
  const days = input.expiresInDays ?? maxApiTokenDays;
  const row = await db.apiToken.create({
    data: {
      identityId,
      name: input.name,
      scopes: input.scopes,
      tokenHash: hashToken(secret),
      expiresAt: new Date(Date.now() + days * 24 * 3600 * 1000),
    },
    select,
  });
  return { token: info(row), secret };
}

/** The identity's tokens that still work, newest first. */
export async function listApiTokens(db: Db, identityId: string): Promise<ApiTokenInfo[]> {
  const rows = await db.apiToken.findMany({
    where: { identityId, revokedAt: null, expiresAt: { gt: new Date() } },
    orderBy: { createdAt: 'desc' },
    select,
  });
  return rows.map(info);
}

/** Revokes one of the identity's tokens: false when it has no such token (or it is revoked already). */
export async function revokeApiToken(db: Db, identityId: string, tokenId: string): Promise<boolean> {
  const { count } = await db.apiToken.updateMany({
    where: { id: tokenId, identityId, revokedAt: null },
    data: { revokedAt: new Date() },
  });
  return count > 0;
}

export type BearerCheck =
  { ok: true; identity: IdentityInfo; scopes: ApiScope[] } | { ok: false; reason: string };

/** Checks a bearer secret: unknown, malformed, revoked and expired tokens are refused with their reason. */
export async function verifyApiToken(db: Db, secret: string): Promise<BearerCheck> {
  if (!secretPattern.test(secret))
    return { ok: false, reason: 'the bearer token is not an API token of this server' };
  const row = await db.apiToken.findUnique({
    where: { tokenHash: hashToken(secret) },
    select: {
      id: true,
      scopes: true,
      expiresAt: true,
      revokedAt: true,
      lastUsedAt: true,
      identity: { select: { id: true, displayName: true } },
    },
  });
  if (!row) return { ok: false, reason: 'unknown API token' };
  if (row.revokedAt) return { ok: false, reason: 'this API token was revoked' };
  const now = new Date();
  if (row.expiresAt <= now)
    return { ok: false, reason: `this API token expired at ${row.expiresAt.toISOString()}` };
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > lastUsedResolutionMs)
    await db.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: now } });
  return { ok: true, identity: row.identity, scopes: row.scopes as ApiScope[] };
}
