// The HTTP API's bodies and answers, as zod schemas: the server validates requests and
// answers with them (fastify-type-provider-zod), and the OpenAPI document at /api/docs is
// generated from them; the web app reads the same types.
import { z } from 'zod';
import { attachmentInfoSchema } from './chat.js';
import { displayNameSchema, roomIdSchema } from './names.js';

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
