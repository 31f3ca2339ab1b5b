// Accounts: a guest signs up (email and an argon2id password) and keeps their identity, so
// their rooms and history stay theirs; signing in from another browser makes a session of
// the account there, and the guest identity that browser had is merged into the account
// (its rooms, messages, files, reactions and tokens move over). Sessions are listed and
// revoked one by one or all at once.
import argon2 from 'argon2';
import type { Db } from '../db/database.js';
import { conflict, notFound } from '../signaling/errors.js';
import type { SessionIdentity } from './identity.js';

export class SignInRefused extends Error {
  constructor() {
    super('wrong email or password');
  }
}

/** Verified against when no account has the email, so that both take the same time. */
let dummyHash: Promise<string> | undefined;

export interface AccountInfo {
  identity: { id: string; displayName: string };
  signedIn: boolean;
  email: string | null;
  oidcIssuer: string | null;
}

export async function accountOf(db: Db, identityId: string): Promise<AccountInfo> {
  const row = await db.identity.findUniqueOrThrow({
    where: { id: identityId },
    select: { id: true, displayName: true, email: true, oidcIssuer: true, oidcSubject: true },
  });
  return {
    identity: { id: row.id, displayName: row.displayName },
    signedIn: row.email !== null || row.oidcSubject !== null,
    email: row.email,
    oidcIssuer: row.oidcIssuer,
  };
}

const isUniqueViolation = (error: unknown) => (error as { code?: string }).code === 'P2002';

/**
 * Signs up. A guest's identity becomes the account (it keeps its rooms and history); without
 * one, a new identity is made. Returns the identity and whether it needs a new session.
 */
export async function signUp(
  db: Db,
  current: SessionIdentity | null,
  input: { email: string; password: string; displayName: string },
): Promise<{ identityId: string; newSession: boolean }> {
  if (current?.account) throw conflict('you are signed in already: sign out to make another account');
  const passwordHash = await argon2.hash(input.password, { type: argon2.argon2id });
  try {
    if (current) {
      await db.identity.update({
        where: { id: current.id },
        data: { email: input.email, passwordHash, displayName: input.displayName },
      });
      return { identityId: current.id, newSession: false };
    }
    const made = await db.identity.create({
      data: { email: input.email, passwordHash, displayName: input.displayName },
      select: { id: true },
    });
    return { identityId: made.id, newSession: true };
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict('an account with this email exists: sign in instead');
    throw error;
  }
}

/** Checks an email and password: the account's identity, or SignInRefused (the same for both faults). */
export async function checkPassword(db: Db, email: string, password: string): Promise<string> {
  const account = await db.identity.findUnique({
    where: { email },
    select: { id: true, passwordHash: true },
  });
  if (!account?.passwordHash) {
    dummyHash ??= argon2.hash('not a password of anyone', { type: argon2.argon2id });
    await argon2.verify(await dummyHash, password);
    throw new SignInRefused();
  }
  if (!(await argon2.verify(account.passwordHash, password))) throw new SignInRefused();
  return account.id;
}

/**
 * Moves everything of a guest identity to an account and deletes the guest: memberships (the
 * stronger role, the later read marker, a star), messages written and received, uploads,
 * reactions and API tokens. One transaction. Returns the rooms the guest was in.
 */
export async function mergeGuest(db: Db, guestId: string, accountId: string): Promise<string[]> {
  const rooms = await db.membership.findMany({ where: { identityId: guestId }, select: { roomId: true } });
  await db.$transaction([
    db.$executeRaw`
      INSERT INTO "memberships"
        ("room_id", "identity_id", "display_name", "joined_at", "last_read_seq", "role", "name_locked", "starred")
      SELECT "room_id", ${accountId}::uuid, "display_name", "joined_at", "last_read_seq", "role", "name_locked", "starred"
      FROM "memberships" WHERE "identity_id" = ${guestId}::uuid
      ON CONFLICT ("room_id", "identity_id") DO UPDATE SET
        "last_read_seq" = GREATEST("memberships"."last_read_seq", EXCLUDED."last_read_seq"),
        "role" = CASE WHEN EXCLUDED."role" = 'host' THEN EXCLUDED."role" ELSE "memberships"."role" END,
        "starred" = "memberships"."starred" OR EXCLUDED."starred"`,
    db.$executeRaw`UPDATE "messages" SET "author_id" = ${accountId}::uuid WHERE "author_id" = ${guestId}::uuid`,
    db.$executeRaw`UPDATE "messages" SET "recipient_id" = ${accountId}::uuid WHERE "recipient_id" = ${guestId}::uuid`,
    db.$executeRaw`UPDATE "attachments" SET "uploader_id" = ${accountId}::uuid WHERE "uploader_id" = ${guestId}::uuid`,
    db.$executeRaw`
      INSERT INTO "message_reactions" ("message_id", "emoji", "identity_id", "created_at")
      SELECT "message_id", "emoji", ${accountId}::uuid, "created_at"
      FROM "message_reactions" WHERE "identity_id" = ${guestId}::uuid
      ON CONFLICT DO NOTHING`,
    db.$executeRaw`UPDATE "api_tokens" SET "identity_id" = ${accountId}::uuid WHERE "identity_id" = ${guestId}::uuid`,
    // Its sessions, remaining memberships and reactions go with it.
    db.$executeRaw`DELETE FROM "identities" WHERE "id" = ${guestId}::uuid`,
  ]);
  return rooms.map((room) => room.roomId);
}

export interface SessionInfo {
  id: string;
  userAgent: string | null;
  createdAt: string;
  lastSeenAt: string;
  current: boolean;
}

export async function listSessions(db: Db, identityId: string, currentId: string): Promise<SessionInfo[]> {
  const rows = await db.session.findMany({
    where: { identityId },
    orderBy: { lastSeenAt: 'desc' },
    select: { id: true, userAgent: true, createdAt: true, lastSeenAt: true },
  });
  return rows.map((row) => ({
    id: row.id,
    userAgent: row.userAgent,
    createdAt: row.createdAt.toISOString(),
    lastSeenAt: row.lastSeenAt.toISOString(),
    current: row.id === currentId,
  }));
}

/** Ends one of the identity's sessions (its cookie no longer works). */
export async function revokeSession(db: Db, identityId: string, sessionId: string): Promise<void> {
  const { count } = await db.session.deleteMany({ where: { id: sessionId, identityId } });
  if (count === 0) throw notFound('you have no such session');
}

/** Ends every session of the identity ("sign out everywhere"). */
export async function revokeAllSessions(db: Db, identityId: string): Promise<void> {
  await db.session.deleteMany({ where: { identityId } });
}

/** The rooms an identity belongs to (where its open connections may be). */
export async function roomsOf(db: Db, identityId: string): Promise<string[]> {
  const rows = await db.membership.findMany({ where: { identityId }, select: { roomId: true } });
  return rows.map((row) => row.roomId);
}

/**
 * The account an OpenID Connect sign-in stands for. Known (issuer, subject): that account,
 * with this browser's guest merged into it. New: this browser's guest becomes the account
 * (keeping its rooms and history), or without one a new identity is made.
 */
export async function accountForOidc(
  db: Db,
  claims: { issuer: string; subject: string; name: string },
  guestId: string | undefined,
): Promise<{ identityId: string; mergedRooms: string[] }> {
  const known = await db.identity.findUnique({
    where: { oidcIssuer_oidcSubject: { oidcIssuer: claims.issuer, oidcSubject: claims.subject } },
    select: { id: true },
  });
  if (known) {
    const mergedRooms = guestId && guestId !== known.id ? await mergeGuest(db, guestId, known.id) : [];
    return { identityId: known.id, mergedRooms };
  }
  if (guestId) {
    await db.identity.update({
      where: { id: guestId },
      data: { oidcIssuer: claims.issuer, oidcSubject: claims.subject },
    });
    return { identityId: guestId, mergedRooms: [] };
  }
  const made = await db.identity.create({
    data: { displayName: claims.name, oidcIssuer: claims.issuer, oidcSubject: claims.subject },
    select: { id: true },
  });
  return { identityId: made.id, mergedRooms: [] };
}
