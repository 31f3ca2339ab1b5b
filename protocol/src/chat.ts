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

export const chatPersonSchema = z.object({ id: uuidSchema, displayName: z.string() });

export const attachmentInfoSchema = z.object({
  id: uuidSchema,
  fileName: z.string(),
  mimeType: z.string(),
  size: z.number().int().nonnegative(),
  /** Download URL (members only; the identity cookie authorizes it). */
  url: z.string(),
});
export type AttachmentInfo = z.infer<typeof attachmentInfoSchema>;

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
});
export type ChatMessage = z.infer<typeof chatMessageSchema>;

const messageText = personText(
  maxMessageLength,
  `a message has at most ${maxMessageLength} characters`,
).transform((s) => s.trim());

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
  chatMarkRead: {
    data: z.object({ seq: seqSchema }).strict(),
    response: z.object({ lastReadSeq: seqSchema }),
  },
  setPresence: { data: z.object({ away: z.boolean() }).strict(), response: z.object({}).strict() },
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

export const peerStatusSchema = z.enum(['call', 'text', 'away']);
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
