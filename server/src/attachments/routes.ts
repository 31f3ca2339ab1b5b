// HTTP API for chat attachments:
//   POST /api/rooms/:roomId/attachments  (multipart, one file field named "file"; members only)
//   GET  /api/attachments/:id            (members of the room; a private message's two people;
//                                         the uploader alone while it is in no message)
// The type is detected from the content (file-type.ts); the bytes go to an AttachmentStorage
// under a server-generated key; the metadata is an Attachment row, later linked to a message.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { apiErrorSchema, attachmentUploadResponseSchema, roomIdSchema, uuidSchema } from '@meet/protocol';
import type { Authenticate } from '../auth/api-auth.js';
import { apiSecurity } from '../room/room-routes.js';
import { isMember } from '../chat/membership.js';
import { attachmentUrl } from '../chat/messages.js';
import type { Db } from '../db/database.js';
import {
  checkUpload,
  detectType,
  isInlineType,
  sanitizeFileName,
  sniffLength,
  textValidator,
} from './file-type.js';
import { NotStoredError, TooLargeError, type AttachmentStorage } from './storage.js';

export interface AttachmentRoutesOptions {
  db: Db;
  storage: AttachmentStorage;
  /** Largest accepted file, in bytes (config.attachments.maxBytes). */
  maxBytes: number;
  /** Uploads per minute and client address. */
  uploadsPerMinute: number;
  /** The identity cookie, or an API token (messages:write to upload, messages:read to download). */
  authenticate: Authenticate;
}

const fileField = 'file';
const uploadParams = z.object({ roomId: roomIdSchema });
const downloadParams = z.object({ id: uuidSchema });

type Status = 400 | 401 | 403 | 404 | 410 | 413 | 415 | 500;
const statusText: Record<Status, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  410: 'Gone',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
};

function fail(reply: FastifyReply, status: Status, message: string) {
  return reply.code(status).send({ error: statusText[status], message });
}

/** "25 MB", "1.5 MB", "0.002 MB (2048 bytes)": the limit as people read it (MB = 1024²). */
export function describeLimit(maxBytes: number): string {
  const mb = maxBytes / (1024 * 1024);
  if (mb >= 1) return `${Number(mb.toFixed(1))} MB`;
  return `${Number(mb.toPrecision(2))} MB (${maxBytes} bytes)`;
}

/** RFC 6266 Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 8187). */
export function contentDisposition(type: 'inline' | 'attachment', fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(fileName).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/** Reads the rest of an upload and throws it away (so that the client gets the answer). */
async function drain(chunks: AsyncIterator<Buffer>): Promise<void> {
  try {
    while (!(await chunks.next()).done);
  } catch {
    // the upload broke off: nothing left to read
  }
}

/** The first `length` bytes or more (whole chunks), and whether that was everything. */
async function readHead(
  chunks: AsyncIterator<Buffer>,
  length: number,
): Promise<{ head: Buffer; complete: boolean }> {
  const parts: Buffer[] = [];
  let size = 0;
  while (size < length) {
    const next = await chunks.next();
    if (next.done) return { head: Buffer.concat(parts), complete: true };
    parts.push(next.value);
    size += next.value.length;
  }
  return { head: Buffer.concat(parts), complete: false };
}

/** An audio note (recorded in the composer) says how long it is: at most 10 minutes. */
const uploadQuery = z
  .object({
    durationMs: z.coerce
      .number()
      .int()
      .min(1)
      .max(10 * 60_000)
      .optional()
      .describe('an audio note’s length in ms, as its recorder measured it'),
  })
  .strict();

export function registerAttachmentRoutes(
  app: FastifyInstance,
  { db, storage, maxBytes, uploadsPerMinute, authenticate }: AttachmentRoutesOptions,
): void {
  const tooLarge = (fileName: string) =>
    `${fileName} is too large: attachments are limited to ${describeLimit(maxBytes)}`;

  const api = app.withTypeProvider<ZodTypeProvider>();
  const errors = (...codes: Status[]) => Object.fromEntries(codes.map((code) => [code, apiErrorSchema]));
  api.post(
    '/api/rooms/:roomId/attachments',
    {
      config: { rateLimit: { max: uploadsPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['attachments'],
        summary: 'Share a file in a room (members only); post it in a chat message afterwards',
        description: `multipart/form-data with one file field named "${fileField}". The type is detected from the content; HTML, SVG and executables are refused (415).`,
        consumes: ['multipart/form-data'],
        security: apiSecurity,
        params: uploadParams,
        querystring: uploadQuery,
        response: {
          201: attachmentUploadResponseSchema,
          ...errors(400, 401, 403, 413, 415),
          429: apiErrorSchema,
        },
      },
      // @fastify/multipart stops reading the request (unpipes it) once the multipart body
      // is over, and an early answer (401, 415, 413) leaves the rest unread: read it out so
      // that the connection can carry the next request.
      onResponse: async (request) => {
        if (!request.raw.readableEnded && !request.raw.destroyed) request.raw.resume();
      },
    },
    async (request, reply) => {
      const { roomId } = request.params;
      const { durationMs } = request.query;
      const caller = await authenticate(request, reply, 'messages:write');
      if (!caller) return reply;
      const { identity } = caller;
      if (!(await isMember(db, roomId, identity.id)))
        return fail(reply, 403, `only participants of room ${roomId} may share files in it`);
      if (!request.isMultipart())
        return fail(reply, 400, `send the file as multipart/form-data in a field named "${fileField}"`);
      // The client may have gone while we looked at the database: then nothing will arrive.
      if (request.raw.destroyed && !request.raw.readableEnded)
        return fail(reply, 400, 'the upload broke off');

      let part;
      try {
        part = await request.file({ limits: { fileSize: maxBytes, files: 1 }, throwFileSizeLimit: false });
      } catch (error) {
        return fail(reply, 400, `unreadable upload: ${(error as Error).message}`);
      }
      if (!part) return fail(reply, 400, `the upload has no file (expected a field named "${fileField}")`);
      const file = part.file;
      const chunks: AsyncIterator<Buffer> = file[Symbol.asyncIterator]();
      if (part.fieldname !== fileField) {
        await drain(chunks);
        return fail(reply, 400, `the file must be in a field named "${fileField}", not "${part.fieldname}"`);
      }
      const fileName = sanitizeFileName(part.filename);

      let head: Buffer;
      let complete: boolean;
      try {
        ({ head, complete } = await readHead(chunks, sniffLength));
      } catch (error) {
        return fail(reply, 400, `the upload broke off: ${(error as Error).message}`);
      }
      if (file.truncated) {
        await drain(chunks);
        return fail(reply, 413, tooLarge(fileName));
      }
      if (complete && head.length === 0) return fail(reply, 400, `${fileName} is empty`);

      const detection = detectType(head.subarray(0, sniffLength), complete && head.length <= sniffLength);
      let verdict = checkUpload(fileName, detection);
      if (!verdict.ok) {
        await drain(chunks);
        return fail(reply, 415, verdict.reason);
      }
      // An audio note: the recording's length goes with audio (a recorder's WebM or Ogg) only.
      if (durationMs !== undefined && !/^(audio\/|video\/webm$|video\/ogg$)/.test(verdict.mimeType)) {
        await drain(chunks);
        return fail(reply, 400, `durationMs is for audio notes, and ${fileName} is ${verdict.mimeType}`);
      }

      // Text stays text only if all of it is UTF-8 without NUL bytes, not just the head.
      const text = detection.kind === 'known' && detection.family === 'text' ? textValidator() : null;
      text?.push(head);
      async function* content() {
        yield head;
        for (;;) {
          const next = await chunks.next();
          if (next.done) break;
          text?.push(next.value);
          yield next.value;
        }
        // @fastify/multipart cuts a file at the limit and marks it truncated.
        if (file.truncated) throw new TooLargeError(maxBytes);
      }

      const storageKey = randomUUID();
      let size: number;
      try {
        ({ size } = await storage.put(storageKey, Readable.from(content()), maxBytes));
      } catch (error) {
        await drain(chunks);
        if (error instanceof TooLargeError) return fail(reply, 413, tooLarge(fileName));
        if (file.destroyed && !file.readableEnded) {
          request.log.info({ err: error }, 'upload broke off');
          return fail(reply, 400, `the upload of ${fileName} broke off`);
        }
        request.log.error({ err: error }, 'cannot store attachment');
        return fail(reply, 500, `${fileName} could not be stored`);
      }

      if (text && !text.end()) {
        verdict = checkUpload(fileName, { kind: 'unknown', mime: 'application/octet-stream' });
        if (!verdict.ok) {
          await storage.remove(storageKey);
          return fail(reply, 415, verdict.reason);
        }
      }

      try {
        const attachment = await db.attachment.create({
          data: {
            roomId,
            uploaderId: identity.id,
            fileName,
            mimeType: verdict.mimeType,
            size,
            storageKey,
            durationMs: durationMs ?? null,
          },
          select: { id: true, fileName: true, mimeType: true, size: true, durationMs: true },
        });
        request.log.info(
          { roomId, attachmentId: attachment.id, size, mimeType: verdict.mimeType },
          'attachment stored',
        );
        return reply.code(201).send({ attachment: { ...attachment, url: attachmentUrl(attachment.id) } });
      } catch (error) {
        await storage
          .remove(storageKey)
          .catch((err: unknown) =>
            request.log.error({ err, storageKey }, 'cannot remove the stored file of a failed upload'),
          );
        request.log.error({ err: error }, 'cannot record attachment');
        return fail(reply, 500, `${fileName} could not be saved`);
      }
    },
  );

  const downloadSchema = {
    tags: ['attachments'],
    summary: 'Download a shared file',
    description:
      'The file itself (200, its type, `Content-Disposition` inline for images, audio and video, attachment otherwise). Members of its room; a private message’s file to its two people; an upload not yet posted to its uploader.',
    security: apiSecurity,
    response: {
      200: {
        description: 'the file',
        content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } },
      },
      ...errors(401, 403, 404, 410),
    },
  };
  app.get('/api/attachments/:id', { schema: downloadSchema }, async (request, reply) => {
    const caller = await authenticate(request, reply, 'messages:read');
    if (!caller) return reply;
    const { identity } = caller;
    const params = downloadParams.safeParse(request.params);
    if (!params.success) return fail(reply, 404, 'attachment not found');
    const attachment = await db.attachment.findUnique({
      where: { id: params.data.id },
      include: { message: { select: { authorId: true, recipientId: true, deletedAt: true } } },
    });
    if (!attachment) return fail(reply, 404, 'attachment not found');
    if (!(await isMember(db, attachment.roomId, identity.id)))
      return fail(reply, 403, `only participants of room ${attachment.roomId} may download its files`);
    const message = attachment.message;
    if (!message && attachment.uploaderId !== identity.id)
      return fail(reply, 403, 'this file has not been shared in a message yet');
    if (
      message &&
      message.recipientId !== null &&
      message.authorId !== identity.id &&
      message.recipientId !== identity.id
    )
      return fail(reply, 403, 'this file was shared in a private message to someone else');
    if (message?.deletedAt) return fail(reply, 410, 'the message with this file was deleted');

    let stream: Readable;
    try {
      stream = await storage.open(attachment.storageKey);
    } catch (error) {
      if (error instanceof NotStoredError) {
        request.log.error({ attachmentId: attachment.id }, 'attachment content is missing from storage');
        return fail(reply, 404, 'the content of this attachment is missing');
      }
      throw error;
    }
    const inline = isInlineType(attachment.mimeType);
    return reply
      .header(
        'Content-Type',
        attachment.mimeType === 'text/plain' ? 'text/plain; charset=utf-8' : attachment.mimeType,
      )
      .header('Content-Length', attachment.size)
      .header(
        'Content-Disposition',
        contentDisposition(inline ? 'inline' : 'attachment', attachment.fileName),
      )
      .header('X-Content-Type-Options', 'nosniff')
      .header('Content-Security-Policy', "default-src 'none'; img-src 'self'; sandbox")
      .header('Cache-Control', 'private, max-age=3600')
      .send(stream);
  });
}
