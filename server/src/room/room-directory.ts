// Rooms as stored, seen by one person: the rooms they belong to (with their unread count, the
// newest message they may see and who is connected now), one room, its members; making a
// room, naming it (hosts), starring it and leaving it. Members only: a room one does not
// belong to is "not found", whether or not it exists.
import { randomRoomId, type ChatMessage } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { include, toChatMessage } from '../chat/messages.js';
import type { MemberRole } from '../chat/membership.js';
import { conflict, forbidden, notFound } from '../signaling/errors.js';
import type { PresenceLookup, PresentPerson } from './presence.js';

export interface RoomSummary {
  id: string;
  name: string | null;
  topic: string | null;
  role: MemberRole;
  starred: boolean;
  notify: 'off' | 'mentions' | 'all';
  locked: boolean;
  createdAt: string;
  unread: number;
  lastMessage: ChatMessage | null;
  present: PresentPerson[];
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
  name: string | null;
  topic: string | null;
  starred: boolean;
  notify: 'off' | 'mentions' | 'all';
  role: MemberRole;
  locked: boolean;
  createdAt: Date;
  unread: number;
  lastId: string | null;
}

/**
 * The identity's rooms (or only `roomId`): starred ones first, then by the latest of its
 * newest message and when they joined.
 */
async function summaries(
  db: Db,
  presence: PresenceLookup,
  identityId: string,
  roomId: string | null,
): Promise<RoomSummary[]> {
  // "Visible": public, or a private message the identity wrote or received.
  const rows = await db.$queryRaw<SummaryRow[]>`
    SELECT r."id", r."name", r."topic", m."starred", m."notify"::text AS "notify", m."role"::text AS "role", r."locked",
      r."created_at" AS "createdAt",
      (SELECT count(*) FROM "messages" AS x
        WHERE x."room_id" = r."id" AND x."seq" > m."last_read_seq" AND x."deleted_at" IS NULL
          AND x."author_id" IS DISTINCT FROM ${identityId}::uuid
          AND (x."recipient_id" IS NULL OR x."recipient_id" = ${identityId}::uuid))::int AS "unread",
      last."id" AS "lastId"
    FROM "memberships" AS m
    JOIN "rooms" AS r ON r."id" = m."room_id"
    LEFT JOIN LATERAL (
      SELECT x."id", x."created_at" FROM "messages" AS x
      WHERE x."room_id" = r."id"
        AND (x."recipient_id" IS NULL OR x."author_id" = ${identityId}::uuid OR x."recipient_id" = ${identityId}::uuid)
      ORDER BY x."seq" DESC LIMIT 1
    ) AS last ON true
    WHERE m."identity_id" = ${identityId}::uuid AND (${roomId}::text IS NULL OR r."id" = ${roomId}::text)
    ORDER BY m."starred" DESC, GREATEST(last."created_at", m."joined_at") DESC, r."id"
    LIMIT ${maxListedRooms}`;
  const lastIds = rows.flatMap((row) => (row.lastId ? [row.lastId] : []));
  const [lastRows, present] = await Promise.all([
    db.message.findMany({ where: { id: { in: lastIds } }, include }),
    presence(rows.map((row) => row.id)),
  ]);
  const last = new Map(lastRows.map((row) => [row.id, toChatMessage(row)]));
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    topic: row.topic,
    starred: row.starred,
    notify: row.notify,
    role: row.role,
    locked: row.locked,
    createdAt: row.createdAt.toISOString(),
    unread: row.unread,
    lastMessage: (row.lastId && last.get(row.lastId)) || null,
    present: present.get(row.id) ?? [],
  }));
}

/** Stored rooms as their members see them. */
export class RoomDirectory {
  readonly #db: Db;
  readonly #presence: PresenceLookup;

  constructor(db: Db, presence: PresenceLookup) {
    this.#db = db;
    this.#presence = presence;
  }

  mine(identityId: string): Promise<RoomSummary[]> {
    return summaries(this.#db, this.#presence, identityId, null);
  }

  /** The room as its member sees it; undefined when the identity is not a member (or no such room). */
  async get(identityId: string, roomId: string): Promise<RoomSummary | undefined> {
    return (await summaries(this.#db, this.#presence, identityId, roomId))[0];
  }

  members(roomId: string): Promise<RoomMember[]> {
    return membersOf(this.#db, roomId);
  }

  /**
   * Makes a room with the identity as its host (under `name`, their name in it). Returns
   * undefined when the id is taken. Without an id, a random one (tried again on a clash).
   */
  async create(
    identityId: string,
    name: string,
    roomId: string | undefined,
  ): Promise<RoomSummary | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const id = roomId ?? randomRoomId();
      const made = await this.#db.$executeRaw`
        INSERT INTO "rooms" ("id") VALUES (${id}) ON CONFLICT ("id") DO NOTHING`;
      if (made === 0) {
        if (roomId !== undefined) return undefined;
        continue;
      }
      await this.#db.membership.create({ data: { roomId: id, identityId, displayName: name, role: 'host' } });
      return this.get(identityId, id);
    }
    throw new Error('five random room ids in a row were taken');
  }

  /** A host names the room or changes its topic ('' or null: none). */
  async update(
    identityId: string,
    roomId: string,
    change: { name?: string | null | undefined; topic?: string | null | undefined },
  ): Promise<{ name: string | null; topic: string | null }> {
    const role = await this.#role(identityId, roomId);
    if (role !== 'host') throw forbidden('only a host may name the room or set its topic');
    const blankIsNull = (value: string | null | undefined) =>
      value === undefined ? undefined : value || null;
    return this.#db.room.update({
      where: { id: roomId },
      data: { name: blankIsNull(change.name), topic: blankIsNull(change.topic) },
      select: { name: true, topic: true },
    });
  }

  /** What web push the member wants of the room. */
  async setNotify(identityId: string, roomId: string, notify: 'off' | 'mentions' | 'all'): Promise<void> {
    const { count } = await this.#db.membership.updateMany({
      where: { roomId, identityId },
      data: { notify },
    });
    if (count === 0) throw notFound('no such room among yours');
  }

  async star(identityId: string, roomId: string, starred: boolean): Promise<void> {
    const { count } = await this.#db.membership.updateMany({
      where: { roomId, identityId },
      data: { starred },
    });
    if (count === 0) throw notFound('no such room among yours');
  }

  /**
   * Ends the identity's membership. The room's last host cannot leave while others are
   * members (someone must be able to run it): they make another host first.
   */
  async leave(identityId: string, roomId: string): Promise<void> {
    const role = await this.#role(identityId, roomId);
    if (role === 'host') {
      const [hosts, members] = await Promise.all([
        this.#db.membership.count({ where: { roomId, role: 'host' } }),
        this.#db.membership.count({ where: { roomId } }),
      ]);
      if (hosts === 1 && members > 1)
        throw conflict('you are the room’s only host: make someone else host before you leave');
    }
    await this.#db.membership.deleteMany({ where: { roomId, identityId } });
  }

  async #role(identityId: string, roomId: string): Promise<MemberRole> {
    const membership = await this.#db.membership.findUnique({
      where: { roomId_identityId: { roomId, identityId } },
      select: { role: true },
    });
    if (!membership) throw notFound('no such room among yours');
    return membership.role;
  }
}

export async function membersOf(db: Db, roomId: string): Promise<RoomMember[]> {
  const rows = await db.membership.findMany({
    where: { roomId },
    orderBy: { joinedAt: 'asc' },
    select: { identityId: true, displayName: true, role: true, joinedAt: true },
  });
  return rows.map((row) => ({ ...row, joinedAt: row.joinedAt.toISOString() }));
}
