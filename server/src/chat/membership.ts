// Room membership: an identity that joined a room may read its history and its files. A
// member is a host or not; a locked room lets newcomers in only once a host admitted them.
import type { Db } from '../db/database.js';

export type MemberRole = 'host' | 'member';

/** The outcome of a join: in (as what), or to wait in the lobby of a locked room. */
export type RoomEntry =
  | { waiting: false; role: MemberRole; locked: boolean; lastReadSeq: bigint; displayName: string }
  | { waiting: true };

/**
 * Lets the identity into the room as a member (with its current display name), or says it
 * must wait: a locked room lets in its members, and newcomers only once a host admitted
 * them (`admitted`). The room is made on its first join by an atomic upsert: whoever's
 * INSERT made it is its first member and host, so any number of people opening a new
 * room's link at the same instant all get in and exactly one of them is host.
 */
export async function enterRoom(
  db: Db,
  roomId: string,
  identityId: string,
  displayName: string,
  admitted: boolean,
): Promise<RoomEntry> {
  const created = await db.$queryRaw<Array<{ locked: boolean }>>`
    INSERT INTO "rooms" ("id") VALUES (${roomId})
    ON CONFLICT ("id") DO NOTHING
    RETURNING "locked"`;
  let locked = false;
  if (created.length === 0) {
    // A name given by a room token stays (name_locked); otherwise the one typed now.
    const [member] = await db.$queryRaw<
      Array<{ role: MemberRole; lastReadSeq: bigint; locked: boolean; displayName: string }>
    >`
      UPDATE "memberships" AS m
      SET "display_name" = CASE WHEN m."name_locked" THEN m."display_name" ELSE ${displayName} END
      FROM "rooms" AS r
      WHERE m."room_id" = ${roomId} AND m."identity_id" = ${identityId}::uuid AND r."id" = m."room_id"
      RETURNING m."role"::text AS "role", m."last_read_seq" AS "lastReadSeq", r."locked" AS "locked",
        m."display_name" AS "displayName"`;
    if (member) return { waiting: false, ...member };
    const [room] = await db.$queryRaw<Array<{ locked: boolean }>>`
      SELECT "locked" FROM "rooms" WHERE "id" = ${roomId}`;
    locked = room?.locked ?? false;
    if (locked && !admitted) return { waiting: true };
  }
  const role: MemberRole = created.length > 0 ? 'host' : 'member';
  // A conflict here is the same identity joining twice at once (two tabs): the creator's
  // row keeps 'host' whichever INSERT came second.
  const [row] = await db.$queryRaw<Array<{ role: MemberRole; lastReadSeq: bigint; displayName: string }>>`
    INSERT INTO "memberships" ("room_id", "identity_id", "display_name", "role")
    VALUES (${roomId}, ${identityId}::uuid, ${displayName}, ${role}::"member_role")
    ON CONFLICT ("room_id", "identity_id") DO UPDATE SET
      "display_name" = CASE WHEN "memberships"."name_locked" THEN "memberships"."display_name"
        ELSE EXCLUDED."display_name" END,
      "role" = CASE WHEN EXCLUDED."role" = 'host' THEN EXCLUDED."role" ELSE "memberships"."role" END
    RETURNING "role"::text AS "role", "last_read_seq" AS "lastReadSeq", "display_name" AS "displayName"`;
  if (!row) throw new Error(`membership of ${identityId} in ${roomId} was not stored`);
  return {
    waiting: false,
    role: row.role,
    locked,
    lastReadSeq: row.lastReadSeq,
    displayName: row.displayName,
  };
}

/**
 * Makes the identity a member of the room with the given name and role, as a room token
 * says (its operator's application decides who is in, so a locked room lets them in and a
 * host's earlier choice of role is overridden). The name stays the token's when they join.
 * The room is made if it does not exist yet.
 */
export async function grantMembership(
  db: Db,
  roomId: string,
  identityId: string,
  displayName: string,
  role: MemberRole,
): Promise<void> {
  await db.$transaction([
    db.$executeRaw`INSERT INTO "rooms" ("id") VALUES (${roomId}) ON CONFLICT ("id") DO NOTHING`,
    db.$executeRaw`
      INSERT INTO "memberships" ("room_id", "identity_id", "display_name", "role", "name_locked")
      VALUES (${roomId}, ${identityId}::uuid, ${displayName}, ${role}::"member_role", true)
      ON CONFLICT ("room_id", "identity_id") DO UPDATE SET
        "display_name" = EXCLUDED."display_name", "role" = EXCLUDED."role", "name_locked" = true`,
  ]);
}

/** Ends a membership (a host removed the person): returns whether there was one. */
export async function removeMembership(db: Db, roomId: string, identityId: string): Promise<boolean> {
  const { count } = await db.membership.deleteMany({ where: { roomId, identityId } });
  return count > 0;
}

/** Sets a member's role: returns false when the identity is not (or no longer) a member. */
export async function setMemberRole(
  db: Db,
  roomId: string,
  identityId: string,
  role: MemberRole,
): Promise<boolean> {
  const { count } = await db.membership.updateMany({ where: { roomId, identityId }, data: { role } });
  return count > 0;
}

/** Locks or unlocks the room (stored: a lock lasts across meetings and restarts). */
export async function setRoomLocked(db: Db, roomId: string, locked: boolean): Promise<void> {
  await db.room.updateMany({ where: { id: roomId }, data: { locked } });
}

export async function isMember(db: Db, roomId: string, identityId: string): Promise<boolean> {
  const found = await db.membership.findUnique({
    where: { roomId_identityId: { roomId, identityId } },
    select: { roomId: true },
  });
  return found !== null;
}
