// Emoji reactions on messages: one row per (message, emoji, person). Every change grows the
// message's version, so that of two updates crossing on their way the newer one wins.
import { maxReactionsPerMessage, type ChatMessage } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { badRequest, conflict } from '../signaling/errors.js';
import { include, toChatMessage, visibleMessage } from './messages.js';

export interface ReactionChange {
  roomId: string;
  identityId: string;
  messageId: string;
  emoji: string;
  add: boolean;
}

/**
 * Adds or takes back a reaction; returns the message as it is now and whether anything
 * changed (adding a reaction one already has, or taking back one never given, changes nothing).
 */
export async function react(
  db: Db,
  change: ReactionChange,
): Promise<{ message: ChatMessage; changed: boolean }> {
  const { roomId, identityId, messageId, emoji } = change;
  const found = await visibleMessage(db, roomId, identityId, messageId);
  if (found.kind !== 'text') throw badRequest('only messages people wrote take reactions');
  if (found.deletedAt) throw conflict('the message was deleted');
  let changed: number;
  if (change.add) {
    // The message row is locked first, so that the count of its emoji below (a statement of
    // its own, seeing what committed meanwhile) cannot be passed by two reactions at once.
    const [, added] = await db.$transaction([
      db.$queryRaw`SELECT 1 FROM "messages" WHERE "id" = ${messageId}::uuid FOR UPDATE`,
      db.$executeRaw`
        WITH "added" AS (
          INSERT INTO "message_reactions" ("message_id", "emoji", "identity_id")
          SELECT ${messageId}::uuid, ${emoji}, ${identityId}::uuid
          WHERE EXISTS (SELECT 1 FROM "messages" WHERE "id" = ${messageId}::uuid AND "deleted_at" IS NULL)
            AND (EXISTS (SELECT 1 FROM "message_reactions" WHERE "message_id" = ${messageId}::uuid AND "emoji" = ${emoji})
              OR (SELECT count(DISTINCT "emoji") FROM "message_reactions" WHERE "message_id" = ${messageId}::uuid)
                 < ${maxReactionsPerMessage})
          ON CONFLICT DO NOTHING
          RETURNING 1
        )
        UPDATE "messages" SET "version" = "version" + 1
        WHERE "id" = ${messageId}::uuid AND EXISTS (SELECT 1 FROM "added")`,
    ]);
    changed = added;
  } else {
    changed = await db.$executeRaw`
      WITH "removed" AS (
        DELETE FROM "message_reactions"
        WHERE "message_id" = ${messageId}::uuid AND "emoji" = ${emoji} AND "identity_id" = ${identityId}::uuid
        RETURNING 1
      )
      UPDATE "messages" SET "version" = "version" + 1
      WHERE "id" = ${messageId}::uuid AND EXISTS (SELECT 1 FROM "removed")`;
  }
  const message = toChatMessage(await db.message.findUniqueOrThrow({ where: { id: messageId }, include }));
  if (change.add && changed === 0) {
    if (message.deletedAt !== null) throw conflict('the message was deleted');
    const mine = message.reactions.some((r) => r.emoji === emoji && r.by.includes(identityId));
    if (!mine) throw conflict(`a message carries at most ${maxReactionsPerMessage} different reactions`);
  }
  return { message, changed: changed > 0 };
}
