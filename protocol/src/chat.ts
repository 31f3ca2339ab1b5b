// The chat part of the signaling protocol: messages as the browser sees them, and the
// requests and notifications that carry them on the room's websocket.
import { z } from 'zod';
import { idSchema } from './names.js';
import { personText } from './text.js';

export const uuidSchema = z.uuid();
const maxSeq = 2n ** 63n - 1n;
/** Message sequence numbers are signed 64-bit (bigint): carried as decimal strings. */
export const seqSchema = z
  .string()
  .regex(/^\d{1,19}$/, 'seq must be a decimal string')
  // (a refinement runs after a failed regex too: only a decimal string reaches BigInt)
  .refine((s) => !/^\d{1,19}$/.test(s) || BigInt(s) <= maxSeq, 'seq is larger than 2^63-1');
export const maxMessageLength = 4000;
/** People one message may @mention. */
export const maxMentions = 20;

/** What a person sets: available, or busy (do not disturb: no push, no sounds). */
export const personStatusSchema = z.enum(['available', 'busy']);
export type PersonStatus = z.infer<typeof personStatusSchema>;

export const chatPersonSchema = z.object({ id: uuidSchema, displayName: z.string() });

export const attachmentInfoSchema = z.object({
  id: uuidSchema,
  fileName: z.string(),
  mimeType: z.string(),
  size: z.number().int().nonnegative(),
  /** An audio note's length in ms (recorded in the composer); null for any other file. */
  durationMs: z.number().int().positive().nullable(),
  /** Download URL (members only; the identity cookie authorizes it). */
  url: z.string(),
});
export type AttachmentInfo = z.infer<typeof attachmentInfoSchema>;

/**
 * One emoji (one grapheme cluster of emoji code points: a flag, a keycap, a skin tone, a
 * ZWJ family all count as one), at most 32 UTF-16 units.
 */
export const emojiSchema = z
  .string()
  .min(1, 'an emoji is needed')
  .max(32, 'one emoji is at most 32 UTF-16 code units')
  .refine(isOneEmoji, 'must be exactly one emoji');

const emojiStart = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|[0-9#*]\uFE0F?\u20E3)/u;
// (Emoji_Component covers ZWJ, VS16, the keycap, skin tones, tags and regional indicators.)
const emojiOnly = /^[\p{Extended_Pictographic}\p{Emoji_Component}]+$/u;

export function isOneEmoji(s: string): boolean {
  if (!emojiStart.test(s) || !emojiOnly.test(s)) return false;
  const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(s);
  let count = 0;
  for (const _ of graphemes) if (++count > 1) return false;
  return count === 1;
}

/** How many different emoji one message can carry (each by any number of people). */
export const maxReactionsPerMessage = 20;

export const reactionSchema = z.object({
  emoji: z.string(),
  /** Identities that reacted with it, in the order they did. */
  by: z.array(uuidSchema),
});
export type Reaction = z.infer<typeof reactionSchema>;

export const chatMessageSchema = z.object({
  id: uuidSchema,
  seq: seqSchema,
  kind: z.enum(['text', 'system']),
  author: chatPersonSchema.nullable(),
  /** Set for a private message: only author and recipient receive it. */
  recipient: chatPersonSchema.nullable(),
  clientId: z.string().nullable(),
  text: z.string(),
  attachment: attachmentInfoSchema.nullable(),
  createdAt: z.string(),
  editedAt: z.string().nullable(),
  deletedAt: z.string().nullable(),
  /** Identities the author @mentioned (members of the room). */
  mentions: z.array(uuidSchema),
  /** Reactions, by emoji in the order first used (none on a deleted message). */
  reactions: z.array(reactionSchema),
  /**
   * Grows with every edit, delete and reaction: of two copies of a message (an update
   * overtaking another on its way), the one with the higher version is the newer.
   */
  version: z.number().int().nonnegative(),
});
export type ChatMessage = z.infer<typeof chatMessageSchema>;

const messageText = personText(
  maxMessageLength,
  `a message has at most ${maxMessageLength} characters`,
).transform((s) => s.trim());

/**
 * The words of a search: runs of letters, digits and marks, at most 16 of them, each at most
 * 64 characters (the database folds their case as it does the messages').
 */
export function searchWords(query: string): string[] {
  return (query.match(/[\p{L}\p{N}\p{M}]+/gu) ?? []).slice(0, 16).map((w) => w.slice(0, 64));
}

export const chatRequests = {
  chatSend: {
    data: z
      .object({
        /** Client-generated id: a retry with the same id never creates a second message. */
        clientId: z
          .string()
          .min(8)
          .max(64)
          .regex(/^[A-Za-z0-9_-]+$/),
        text: messageText,
        recipientId: uuidSchema.optional(),
        attachmentId: uuidSchema.optional(),
        /** Members @mentioned in the text (the composer's autocomplete knows who). */
        mentions: z
          .array(uuidSchema)
          .max(maxMentions, `at most ${maxMentions} mentions`)
          .refine((ids) => new Set(ids).size === ids.length, 'each mention once')
          .optional(),
      })
      .strict()
      .refine((d) => d.text.length > 0 || d.attachmentId !== undefined, {
        message: 'a message needs text or an attachment',
        path: ['text'],
      }),
    response: z.object({ message: chatMessageSchema }),
  },
  chatHistory: {
    data: z
      .object({ beforeSeq: seqSchema.optional(), limit: z.number().int().min(1).max(100).optional() })
      .strict(),
    response: z.object({
      messages: z.array(chatMessageSchema),
      hasMore: z.boolean(),
      lastReadSeq: seqSchema,
    }),
  },
  chatEdit: {
    data: z
      .object({ messageId: uuidSchema, text: messageText.refine((s) => s.length > 0, 'text is empty') })
      .strict(),
    response: z.object({ message: chatMessageSchema }),
  },
  chatDelete: {
    data: z.object({ messageId: uuidSchema }).strict(),
    response: z.object({ message: chatMessageSchema }),
  },
  /** Adds (or with `add: false`, takes back) this person's reaction to a message. */
  chatReact: {
    data: z.object({ messageId: uuidSchema, emoji: emojiSchema, add: z.boolean() }).strict(),
    response: z.object({ message: chatMessageSchema }),
  },
  /**
   * Searches the room's messages this person may see, newest first: every word of `query`
   * must appear (a word also matches longer ones it begins: "meet" finds "meeting").
   */
  chatSearch: {
    data: z
      .object({
        query: personText(200, 'a search is at most 200 characters').refine(
          (s) => searchWords(s).length > 0,
          'a search needs at least one word',
        ),
        beforeSeq: seqSchema.optional(),
        limit: z.number().int().min(1).max(50).optional(),
      })
      .strict(),
    response: z.object({ messages: z.array(chatMessageSchema), hasMore: z.boolean() }),
  },
  chatMarkRead: {
    data: z.object({ seq: seqSchema }).strict(),
    response: z.object({ lastReadSeq: seqSchema }),
  },
  setPresence: { data: z.object({ away: z.boolean() }).strict(), response: z.object({}).strict() },
  /** Sets this person's status (kept: it holds in every room and later visits). */
  setStatus: {
    data: z.object({ status: personStatusSchema }).strict(),
    response: z.object({}).strict(),
  },
  /**
   * This participant is typing a message (to everyone, or to `recipientId` privately). Sent
   * again every few seconds while typing; the others show it for `typingShownMs` after the
   * last. The server passes it on at most every `typingIntervalMs` per participant and target.
   */
  chatTyping: {
    data: z.object({ recipientId: uuidSchema.optional() }).strict(),
    response: z.object({}).strict(),
  },
} as const;

/** A typing participant tells the room again after this long (the server drops faster repeats). */
export const typingIntervalMs = 2500;
/** Others show "typing" this long after the last word of it (or until that person's message arrives). */
export const typingShownMs = 6000;

/** How a participant shows: busy (set by them), away (tab hidden or idle), in the call, or in the chat. */
export const peerStatusSchema = z.enum(['call', 'text', 'away', 'busy']);
export type PeerStatus = z.infer<typeof peerStatusSchema>;

/** At most this many messages are stored in one transaction, and carried by one chatMessages. */
export const maxMessagesPerBatch = 256;

export const chatNotifications = {
  /** A message someone else sent (or a private one to or from this participant). */
  chatMessage: z.object({ message: chatMessageSchema }),
  /**
   * Several such messages, stored together in one transaction, in seq order: sent instead of
   * that many chatMessage notifications when a batch holds more than one for this participant.
   */
  chatMessages: z.object({ messages: z.array(chatMessageSchema).min(2).max(maxMessagesPerBatch) }),
  chatMessageUpdated: z.object({ message: chatMessageSchema }),
  peerStatus: z.object({ peerId: idSchema, status: peerStatusSchema, inCall: z.boolean() }),
  /** Someone is typing: to the room, or (`private`) a message to this participant. */
  peerTyping: z.object({ peerId: idSchema, identityId: uuidSchema, private: z.boolean() }),
} as const;
