// Room membership: an identity that joined a room may read its history and its files.
import type { Db } from '../db/database.js';

export async function ensureMembership(
  db: Db,
  roomId: string,
  identityId: string,
  displayName: string,
): Promise<{ lastReadSeq: bigint }> {
  await db.room.upsert({ where: { id: roomId }, create: { id: roomId }, update: {} });
  return db.membership.upsert({
    where: { roomId_identityId: { roomId, identityId } },
    create: { roomId, identityId, displayName },
    update: { displayName },
    select: { lastReadSeq: true },
  });
}

export async function isMember(db: Db, roomId: string, identityId: string): Promise<boolean> {
  const found = await db.membership.findUnique({
    where: { roomId_identityId: { roomId, identityId } },
    select: { roomId: true },
  });
  return found !== null;
}
