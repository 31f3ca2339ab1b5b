// Chat messages in the database: the checks of a send (stored in batches: store-batch.ts),
// visibility (public or private to two identities), history pages by seq, edit, delete, read
// markers. Reactions: reactions.ts; search: search.ts.
import type { ChatMessage, Reaction } from '@meet/protocol';
import type { Db } from '../db/database.js';
import { badRequest, conflict, forbidden, notFound } from '../signaling/errors.js';
import { isMember } from './membership.js';

export const include = {
  attachment: { select: { id: true, fileName: true, mimeType: true, size: true, durationMs: true } },
  reactions: {
    select: { emoji: true, identityId: true },
    orderBy: { createdAt: 'asc' },
  },
} as const;

export type Row = NonNullable<Awaited<ReturnType<Db['message']['findFirst']>>> & {
  attachment: {
    id: string;
    fileName: string;
    mimeType: string;
    size: number;
    durationMs: number | null;
  } | null;
  reactions: Array<{ emoji: string; identityId: string }>;
};

/** Reactions grouped by emoji, in the order each emoji was first used. */
function groupReactions(rows: Row['reactions']): Reaction[] {
  const byEmoji = new Map<string, string[]>();
  for (const { emoji, identityId } of rows) {
    const by = byEmoji.get(emoji);
    if (by) by.push(identityId);
    else byEmoji.set(emoji, [identityId]);
  }
  return [...byEmoji].map(([emoji, by]) => ({ emoji, by }));
}

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
    mentions: deleted ? [] : row.mentions,
    reactions: deleted ? [] : groupReactions(row.reactions),
    version: row.version,
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
  mentions?: string[] | undefined;
}

/** A checked message, ready to be stored with others of its room (see store-batch.ts). */
export interface PendingMessage {
  authorId: string;
  clientId: string;
  text: string;
  recipient: { id: string; displayName: string } | null;
  attachment: AttachmentRow | null;
  /** Members @mentioned (checked). */
  mentions: string[];
}

export type AttachmentRow = NonNullable<Row['attachment']>;

export type PreparedSend = { existing: ChatMessage } | { existing?: undefined; pending: PendingMessage };

/**
 * Checks a send before it joins its room's next batch, so that one bad message never fails
 * the others: the recipient must be a member, the attachment the author's upload in this room
 * and not yet posted. Returns the message already stored under this (room, author, clientId)
 * — a retry after a lost acknowledgement — when that is known here; a plain text message
 * needs no query at all (its retry is recognized by the batch's INSERT … ON CONFLICT).
 */
export async function prepareSend(db: Db, input: SendInput): Promise<PreparedSend> {
  const pending: PendingMessage = {
    authorId: input.authorId,
    clientId: input.clientId,
    text: input.text,
    recipient: null,
    attachment: null,
    mentions: input.mentions ?? [],
  };
  const mentions = input.mentions ?? [];
  if (mentions.length > 0) {
    const members = await db.membership.count({
      where: { roomId: input.roomId, identityId: { in: mentions } },
    });
    if (members !== mentions.length) throw badRequest('a mention names someone who is not in this room');
  }
  if (input.recipientId === undefined && input.attachmentId === undefined) return { pending };
  // A retry of a message whose attachment is now posted (by this very message) is no conflict.
  const key = {
    roomId_authorId_clientId: { roomId: input.roomId, authorId: input.authorId, clientId: input.clientId },
  };
  const existing = await db.message.findUnique({ where: key, include });
  if (existing) return { existing: toChatMessage(existing) };
  if (input.recipientId !== undefined) {
    if (input.recipientId === input.authorId)
      throw badRequest('a private message needs another participant as recipient');
    if (!(await isMember(db, input.roomId, input.recipientId)))
      throw notFound('the recipient is not a participant of this room');
    pending.recipient = await db.identity.findUniqueOrThrow({
      where: { id: input.recipientId },
      select: { id: true, displayName: true },
    });
  }
  if (input.attachmentId !== undefined) {
    const found = await db.attachment.findUnique({
      where: { id: input.attachmentId },
      include: { message: { select: { id: true } } },
    });
    if (!found || found.roomId !== input.roomId) throw notFound('attachment not found in this room');
    if (found.uploaderId !== input.authorId) throw forbidden('the attachment was uploaded by someone else');
    if (found.message) throw conflict('the attachment is already part of a message');
    pending.attachment = {
      id: found.id,
      fileName: found.fileName,
      mimeType: found.mimeType,
      size: found.size,
      durationMs: found.durationMs,
    };
  }
  return { pending };
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

/** A message of this room that `identityId` may see (refused as not found otherwise). */
export async function visibleMessage(db: Db, roomId: string, identityId: string, messageId: string) {
  const row = await db.message.findUnique({
    where: { id: messageId },
    select: { roomId: true, authorId: true, recipientId: true, deletedAt: true, kind: true },
  });
  const visible =
    row !== null &&
    row.roomId === roomId &&
    (row.recipientId === null || row.authorId === identityId || row.recipientId === identityId);
  if (!visible) throw notFound('message not found in this room');
  return row;
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
    data: { text, editedAt: new Date(), version: { increment: 1 } },
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
    data: { text: '', deletedAt: new Date(), version: { increment: 1 } },
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
