// Stores a batch of checked messages of one room in one transaction: a single multi-row
// INSERT … SELECT … ORDER BY … RETURNING (one statement, so one implicit transaction and one
// round trip). Each row takes its seq from the column's sequence, as a single INSERT does; the
// rows are inserted in the batch's order, so seq follows that order, and the unique index on
// seq stays what guarantees a seq is never given twice. Nothing is acknowledged before this
// statement has committed; if it fails, none of the batch is stored.
import type { ChatMessage } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { Prisma } from '../generated/prisma/client.js';
import { SignalingError, conflict, notFound } from '../signaling/errors.js';
import { attachmentUrl, include, toChatMessage, type PendingMessage } from './messages.js';

/** One message's outcome: stored (now, or by an earlier send with its client id), or refused. */
export type StoreOutcome =
  { ok: true; message: ChatMessage; created: boolean } | { ok: false; error: SignalingError };

interface InsertedRow {
  id: string;
  seq: bigint;
  authorId: string;
  authorName: string | null;
  clientId: string;
  createdAt: Date;
}

const keyOf = (m: { authorId: string; clientId: string }) => `${m.authorId}/${m.clientId}`;

/**
 * Stores `batch` (messages of room `roomId`, in the order they were sent) and returns one
 * outcome per message, in the same order. Rows that would break a unique constraint are
 * skipped (ON CONFLICT DO NOTHING) rather than failing the batch: a retry whose client id is
 * already stored gets the stored message (`created: false`); a message whose attachment was
 * posted meanwhile by another message, or expired since its check, gets its own error. Throws
 * when the statement fails: then nothing of the batch is stored.
 */
export async function storeBatch(
  db: Db,
  roomId: string,
  batch: readonly PendingMessage[],
): Promise<StoreOutcome[]> {
  const firstOf = uniqueMessages(batch);
  const inserted = await db.$queryRaw<InsertedRow[]>(insertStatement(roomId, [...firstOf.values()]));
  return outcomesOf(db, roomId, batch, firstOf, inserted);
}

/** The same (author, client id) twice in one batch (two tabs retrying at once): one row. */
function uniqueMessages(batch: readonly PendingMessage[]): Map<string, PendingMessage> {
  const firstOf = new Map<string, PendingMessage>();
  for (const message of batch) if (!firstOf.has(keyOf(message))) firstOf.set(keyOf(message), message);
  return firstOf;
}

/**
 * The one INSERT of a batch. The id is made here as Prisma makes it (a random UUID: the
 * column has no default); the author's name is read in the same statement (identities are
 * never deleted). An attachment is locked (FOR KEY SHARE) as the row is made, so that the
 * expiry sweep cannot delete it between this check and the foreign key's: a message whose
 * upload is gone is skipped instead of failing the batch.
 */
function insertStatement(roomId: string, unique: PendingMessage[]): Prisma.Sql {
  return Prisma.sql`
    INSERT INTO "messages"
      ("id", "room_id", "author_id", "author_name", "client_id", "text", "recipient_id", "recipient_name", "attachment_id",
       "mentions")
    SELECT gen_random_uuid(), ${roomId}, b."author_id", i."display_name", b."client_id", b."text", b."recipient_id",
           b."recipient_name", b."attachment_id", string_to_array(b."mentions", ',')::uuid[]
    FROM unnest(
           ${unique.map((m) => m.authorId)}::uuid[],
           ${unique.map((m) => m.clientId)}::text[],
           ${unique.map((m) => m.text)}::text[],
           ${unique.map((m) => m.recipient?.id ?? null)}::uuid[],
           ${unique.map((m) => m.recipient?.displayName ?? null)}::text[],
           ${unique.map((m) => m.attachment?.id ?? null)}::uuid[],
           -- (one text per message: an array of arrays would be flattened by unnest)
           ${unique.map((m) => m.mentions.join(','))}::text[]
         ) WITH ORDINALITY
           AS b("author_id", "client_id", "text", "recipient_id", "recipient_name", "attachment_id", "mentions", "ord")
    JOIN "identities" AS i ON i."id" = b."author_id"
    WHERE b."attachment_id" IS NULL
       OR EXISTS (SELECT 1 FROM "attachments" AS a WHERE a."id" = b."attachment_id" FOR KEY SHARE)
    ORDER BY b."ord"
    ON CONFLICT DO NOTHING
    RETURNING "id", "seq", "author_id" AS "authorId", "author_name" AS "authorName",
              "client_id" AS "clientId", "created_at" AS "createdAt"`;
}

/** Each message's outcome, in the batch's order, from the rows the INSERT returned. */
async function outcomesOf(
  db: Db,
  roomId: string,
  batch: readonly PendingMessage[],
  firstOf: Map<string, PendingMessage>,
  inserted: InsertedRow[],
): Promise<StoreOutcome[]> {
  const unique = [...firstOf.values()];
  const outcomes = new Map<string, StoreOutcome>();
  for (const row of inserted) {
    const message = firstOf.get(keyOf(row));
    if (!message) throw new Error(`the batch INSERT returned a row it was not given (${row.id})`);
    outcomes.set(keyOf(row), {
      ok: true,
      created: true,
      message: {
        id: row.id,
        seq: row.seq.toString(),
        kind: 'text',
        author: { id: row.authorId, displayName: row.authorName ?? '' },
        recipient: message.recipient,
        clientId: row.clientId,
        text: message.text,
        attachment: message.attachment
          ? { ...message.attachment, url: attachmentUrl(message.attachment.id) }
          : null,
        createdAt: row.createdAt.toISOString(),
        editedAt: null,
        deletedAt: null,
        mentions: message.mentions,
        reactions: [],
        version: 0,
      },
    });
  }

  const skipped = unique.filter((message) => !outcomes.has(keyOf(message)));
  if (skipped.length > 0) {
    // Stored before under the same client id (a retry), or what kept the row out.
    const earlier = await db.message.findMany({
      where: { roomId, OR: skipped.map((m) => ({ authorId: m.authorId, clientId: m.clientId })) },
      include,
    });
    for (const row of earlier) {
      if (row.authorId !== null && row.clientId !== null)
        outcomes.set(keyOf({ authorId: row.authorId, clientId: row.clientId }), {
          ok: true,
          created: false,
          message: toChatMessage(row),
        });
    }
    const attachmentIds = skipped.flatMap((m) => (m.attachment ? [m.attachment.id] : []));
    const stillThere = new Set(
      attachmentIds.length === 0
        ? []
        : (await db.attachment.findMany({ where: { id: { in: attachmentIds } }, select: { id: true } })).map(
            (a) => a.id,
          ),
    );
    for (const message of skipped) {
      if (outcomes.has(keyOf(message))) continue;
      const error = !message.attachment
        ? notFound('the author of the message is unknown')
        : stillThere.has(message.attachment.id)
          ? conflict('the attachment is already part of a message')
          : notFound('the attachment has expired');
      outcomes.set(keyOf(message), { ok: false, error });
    }
  }
  // A second copy in the batch learns of the message as a retry does: not created again.
  const given = new Set<string>();
  return batch.map((message) => {
    const outcome = outcomes.get(keyOf(message)) as StoreOutcome;
    if (given.has(keyOf(message)) && outcome.ok) return { ...outcome, created: false };
    given.add(keyOf(message));
    return outcome;
  });
}

/**
 * For several nodes (a room's senders on more than one): stores the batch as `storeBatch`
 * does, inside a transaction that first takes the room's advisory lock, so that the room's
 * batches commit one after another whichever node sends them. `previousSeq` is the room's
 * highest seq before this batch ("0": none), read under that lock: each node delivers a
 * room's batches by chaining them on it (ChatOrder), in seq order, whatever order the bus
 * brings them in.
 */
export async function storeBatchInOrder(
  db: Db,
  roomId: string,
  batch: readonly PendingMessage[],
): Promise<{ outcomes: StoreOutcome[]; previousSeq: string }> {
  const firstOf = uniqueMessages(batch);
  // Two statements in one transaction (BEGIN, lock, insert, COMMIT): the INSERT's snapshot
  // is taken after the lock is held, so the highest seq it reads (a CTE does not see the
  // statement's own rows) is the previous batch's, whichever node committed it.
  const [, inserted] = await db.$transaction([
    db.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`meet-chat:${roomId}`}, 0))`,
    db.$queryRaw<Array<InsertedRow & { previousSeq: bigint }>>`
      WITH "previous" AS (
             SELECT coalesce(max("seq"), 0) AS "seq" FROM "messages" WHERE "room_id" = ${roomId}
           ),
           "inserted" AS (${insertStatement(roomId, [...firstOf.values()])})
      SELECT "inserted".*, "previous"."seq" AS "previousSeq" FROM "inserted", "previous"`,
  ]);
  // Rows skipped as retries were stored before: looked up after the commit, as storeBatch does.
  const outcomes = await outcomesOf(db, roomId, batch, firstOf, inserted);
  // Nothing inserted (every message a retry): nothing is announced, the chain is unchanged.
  return { outcomes, previousSeq: (inserted[0]?.previousSeq ?? 0n).toString() };
}

/** The room's highest seq now ("0": no message yet). */
export async function lastSeqOf(db: Db, roomId: string): Promise<string> {
  const [row] = await db.$queryRaw<Array<{ max: bigint | null }>>`
    SELECT max("seq") AS "max" FROM "messages" WHERE "room_id" = ${roomId}`;
  return (row?.max ?? 0n).toString();
}

/** The room's messages with seq in (afterSeq, upToSeq], in seq order (a gap to fill). */
export async function messagesBetween(
  db: Db,
  roomId: string,
  afterSeq: string,
  upToSeq: string,
): Promise<ChatMessage[]> {
  const rows = await db.message.findMany({
    where: { roomId, seq: { gt: BigInt(afterSeq), lte: BigInt(upToSeq) } },
    orderBy: { seq: 'asc' },
    include,
  });
  return rows.map(toChatMessage);
}
