// Runtime schemas for the mediasoup dictionaries that cross the signaling channel.
// Client-supplied dictionaries (capabilities, RTP and DTLS parameters) are strict: exactly
// the fields mediasoup and mediasoup-client define, each bounded, so nothing unknown or
// out of range reaches a worker. mediasoup validates semantics again (codec matching,
// duplicate MID/SSRC); the server turns its refusals into 400 responses.
import { z } from 'zod';
import { plainString, token } from './text.js';

const mediaKind = z.enum(['audio', 'video']);
const shortString = plainString(256).pipe(z.string().min(1));
const uint32 = z
  .number()
  .int()
  .min(0)
  .max(2 ** 32 - 1);
const payloadType = z.number().int().min(0).max(127);
const clockRate = z.number().int().min(1).max(1_000_000);
const channels = z.number().int().min(1).max(32);
const extensionId = z.number().int().min(1).max(255);
const priority = z.enum(['very-low', 'low', 'medium', 'high']);

const rtcpFeedback = z.object({ type: token(64), parameter: plainString(64).optional() }).strict();
/** Codec or header extension parameters (fmtp): a few scalar values. */
const codecParameters = z
  .record(token(64), z.union([plainString(256), z.number().finite(), z.boolean()]))
  .refine((p) => Object.keys(p).length <= 32, 'more than 32 parameters');

export const rtpCodecCapabilitySchema = z
  .object({
    kind: mediaKind,
    mimeType: token(64),
    preferredPayloadType: payloadType.optional(),
    clockRate,
    channels: channels.optional(),
    parameters: codecParameters.optional(),
    rtcpFeedback: z.array(rtcpFeedback).max(32).optional(),
  })
  .strict();

export const rtpHeaderExtensionSchema = z
  .object({
    kind: mediaKind,
    uri: shortString,
    preferredId: extensionId,
    preferredEncrypt: z.boolean().optional(),
    direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
  })
  .strict();

export const rtpCapabilitiesSchema = z
  .object({
    codecs: z.array(rtpCodecCapabilitySchema).max(128),
    headerExtensions: z.array(rtpHeaderExtensionSchema).max(64).optional(),
  })
  .strict();

export const rtpParametersSchema = z
  .object({
    mid: token(32).optional(),
    msid: plainString(256).optional(),
    codecs: z
      .array(
        z
          .object({
            mimeType: token(64),
            payloadType,
            clockRate,
            channels: channels.optional(),
            parameters: codecParameters.optional(),
            rtcpFeedback: z.array(rtcpFeedback).max(32).optional(),
          })
          .strict(),
      )
      .min(1)
      .max(32),
    headerExtensions: z
      .array(
        z
          .object({
            uri: shortString,
            id: extensionId,
            encrypt: z.boolean().optional(),
            parameters: codecParameters.optional(),
          })
          .strict(),
      )
      .max(32)
      .optional(),
    encodings: z
      .array(
        z
          .object({
            active: z.boolean().optional(),
            ssrc: uint32.optional(),
            rid: token(32).optional(),
            codecPayloadType: payloadType.optional(),
            rtx: z.object({ ssrc: uint32 }).strict().optional(),
            dtx: z.boolean().optional(),
            scalabilityMode: token(16).optional(),
            scaleResolutionDownBy: z.number().min(1).max(256).optional(),
            maxBitrate: z.number().int().min(1).max(100_000_000).optional(),
            maxFramerate: z.number().min(0).max(240).optional(),
            adaptivePtime: z.boolean().optional(),
            priority: priority.optional(),
            networkPriority: priority.optional(),
          })
          .strict(),
      )
      .max(8)
      .optional(),
    rtcp: z
      .object({
        cname: plainString(256).optional(),
        reducedSize: z.boolean().optional(),
        mux: z.boolean().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const dtlsParametersSchema = z
  .object({
    role: z.enum(['auto', 'client', 'server']).optional(),
    fingerprints: z
      .array(
        z
          .object({
            algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
            value: z.string().regex(/^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){15,63}$/, 'not a fingerprint'),
          })
          .strict(),
      )
      .min(1)
      .max(8),
  })
  .strict();

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
