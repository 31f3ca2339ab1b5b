// Chat messages in the database: idempotent send, visibility (public or private to two
// identities), history pages by seq, edit, delete, read markers.
import type { ChatMessage } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { badRequest, conflict, forbidden, notFound } from '../signaling/errors.js';
import { isMember } from './membership.js';

const include = {
  attachment: { select: { id: true, fileName: true, mimeType: true, size: true } },
} as const;

type Row = NonNullable<Awaited<ReturnType<Db['message']['findFirst']>>> & {
  attachment: { id: string; fileName: string; mimeType: string; size: number } | null;
};

export const attachmentUrl = (id: string) => `/api/attachments/${id}`;

export function toChatMessage(row: Row): ChatMessage {
  const deleted = row.deletedAt !== null;
  return {
    id: row.id,
    seq: row.seq.toString(),
    kind: row.kind,
    // The names as they were when the message was written (a later rename changes nothing).
    author: row.authorId === null ? null : { id: row.authorId, displayName: row.authorName ?? '' },
    recipient:
      row.recipientId === null ? null : { id: row.recipientId, displayName: row.recipientName ?? '' },
    clientId: row.clientId,
    text: deleted ? '' : row.text,
    attachment:
      !deleted && row.attachment ? { ...row.attachment, url: attachmentUrl(row.attachment.id) } : null,
    createdAt: row.createdAt.toISOString(),
    editedAt: row.editedAt?.toISOString() ?? null,
    deletedAt: row.deletedAt?.toISOString() ?? null,
  };
}

/** Whether `identityId` may see the message. */
export function canSee(message: ChatMessage, identityId: string): boolean {
  return (
    message.recipient === null || message.author?.id === identityId || message.recipient.id === identityId
  );
}

export interface SendInput {
  roomId: string;
  authorId: string;
  clientId: string;
  text: string;
  recipientId?: string | undefined;
  attachmentId?: string | undefined;
}

export type PreparedSend =
  | { existing: ChatMessage }
  | {
      existing?: undefined;
      /** Inserts the message (one INSERT); `created: false` if a concurrent retry won. */
      store(): Promise<{ message: ChatMessage; created: boolean }>;
    };

/**
 * Checks a send and returns either the message already stored under this
 * (room, author, clientId) — a retry after a lost acknowledgement — or a `store` step. The
 * checks run outside the room's ordered section; only the single INSERT runs inside.
 */
export async function prepareSend(db: Db, input: SendInput): Promise<PreparedSend> {
  const key = {
    roomId_authorId_clientId: { roomId: input.roomId, authorId: input.authorId, clientId: input.clientId },
  };
  const existing = await db.message.findUnique({ where: key, include });
  if (existing) return { existing: toChatMessage(existing) };

  const author = await db.identity.findUniqueOrThrow({
    where: { id: input.authorId },
    select: { id: true, displayName: true },
  });
  let recipient: { id: string; displayName: string } | null = null;
  if (input.recipientId !== undefined) {
    if (input.recipientId === input.authorId)
      throw badRequest('a private message needs another participant as recipient');
    if (!(await isMember(db, input.roomId, input.recipientId)))
      throw notFound('the recipient is not a participant of this room');
    recipient = await db.identity.findUniqueOrThrow({
      where: { id: input.recipientId },
      select: { id: true, displayName: true },
    });
  }
  let attachment: Row['attachment'] = null;
  if (input.attachmentId !== undefined) {
    const found = await db.attachment.findUnique({
      where: { id: input.attachmentId },
      include: { message: { select: { id: true } } },
    });
    if (!found || found.roomId !== input.roomId) throw notFound('attachment not found in this room');
    if (found.uploaderId !== input.authorId) throw forbidden('the attachment was uploaded by someone else');
    if (found.message) throw conflict('the attachment is already part of a message');
    attachment = { id: found.id, fileName: found.fileName, mimeType: found.mimeType, size: found.size };
  }
  return {
    async store() {
      // ON CONFLICT DO NOTHING: a concurrent retry with the same client id (or the attachment
      // linked to another message meanwhile) inserts nothing instead of raising an error.
      const [row] = await db.message
        .createManyAndReturn({
          data: {
            roomId: input.roomId,
            authorId: input.authorId,
            authorName: author.displayName,
            clientId: input.clientId,
            text: input.text,
            recipientId: recipient?.id ?? null,
            recipientName: recipient?.displayName ?? null,
            attachmentId: attachment?.id ?? null,
          },
          skipDuplicates: true,
        })
        .catch((error: unknown) => {
          // The upload was removed (never posted in time) between the check and the insert.
          if ((error as { code?: string }).code === 'P2003') throw notFound('the attachment has expired');
          throw error;
        });
      if (row) return { message: toChatMessage({ ...row, attachment }), created: true };
      const stored = await db.message.findUnique({ where: key, include });
      if (!stored) throw conflict('the attachment is already part of a message');
      return { message: toChatMessage(stored), created: false };
    },
  };
}

export async function history(
  db: Db,
  roomId: string,
  identityId: string,
  beforeSeq: string | undefined,
  limit: number,
): Promise<{ messages: ChatMessage[]; hasMore: boolean }> {
  const rows = await db.message.findMany({
    where: {
      roomId,
      ...(beforeSeq !== undefined ? { seq: { lt: BigInt(beforeSeq) } } : {}),
      OR: [{ recipientId: null }, { authorId: identityId }, { recipientId: identityId }],
    },
    orderBy: { seq: 'desc' },
    take: limit + 1,
    include,
  });
  return { messages: rows.slice(0, limit).map(toChatMessage), hasMore: rows.length > limit };
}

async function ownMessage(db: Db, roomId: string, identityId: string, messageId: string) {
  const row = await db.message.findUnique({
    where: { id: messageId },
    select: { roomId: true, authorId: true, deletedAt: true, kind: true },
  });
  if (!row || row.roomId !== roomId) throw notFound('message not found in this room');
  if (row.authorId !== identityId || row.kind !== 'text')
    throw forbidden('only the author may change a message');
  if (row.deletedAt) throw conflict('the message was deleted');
}

export async function editMessage(
  db: Db,
  roomId: string,
  identityId: string,
  messageId: string,
  text: string,
): Promise<ChatMessage> {
  await ownMessage(db, roomId, identityId, messageId);
  // Only while not deleted: a delete from another tab may have landed since the check.
  const { count } = await db.message.updateMany({
    where: { id: messageId, deletedAt: null },
    data: { text, editedAt: new Date() },
  });
  if (count === 0) throw conflict('the message was deleted');
  return toChatMessage(await db.message.findUniqueOrThrow({ where: { id: messageId }, include }));
}

export async function deleteMessage(
  db: Db,
  roomId: string,
  identityId: string,
  messageId: string,
): Promise<ChatMessage> {
  await ownMessage(db, roomId, identityId, messageId);
  const row = await db.message.update({
    where: { id: messageId },
    data: { text: '', deletedAt: new Date() },
    include,
  });
  return toChatMessage(row);
}

export async function readMarker(db: Db, roomId: string, identityId: string): Promise<string> {
  const membership = await db.membership.findUnique({
    where: { roomId_identityId: { roomId, identityId } },
    select: { lastReadSeq: true },
  });
  return (membership?.lastReadSeq ?? 0n).toString();
}

/** Moves the read marker forward (never back); returns where it is. */
export async function markRead(db: Db, roomId: string, identityId: string, seq: string): Promise<string> {
  await db.membership.updateMany({
    where: { roomId, identityId, lastReadSeq: { lt: BigInt(seq) } },
    data: { lastReadSeq: BigInt(seq) },
  });
  return readMarker(db, roomId, identityId);
}
