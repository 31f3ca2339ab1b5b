// The HTTP API's bodies and answers, as zod schemas: the server validates requests and
// answers with them (fastify-type-provider-zod), and the OpenAPI document at /api/docs is
// generated from them; the web app reads the same types.
import { z } from 'zod';
import { attachmentInfoSchema, chatMessageSchema, chatRequests, seqSchema } from './chat.js';
import { displayNameSchema, roomIdSchema } from './names.js';
import { personText } from './text.js';

/** Every refusal: the HTTP status's name and the reason, for people. */
export const apiErrorSchema = z
  .object({
    error: z.string().describe('the HTTP status, in words (e.g. "Bad Request")'),
    message: z.string().describe('why the request was refused'),
  })
  .meta({ id: 'Error' });

export const identitySchema = z
  .object({
    id: z.uuid(),
    displayName: z.string(),
  })
  .meta({ id: 'Identity' });

export const identityRequestSchema = z
  .object({
    displayName: displayNameSchema,
    /** The page runs inside another site's iframe (embed mode): a partitioned cookie. */
    embedded: z
      .boolean()
      .optional()
      .describe('the page is inside another site’s iframe: a partitioned cookie'),
  })
  .strict();

export const identityResponseSchema = z.object({ identity: identitySchema });

export const roomTokenRequestSchema = z
  .object({
    roomId: roomIdSchema,
    token: z.string().min(1).max(8192).describe('the room token (a JWT your application signed)'),
    embedded: z
      .boolean()
      .optional()
      .describe('the page is inside another site’s iframe: a partitioned cookie'),
  })
  .strict();

export const roomTokenResponseSchema = z.object({
  identity: identitySchema,
  roomId: roomIdSchema,
  displayName: z.string(),
  role: z.enum(['host', 'participant']),
  expiresAt: z.iso.datetime().describe('when the token expires (it is only needed until then)'),
});

export const healthResponseSchema = z.object({ status: z.enum(['ok', 'unavailable']) });

export const attachmentUploadResponseSchema = z.object({ attachment: attachmentInfoSchema });

// ---- API tokens: a person's key for scripts and bots, limited to some scopes ----

export const apiScopes = ['rooms:read', 'rooms:write', 'messages:read', 'messages:write'] as const;
export const apiScopeSchema = z
  .enum(apiScopes)
  .describe(
    'rooms:read: list and read rooms and their members; rooms:write: create rooms; ' +
      'messages:read: read a room’s messages; messages:write: post messages',
  );
export type ApiScope = z.infer<typeof apiScopeSchema>;

/** Longest lifetime of an API token, in days (and the default). */
export const maxApiTokenDays = 365;

export const apiTokenSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    scopes: z.array(apiScopeSchema),
    createdAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: 'ApiToken' });

export const apiTokenCreateRequestSchema = z
  .object({
    name: personText(100, 'a token name has at most 100 characters')
      .transform((s) => s.trim())
      .refine((s) => s.length > 0, 'a token needs a name'),
    scopes: z
      .array(apiScopeSchema)
      .min(1, 'a token needs at least one scope')
      .refine((s) => new Set(s).size === s.length, 'each scope once'),
    expiresInDays: z.number().int().min(1).max(maxApiTokenDays).optional(),
  })
  .strict();

export const apiTokenCreatedSchema = z.object({
  token: apiTokenSchema,
  secret: z.string().describe('send as "Authorization: Bearer <secret>"; shown this once only'),
});
export const apiTokenListSchema = z.object({ tokens: z.array(apiTokenSchema) });

// ---- Rooms and their messages ----

export const roomRoleSchema = z.enum(['host', 'member']);

export const presentPersonSchema = z
  .object({
    identityId: z.uuid(),
    displayName: z.string(),
    inCall: z.boolean().describe('in the call (else in the chat only)'),
    away: z.boolean().describe('every connection of theirs is away (tab hidden or idle)'),
    busy: z.boolean().describe('they set themselves busy (do not disturb)'),
  })
  .meta({ id: 'PresentPerson' });

export const roomSummarySchema = z
  .object({
    id: roomIdSchema,
    name: z.string().nullable().describe('set by a host (null: shown by its id)'),
    topic: z.string().nullable(),
    role: roomRoleSchema.describe('your role in the room'),
    starred: z.boolean().describe('starred by you: listed first'),
    notify: z
      .enum(['off', 'mentions', 'all'])
      .describe('your web push for this room: off, mentions (and private messages), or all'),
    locked: z.boolean(),
    createdAt: z.iso.datetime(),
    unread: z.number().int().nonnegative().describe('messages from others after your read marker'),
    lastMessage: chatMessageSchema.nullable().describe('the newest message you may see'),
    present: z.array(presentPersonSchema).describe('who is connected to the room now, on any node'),
  })
  .meta({ id: 'RoomSummary' });

export const maxRoomNameLength = 80;
export const maxRoomTopicLength = 300;
const roomText = (max: number, what: string) =>
  personText(max, `a room ${what} has at most ${max} characters`)
    .transform((s) => s.trim())
    .nullable()
    .optional();

export const roomUpdateRequestSchema = z
  .object({
    name: roomText(maxRoomNameLength, 'name').describe('null or empty: no name'),
    topic: roomText(maxRoomTopicLength, 'topic').describe('null or empty: no topic'),
  })
  .strict()
  .refine((d) => d.name !== undefined || d.topic !== undefined, 'give a name, a topic or both');

export const roomStarRequestSchema = z.object({ starred: z.boolean() }).strict();

/** A room as GET /api/rooms lists it. */
export type RoomListing = z.infer<typeof roomSummarySchema>;

export const roomListSchema = z.object({ rooms: z.array(roomSummarySchema) });
export const roomResponseSchema = z.object({ room: roomSummarySchema });

export const roomCreateRequestSchema = z
  .object({ id: roomIdSchema.optional().describe('the room id (a random one when left out)') })
  .strict();

export const roomMemberSchema = z
  .object({
    identityId: z.uuid(),
    displayName: z.string(),
    role: roomRoleSchema,
    joinedAt: z.iso.datetime(),
  })
  .meta({ id: 'RoomMember' });
export const roomMembersSchema = z.object({ members: z.array(roomMemberSchema) });

export const roomParamsSchema = z.object({ roomId: roomIdSchema });

export const messagesQuerySchema = z
  .object({
    beforeSeq: seqSchema.optional().describe('only messages before this seq (the next page)'),
    limit: z.coerce.number().int().min(1).max(100).optional().describe('at most this many (50)'),
  })
  .strict();
export const messagesPageSchema = z.object({
  messages: z.array(chatMessageSchema).describe('newest first'),
  hasMore: z.boolean(),
});
export const messageSendRequestSchema = chatRequests.chatSend.data;
export const messageResponseSchema = z.object({ message: chatMessageSchema });

// ---- Accounts and sessions ----

export const emailSchema = z
  .string()
  .trim()
  .max(254, 'an email address has at most 254 characters')
  .pipe(z.email('not an email address'))
  .transform((s) => s.toLowerCase());
export const minPasswordLength = 10;
export const passwordSchema = z
  .string()
  .min(minPasswordLength, `a password has at least ${minPasswordLength} characters`)
  .max(200, 'a password has at most 200 characters');

export const signUpRequestSchema = z
  .object({ email: emailSchema, password: passwordSchema, displayName: displayNameSchema })
  .strict();
export const signInRequestSchema = z
  .object({ email: emailSchema, password: z.string().min(1).max(200) })
  .strict();

export const accountSchema = z
  .object({
    identity: identitySchema,
    /** Signed up or in (else a guest: a name in this browser only). */
    signedIn: z.boolean(),
    email: z.string().nullable(),
    /** Signed in with an OpenID Connect provider (its issuer). */
    oidcIssuer: z.string().nullable(),
  })
  .meta({ id: 'Account' });
export const accountResponseSchema = z.object({ account: accountSchema });

export const sessionSchema = z
  .object({
    id: z.uuid(),
    userAgent: z.string().nullable(),
    createdAt: z.iso.datetime(),
    lastSeenAt: z.iso.datetime(),
    current: z.boolean().describe('this browser'),
  })
  .meta({ id: 'Session' });
export const sessionListSchema = z.object({ sessions: z.array(sessionSchema) });
export type AccountView = z.infer<typeof accountSchema>;
export type SessionView = z.infer<typeof sessionSchema>;

// ---- Web push ----

export const notifyLevelSchema = z
  .enum(['off', 'mentions', 'all'])
  .describe(
    'off; mentions: private messages and @mentions; all: every message while you are not in the room',
  );
export type NotifyLevel = z.infer<typeof notifyLevelSchema>;
export const roomNotifyRequestSchema = z.object({ level: notifyLevelSchema }).strict();

const base64url = (what: string, max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[A-Za-z0-9_-]+={0,2}$/, `${what} is base64url`);

/** A browser's PushSubscription, as its toJSON() gives it. */
export const pushSubscriptionRequestSchema = z
  .object({
    endpoint: z.url().max(2048).describe('the push service URL for this browser'),
    expirationTime: z.number().nullable().optional(),
    keys: z
      .object({ p256dh: base64url('p256dh', 200), auth: base64url('auth', 100) })
      .strict()
      .describe('the browser’s P-256 public key and auth secret (RFC 8291)'),
  })
  .strict();
export const pushUnsubscribeRequestSchema = z.object({ endpoint: z.url().max(2048) }).strict();
export const pushKeyResponseSchema = z.object({
  publicKey: z.string().describe('the VAPID public key (applicationServerKey), base64url'),
});
