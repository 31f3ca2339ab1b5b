// Room membership: an identity that joined a room may read its history and its files.
import type { Db } from '../db/database.js';

/**
 * Makes the identity a member of the room (creating the room on its first join), with its
 * current display name. Both statements are single atomic upserts, so any number of
 * people opening a new room's link at the same instant all get in.
 */
export async function ensureMembership(
  db: Db,
  roomId: string,
  identityId: string,
  displayName: string,
): Promise<{ lastReadSeq: bigint }> {
  await db.room.createMany({ data: [{ id: roomId }], skipDuplicates: true });
  const [row] = await db.$queryRaw<Array<{ lastReadSeq: bigint }>>`
    INSERT INTO "memberships" ("room_id", "identity_id", "display_name")
    VALUES (${roomId}, ${identityId}::uuid, ${displayName})
    ON CONFLICT ("room_id", "identity_id") DO UPDATE SET "display_name" = EXCLUDED."display_name"
    RETURNING "last_read_seq" AS "lastReadSeq"`;
  if (!row) throw new Error(`membership of ${identityId} in ${roomId} was not stored`);
  return row;
}

export async function isMember(db: Db, roomId: string, identityId: string): Promise<boolean> {
  const found = await db.membership.findUnique({
    where: { roomId_identityId: { roomId, identityId } },
    select: { roomId: true },
  });
  return found !== null;
}
