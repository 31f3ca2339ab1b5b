// Simulated participants for tests: N werift publishers (bench/load/participant.ts) in a room
// of a running server, in the calling process, through the real signaling. A browser test
// brings the crowd with this and looks at it with one real browser.
//
//   const crowd = await startSimulatedParticipants({ baseUrl: server.url, roomId, count: 12 });
//   … crowd.participants[i].id is the peer id the browser sees; .sent() tells what each sends …
//   await crowd.close();
//
// Limits of a server with its default settings (docs/security.md), all from 127.0.0.1:
// - IDENTITY_RATE_LIMIT = 30 identities per minute and address: every simulated participant
//   creates one (POST /api/identity), and so does every browser context of the test. A test
//   that needs more than about 25 participants, or runs several such batches within a
//   minute, starts its server with a higher IDENTITY_RATE_LIMIT (e.g. '1000').
// - MAX_CONNECTIONS_PER_IP = 100 signaling sockets per address: one per participant.
// - MAX_PEERS_PER_ROOM = 50 participants per room; MAX_CONNECTIONS_PER_IDENTITY (10) is not
//   reached (one identity each).
// Every participant's websocket, identity and werift transports live in the test's process:
// about 0.02 core per publisher sending only its lowest layer, several times that while all
// three encodings are sent (before any viewer set its view). Lower `layersKbps` if needed.
import { MeetParticipant, type PeerTile } from './participant.js';
import type { AudioSourceOptions, VideoSourceOptions } from './media.js';
import {
  defaultSimulcastLayers,
  simulcastLayersFromKbps,
  type SentLayerReport,
  type SimulcastLayer,
} from './simulcast.js';

export interface SimulatedParticipantsOptions {
  /** The server, e.g. http://127.0.0.1:3000. */
  baseUrl: string;
  roomId: string;
  count: number;
  /**
   * Cameras as simulcast (default true: 320x180 / 640x360 / 1280x720 at 150 / 500 / 1500
   * kbit/s, rids r0 r1 r2, obeying producerLayers); false: one 640x360 encoding.
   */
  simulcast?: boolean | SimulcastLayer[];
  /** Simulcast bitrates in kbit/s, lowest first (instead of `simulcast`'s layers). */
  layersKbps?: number[];
  /** Display names (default "Sim 1" … "Sim N"); missing ones get the default. */
  names?: string[];
  /** Also receive everyone's media (default false: publish only, which costs far less). */
  subscribe?: boolean;
  /** The single encoding (simulcast: false), and frame rate / keyframe interval of any. */
  video?: Partial<VideoSourceOptions>;
  audio?: Partial<AudioSourceOptions>;
  /** Participants joining at a time (default 4). */
  concurrency?: number;
}

/** What one simulated participant sends now. */
export interface SimulatedSending {
  /** Its peer id (what the browser and the server know it by). */
  id: string;
  name: string;
  /** Simulcast: the highest encoding it sends (-1: none, as producerLayers asked). */
  maxSpatialLayer: number | undefined;
  /** Per encoding: counters since joining, and whether it is sent now. */
  layers: SentLayerReport[];
  /** RTP payload bytes sent so far, audio and video. */
  sentBytes: number;
}

export interface SimulatedParticipants {
  participants: MeetParticipant[];
  /** What each participant sends now (same order as participants). */
  sent(): SimulatedSending[];
  /** Receivers only (subscribe: true): sets a participant's view of the others. */
  setView(participant: MeetParticipant, tiles: PeerTile[]): Promise<void>;
  /** Leaves the room and closes every participant (sockets, transports, timers). */
  close(): Promise<void>;
}

/**
 * Joins `count` simulated participants to `roomId`, each publishing a microphone and a camera;
 * resolves once all are in the room and sending. On failure the ones already joined leave
 * and the error says which one failed (a 429 names the limit).
 */
export async function startSimulatedParticipants(
  options: SimulatedParticipantsOptions,
): Promise<SimulatedParticipants> {
  const { baseUrl, roomId, count, subscribe = false, concurrency = 4 } = options;
  const simulcast: SimulcastLayer[] | false = options.layersKbps
    ? simulcastLayersFromKbps(options.layersKbps)
    : options.simulcast === false
      ? false
      : options.simulcast === true || options.simulcast === undefined
        ? defaultSimulcastLayers
        : options.simulcast;
  const participants: MeetParticipant[] = [];
  const close = async () => {
    await Promise.all(participants.splice(0).map((p) => p.close().catch(() => undefined)));
  };
  try {
    for (let i = 0; i < count; i += concurrency) {
      const batch = Array.from({ length: Math.min(concurrency, count - i) }, (_, j) => i + j);
      const joined = await Promise.allSettled(
        batch.map((index) =>
          MeetParticipant.join({
            baseUrl,
            roomId,
            name: options.names?.[index] ?? `Sim ${index + 1}`,
            publish: true,
            subscribe,
            ...(simulcast ? { simulcast } : {}),
            ...(options.video ? { video: options.video } : {}),
            ...(options.audio ? { audio: options.audio } : {}),
          }),
        ),
      );
      for (const outcome of joined) if (outcome.status === 'fulfilled') participants.push(outcome.value);
      const failed = joined.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed) {
        const message = (failed.reason as Error).message;
        const hint = / 429/.test(message)
          ? ' (a per-address limit of the server: see IDENTITY_RATE_LIMIT in bench/load/simulated.ts)'
          : '';
        throw new Error(`simulated participant: ${message}${hint}`, { cause: failed.reason });
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {
    participants,
    sent: () =>
      participants.map((p) => {
        const report = p.report();
        const video = p.video;
        return {
          id: p.id,
          name: p.name,
          maxSpatialLayer: video && 'maxSpatialLayer' in video ? video.maxSpatialLayer : undefined,
          layers: report.sentVideoLayers ?? [],
          sentBytes: report.sentBytes,
        };
      }),
    setView: (participant, tiles) => participant.setView(tiles),
    close,
  };
}
