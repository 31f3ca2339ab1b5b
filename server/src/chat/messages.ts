// Chat messages in the database: idempotent send, visibility (public or private to two
// identities), history pages by seq, edit, delete, read markers.
import type { ChatMessage } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { badRequest, conflict, forbidden, notFound } from '../signaling/errors.js';
import { isMember } from './membership.js';

const include = {
  author: { select: { id: true, displayName: true } },
  recipient: { select: { id: true, displayName: true } },
  attachment: { select: { id: true, fileName: true, mimeType: true, size: true } },
} as const;

type Row = NonNullable<Awaited<ReturnType<Db['message']['findFirst']>>> & {
  author: { id: string; displayName: string } | null;
  recipient: { id: string; displayName: string } | null;
  attachment: { id: string; fileName: string; mimeType: string; size: number } | null;
};

export const attachmentUrl = (id: string) => `/api/attachments/${id}`;

export function toChatMessage(row: Row): ChatMessage {
  const deleted = row.deletedAt !== null;
  return {
    id: row.id,
    seq: row.seq.toString(),
    kind: row.kind,
    author: row.author,
    recipient: row.recipient,
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

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === 'P2002';
}

/**
 * Stores a message once per (author, clientId). Returns it with `created: false` when the
 * same clientId was already stored (a retry after a lost acknowledgement).
 */
export async function sendMessage(
  db: Db,
  input: SendInput,
): Promise<{ message: ChatMessage; created: boolean }> {
  const key = { authorId_clientId: { authorId: input.authorId, clientId: input.clientId } };
  const existing = await db.message.findUnique({ where: key, include });
  if (existing) return { message: toChatMessage(existing), created: false };

  if (input.recipientId !== undefined) {
    if (input.recipientId === input.authorId)
      throw badRequest('a private message needs another participant as recipient');
    if (!(await isMember(db, input.roomId, input.recipientId)))
      throw notFound('the recipient is not a participant of this room');
  }
  if (input.attachmentId !== undefined) {
    const attachment = await db.attachment.findUnique({
      where: { id: input.attachmentId },
      include: { message: { select: { id: true } } },
    });
    if (!attachment || attachment.roomId !== input.roomId)
      throw notFound('attachment not found in this room');
    if (attachment.uploaderId !== input.authorId)
      throw forbidden('the attachment was uploaded by someone else');
    if (attachment.message) throw conflict('the attachment is already part of a message');
  }
  try {
    const row = await db.message.create({
      data: {
        roomId: input.roomId,
        authorId: input.authorId,
        clientId: input.clientId,
        text: input.text,
        recipientId: input.recipientId ?? null,
        attachmentId: input.attachmentId ?? null,
      },
      include,
    });
    return { message: toChatMessage(row), created: true };
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // A concurrent retry with the same clientId won the race.
    const row = await db.message.findUnique({ where: key, include });
    if (!row) throw error;
    return { message: toChatMessage(row), created: false };
  }
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
  const row = await db.message.update({
    where: { id: messageId },
    data: { text, editedAt: new Date() },
    include,
  });
  return toChatMessage(row);
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
