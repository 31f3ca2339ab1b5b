// The signaling protocol, defined once: every request the browser sends (with the shape of
// its answer) and every notification the server pushes. Carried as protoo messages over
// the room's websocket. Server and web import these schemas and the types derived from them.
import { z } from 'zod';
import { adaptationNotifications, adaptationRequests } from './adaptation.js';
import { chatNotifications, chatRequests, peerStatusSchema, personStatusSchema, uuidSchema } from './chat.js';
import { hostNotifications, hostRequests, roleSchema, roomControlShape } from './hosts.js';
import { displayNameSchema, idSchema } from './names.js';
import {
  dtlsParametersSchema,
  iceCandidateSchema,
  iceParametersSchema,
  iceServerSchema,
  rtpCapabilitiesSchema,
  rtpParametersSchema,
} from './rtp.js';

/** What a producer carries; `screenAudio` is the shared tab's or screen's sound. */
export const mediaSourceSchema = z.enum(['mic', 'webcam', 'screen', 'screenAudio']);
export type MediaSource = z.infer<typeof mediaSourceSchema>;

export const producerInfoSchema = z.object({
  id: idSchema,
  kind: z.enum(['audio', 'video']),
  source: mediaSourceSchema,
  paused: z.boolean(),
});
export type ProducerInfo = z.infer<typeof producerInfoSchema>;

export const peerInfoSchema = z.object({
  id: idSchema,
  identityId: uuidSchema,
  displayName: z.string(),
  status: peerStatusSchema,
  /** Has media transports (in the call), whatever its status says. */
  inCall: z.boolean(),
  role: roleSchema,
  producers: z.array(producerInfoSchema),
});
export type PeerInfo = z.infer<typeof peerInfoSchema>;

const empty = z.object({}).strict();
const byTransport = z.object({ transportId: idSchema }).strict();
const byProducer = z.object({ producerId: idSchema }).strict();
const byConsumer = z.object({ consumerId: idSchema }).strict();

const iceConfigShape = {
  iceServers: z.array(iceServerSchema),
  iceTransportPolicy: z.enum(['all', 'relay']),
  /** Seconds after which the TURN credentials in iceServers expire (null: none). */
  iceServersTtl: z.number().int().positive().nullable(),
};

/** Requests from a browser to the server: `data` schema and `response` schema per method. */
export const requests = {
  getRouterRtpCapabilities: { data: empty, response: rtpCapabilitiesSchema },
  /**
   * Joins the room; or, in a locked room that the identity is not a member of, waits in its
   * lobby ('waiting': the answer comes at once; `admitted` later says to join again).
   */
  join: {
    data: z.object({ displayName: displayNameSchema, rtpCapabilities: rtpCapabilitiesSchema }).strict(),
    response: z.discriminatedUnion('status', [
      z.object({
        status: z.literal('joined'),
        peerId: idSchema,
        identityId: uuidSchema,
        /** The name this participant appears under (a room token's, whatever was asked). */
        displayName: displayNameSchema,
        peers: z.array(peerInfoSchema),
        ...roomControlShape,
        /** This person's own status (setStatus), as stored. */
        selfStatus: personStatusSchema,
        /** Who speaks now (see the activeSpeaker notification); null: nobody. */
        activeSpeaker: idSchema.nullable(),
      }),
      z.object({ status: z.literal('waiting'), peerId: idSchema, identityId: uuidSchema }),
    ]),
  },
  createWebRtcTransport: {
    data: z.object({ direction: z.enum(['send', 'recv']), forceTcp: z.boolean().optional() }).strict(),
    response: z.object({
      id: idSchema,
      iceParameters: iceParametersSchema,
      iceCandidates: z.array(iceCandidateSchema),
      dtlsParameters: dtlsParametersSchema,
      ...iceConfigShape,
    }),
  },
  /** Fresh TURN credentials, fetched again before the previous ones expire. */
  getIceServers: { data: empty, response: z.object(iceConfigShape) },
  connectWebRtcTransport: {
    data: z.object({ transportId: idSchema, dtlsParameters: dtlsParametersSchema }).strict(),
    response: empty,
  },
  restartIce: { data: byTransport, response: z.object({ iceParameters: iceParametersSchema }) },
  produce: {
    data: z
      .object({
        transportId: idSchema,
        kind: z.enum(['audio', 'video']),
        rtpParameters: rtpParametersSchema,
        source: mediaSourceSchema,
        paused: z.boolean().optional(),
      })
      .strict(),
    response: z.object({ id: idSchema }),
  },
  pauseProducer: { data: byProducer, response: empty },
  resumeProducer: { data: byProducer, response: empty },
  closeProducer: { data: byProducer, response: empty },
  // One consumer per producer and participant: asked again on the same receive transport
  // (an answer lost to a timeout), the same consumer is answered; on another one, 409.
  consume: {
    data: z.object({ transportId: idSchema, producerId: idSchema }).strict(),
    response: z.object({
      id: idSchema,
      producerId: idSchema,
      peerId: idSchema,
      kind: z.enum(['audio', 'video']),
      source: mediaSourceSchema,
      rtpParameters: rtpParametersSchema,
      producerPaused: z.boolean(),
    }),
  },
  resumeConsumer: { data: byConsumer, response: empty },
  pauseConsumer: { data: byConsumer, response: empty },
  /** Leaves the call but stays in the room's chat (text only): closes all transports. */
  leaveCall: { data: empty, response: empty },
  leave: { data: empty, response: empty },
  ...chatRequests,
  ...hostRequests,
  ...adaptationRequests,
} as const;

export type RequestMethod = keyof typeof requests;
export type RequestData<M extends RequestMethod> = z.infer<(typeof requests)[M]['data']>;
export type ResponseData<M extends RequestMethod> = z.infer<(typeof requests)[M]['response']>;

/** Notifications from the server to the browsers of one room. */
export const notifications = {
  peerJoined: peerInfoSchema.omit({ producers: true }),
  peerLeft: z.object({ peerId: idSchema }),
  newProducer: z.object({ peerId: idSchema }).extend(producerInfoSchema.shape),
  producerClosed: z.object({ peerId: idSchema, producerId: idSchema }),
  producerPaused: z.object({ peerId: idSchema, producerId: idSchema }),
  producerResumed: z.object({ peerId: idSchema, producerId: idSchema }),
  consumerClosed: z.object({ consumerId: idSchema, producerId: idSchema }),
  /**
   * The media worker this participant's call was on died: every transport, producer and
   * consumer of its call is gone. Still joined, still in the call and in the chat: create
   * the transports again, send again, and consume `producers` (the others' producers that
   * live on, e.g. on another worker of the room) and those announced from now on.
   */
  mediaReset: z.object({
    reason: z.string(),
    producers: z.array(z.object({ peerId: idSchema }).extend(producerInfoSchema.shape)),
  }),
  /**
   * Several nodes: the room is served by another node (or, new, goes to a less loaded one).
   * Sent alone, before the socket closes (4000): connect again at once with `node` in the
   * socket's query, which the load balancer routes to that node.
   */
  moveTo: z.object({ node: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/) }),
  ...chatNotifications,
  ...hostNotifications,
  ...adaptationNotifications,
} as const;

export type NotificationMethod = keyof typeof notifications;
export type NotificationData<M extends NotificationMethod> = z.infer<(typeof notifications)[M]>;

export function isRequestMethod(method: string): method is RequestMethod {
  return Object.hasOwn(requests, method);
}

/** Error codes carried in protoo error responses (HTTP-like). */
export const ErrorCode = {
  BadRequest: 400,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  TooMany: 429,
  Internal: 500,
  Unavailable: 503,
} as const;

export type ValidationResult<T> = { ok: true; data: T } | { ok: false; code: number; reason: string };

/** Formats zod issues as one line, e.g. `displayName: display name is empty`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(data)'}: ${issue.message}`)
    .join('; ');
}

/** Validates a request's method and data against the protocol. */
export function validateRequest(
  method: string,
  data: unknown,
): ValidationResult<{ [M in RequestMethod]: { method: M; data: RequestData<M> } }[RequestMethod]> {
  if (!isRequestMethod(method)) {
    return { ok: false, code: ErrorCode.BadRequest, reason: `unknown method "${method.slice(0, 64)}"` };
  }
  const parsed = requests[method].data.safeParse(data ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      code: ErrorCode.BadRequest,
      reason: `invalid ${method} request: ${describeIssues(parsed.error)}`,
    };
  }
  return { ok: true, data: { method, data: parsed.data } as never };
}

/** The protoo envelope of any message received on the websocket. */
export const envelopeSchema = z.union([
  z.object({
    request: z.literal(true),
    id: z.number().int(),
    method: z.string().max(128),
    data: z.unknown().optional(),
  }),
  z.object({
    response: z.literal(true),
    id: z.number().int(),
    ok: z.boolean(),
    data: z.unknown().optional(),
    errorCode: z.number().optional(),
    errorReason: z.string().optional(),
  }),
  z.object({ notification: z.literal(true), method: z.string().max(128), data: z.unknown().optional() }),
]);
export type Envelope = z.infer<typeof envelopeSchema>;

/** Parses one websocket text frame into a protoo envelope, or explains why it is not one. */
export function parseEnvelope(raw: string): ValidationResult<Envelope> & { id?: number } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    return { ok: false, code: ErrorCode.BadRequest, reason: `invalid JSON: ${(error as Error).message}` };
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    const id =
      typeof (json as { id?: unknown } | null)?.id === 'number' ? (json as { id: number }).id : undefined;
    return {
      ok: false,
      code: ErrorCode.BadRequest,
      reason: 'not a protoo request, response or notification',
      ...(id === undefined ? {} : { id }),
    };
  }
  return { ok: true, data: parsed.data };
}
