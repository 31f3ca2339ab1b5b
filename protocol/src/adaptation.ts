// The adaptive part of the signaling protocol: what a viewer shows (which video tiles, at
// what size), the layers and scores the server reports back, what publishers are asked to
// encode (dynacast), and who is speaking. Merged into `requests` and `notifications`
// (signaling.ts).
import { z } from 'zod';
import { idSchema } from './names.js';

/** Simulcast spatial layers a camera publishes: 0 (smallest) to 2 (full resolution). */
export const MAX_SPATIAL_LAYER = 2;
/** At most this many tiles in one view (a page of 25 plus the main tile and a margin). */
export const MAX_VIEW_TILES = 64;

const empty = z.object({}).strict();

/** One video on the viewer's screen: its consumer and its rendered size in device pixels. */
export const viewTileSchema = z
  .object({
    consumerId: idSchema,
    width: z.number().int().min(0).max(16_384),
    height: z.number().int().min(0).max(16_384),
  })
  .strict();
export type ViewTile = z.infer<typeof viewTileSchema>;

/** A consumer's or producer's quality: mediasoup's score, 0 (unusable) to 10 (perfect). */
const scoreSchema = z.number().int().min(0).max(10);

export const adaptationRequests = {
  /**
   * What this participant shows now. Once a view was set, each of its video consumers is
   * forwarded only while listed (an off-screen tile costs nothing), at the spatial layer
   * that fits the tile's size; audio is never affected. The list replaces the previous one.
   * Consumers that are no longer this participant's (closed meanwhile) are ignored.
   */
  setView: {
    data: z.object({ tiles: z.array(viewTileSchema).max(MAX_VIEW_TILES) }).strict(),
    response: empty,
  },
} as const;

export const adaptationNotifications = {
  /**
   * To a publisher: the highest spatial layer of this producer that any viewer wants now
   * (-1: nobody views it). Encodings above it should be paused, and resumed when it rises.
   */
  producerLayers: z.object({
    producerId: idSchema,
    maxSpatialLayer: z.number().int().min(-1).max(MAX_SPATIAL_LAYER),
  }),
  /** To a publisher: how well its producer arrives at the server (its uplink). */
  producerScore: z.object({ producerId: idSchema, score: scoreSchema }),
  /** To a viewer: how well one of its consumers is received, and how well its source sends. */
  consumerScore: z.object({ consumerId: idSchema, score: scoreSchema, producerScore: scoreSchema }),
  /** To a viewer: the layers one of its video consumers currently forwards (null: none). */
  consumerLayers: z.object({
    consumerId: idSchema,
    spatialLayer: z.number().int().min(0).max(MAX_SPATIAL_LAYER).nullable(),
    temporalLayer: z.number().int().min(0).nullable(),
  }),
  /** To the room: the dominant speaker changed (null: nobody speaks any more). */
  activeSpeaker: z.object({ peerId: idSchema.nullable() }),
  /** To the room: who is audible now and how loud (dBov, -127 to 0); empty when silent. */
  audioLevels: z.object({
    levels: z.array(z.object({ peerId: idSchema, volume: z.number().min(-127).max(0) })),
  }),
} as const;
