// Runtime schemas for the mediasoup dictionaries that cross the signaling channel.
// They check shape and bounds; mediasoup validates semantics again and its errors are
// turned into error responses by the server.
import { z } from 'zod';

const mediaKind = z.enum(['audio', 'video']);
const shortString = z.string().min(1).max(256);
const smallInt = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);

const rtcpFeedback = z.looseObject({ type: shortString, parameter: z.string().max(256).optional() });
const codecParameters = z.record(z.string().max(128), z.union([z.string().max(1024), z.number()]));

export const rtpCodecCapabilitySchema = z.looseObject({
  kind: mediaKind,
  mimeType: shortString,
  preferredPayloadType: smallInt.optional(),
  clockRate: smallInt,
  channels: smallInt.optional(),
  parameters: codecParameters.optional(),
  rtcpFeedback: z.array(rtcpFeedback).max(64).optional(),
});

export const rtpHeaderExtensionSchema = z.looseObject({
  kind: mediaKind,
  uri: shortString,
  preferredId: smallInt,
  preferredEncrypt: z.boolean().optional(),
  direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
});

export const rtpCapabilitiesSchema = z.looseObject({
  codecs: z.array(rtpCodecCapabilitySchema).max(256),
  headerExtensions: z.array(rtpHeaderExtensionSchema).max(256).optional(),
});

export const rtpParametersSchema = z.looseObject({
  mid: z.string().max(64).optional(),
  codecs: z
    .array(
      z.looseObject({
        mimeType: shortString,
        payloadType: smallInt,
        clockRate: smallInt,
        channels: smallInt.optional(),
        parameters: codecParameters.optional(),
        rtcpFeedback: z.array(rtcpFeedback).max(64).optional(),
      }),
    )
    .min(1)
    .max(64),
  headerExtensions: z
    .array(z.looseObject({ uri: shortString, id: smallInt, encrypt: z.boolean().optional() }))
    .max(64)
    .optional(),
  encodings: z
    .array(z.looseObject({ ssrc: smallInt.optional(), rid: z.string().max(64).optional() }))
    .max(16)
    .optional(),
  rtcp: z.looseObject({ cname: z.string().max(256).optional() }).optional(),
});

export const dtlsParametersSchema = z.looseObject({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(z.looseObject({ algorithm: z.string().min(1).max(32), value: z.string().min(1).max(256) }))
    .min(1)
    .max(8),
});

export const iceParametersSchema = z.looseObject({
  usernameFragment: z.string(),
  password: z.string(),
  iceLite: z.boolean().optional(),
});

export const iceCandidateSchema = z.looseObject({
  foundation: z.string(),
  priority: z.number(),
  address: z.string(),
  ip: z.string().optional(),
  protocol: z.enum(['udp', 'tcp']),
  port: z.number().int(),
  type: z.enum(['host', 'srflx', 'prflx', 'relay']),
  tcpType: z.enum(['passive', 'active', 'so']).optional(),
});

export const iceServerSchema = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});

export type RtpCapabilities = z.infer<typeof rtpCapabilitiesSchema>;
export type RtpParameters = z.infer<typeof rtpParametersSchema>;
export type DtlsParameters = z.infer<typeof dtlsParametersSchema>;
export type IceParameters = z.infer<typeof iceParametersSchema>;
export type IceCandidate = z.infer<typeof iceCandidateSchema>;
export type IceServer = z.infer<typeof iceServerSchema>;
export type MediaKind = z.infer<typeof mediaKind>;
