// Rooms as stored, seen by one person: the rooms they belong to (with their unread count and
// the newest message they may see), one room, its members, and making a room. Members only:
// a room one does not belong to is "not found", whether or not it exists.
import { randomRoomId, type ChatMessage } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { include, toChatMessage } from '../chat/messages.js';
import type { MemberRole } from '../chat/membership.js';

export interface RoomSummary {
  id: string;
  role: MemberRole;
  locked: boolean;
  createdAt: string;
  unread: number;
  lastMessage: ChatMessage | null;
}

export interface RoomMember {
  identityId: string;
  displayName: string;
  role: MemberRole;
  joinedAt: string;
}

/** At most this many rooms are listed (the most recently active first). */
export const maxListedRooms = 200;

interface SummaryRow {
  id: string;
  role: MemberRole;
  locked: boolean;
  createdAt: Date;
  unread: number;
  lastId: string | null;
}

/** The identity's rooms (or only `roomId`), most recently active first. */
async function summaries(db: Db, identityId: string, roomId: string | null): Promise<RoomSummary[]> {
  // "Visible": public, or a private message the identity wrote or received.
  const rows = await db.$queryRaw<SummaryRow[]>`
    SELECT r."id", m."role"::text AS "role", r."locked", r."created_at" AS "createdAt",
      (SELECT count(*) FROM "messages" AS x
        WHERE x."room_id" = r."id" AND x."seq" > m."last_read_seq" AND x."deleted_at" IS NULL
          AND x."author_id" IS DISTINCT FROM ${identityId}::uuid
          AND (x."recipient_id" IS NULL OR x."recipient_id" = ${identityId}::uuid))::int AS "unread",
      last."id" AS "lastId"
    FROM "memberships" AS m
    JOIN "rooms" AS r ON r."id" = m."room_id"
    LEFT JOIN LATERAL (
      SELECT x."id", x."seq" FROM "messages" AS x
      WHERE x."room_id" = r."id"
        AND (x."recipient_id" IS NULL OR x."author_id" = ${identityId}::uuid OR x."recipient_id" = ${identityId}::uuid)
      ORDER BY x."seq" DESC LIMIT 1
    ) AS last ON true
    WHERE m."identity_id" = ${identityId}::uuid AND (${roomId}::text IS NULL OR r."id" = ${roomId}::text)
    ORDER BY last."seq" DESC NULLS LAST, m."joined_at" DESC
    LIMIT ${maxListedRooms}`;
  const lastIds = rows.flatMap((row) => (row.lastId ? [row.lastId] : []));
  const last = new Map(
    (await db.message.findMany({ where: { id: { in: lastIds } }, include })).map((row) => [
      row.id,
      toChatMessage(row),
    ]),
  );
  return rows.map((row) => ({
    id: row.id,
    role: row.role,
    locked: row.locked,
    createdAt: row.createdAt.toISOString(),
    unread: row.unread,
    lastMessage: (row.lastId && last.get(row.lastId)) || null,
  }));
}

export function myRooms(db: Db, identityId: string): Promise<RoomSummary[]> {
  return summaries(db, identityId, null);
}

/** The room as its member sees it; undefined when the identity is not a member (or no such room). */
export async function roomOf(db: Db, identityId: string, roomId: string): Promise<RoomSummary | undefined> {
  return (await summaries(db, identityId, roomId))[0];
}

export async function membersOf(db: Db, roomId: string): Promise<RoomMember[]> {
  const rows = await db.membership.findMany({
    where: { roomId },
    orderBy: { joinedAt: 'asc' },
    select: { identityId: true, displayName: true, role: true, joinedAt: true },
  });
  return rows.map((row) => ({ ...row, joinedAt: row.joinedAt.toISOString() }));
}

/**
 * Makes a room with the identity as its host (under `name`, their name in it). Returns
 * undefined when the id is taken. Without an id, a random one (tried again on a clash).
 */
export async function createRoom(
  db: Db,
  identityId: string,
  name: string,
  roomId: string | undefined,
): Promise<RoomSummary | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const id = roomId ?? randomRoomId();
    const made =
      await db.$executeRaw`INSERT INTO "rooms" ("id") VALUES (${id}) ON CONFLICT ("id") DO NOTHING`;
    if (made === 0) {
      if (roomId !== undefined) return undefined;
      continue;
    }
    await db.membership.create({ data: { roomId: id, identityId, displayName: name, role: 'host' } });
    return roomOf(db, identityId, id);
  }
  throw new Error('five random room ids in a row were taken');
}
