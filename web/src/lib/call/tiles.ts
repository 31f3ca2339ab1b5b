// The call's tiles as the stage shows them, from the session: ourselves first (and the
// screen we share), then every other screen share, then everyone else in the call (a camera
// that is off is a tile with an avatar, not a video).
import type { TileRef } from './stage-geometry.js';
import { qualityOf, type Quality, type RemotePeer } from './receiver.svelte.js';
import type { CallSession } from './session.svelte.js';
import { tileKey } from './stage-geometry.js';

export interface TileInfo extends TileRef {
  name: string;
  /** The video to show (undefined: none yet, or the camera is off). */
  track: MediaStreamTrack | undefined;
  videoOn: boolean;
  audioOn: boolean;
  /** Place in the raised-hands queue (1 first); 0: hand down. */
  hand: number;
  /** Audible now (audio levels). */
  speaking: boolean;
  /** The room's dominant speaker. */
  activeSpeaker: boolean;
  quality: Quality;
}

/** Whether a participant has a place on the stage (in the call, or sending something). */
export function inCall(peer: RemotePeer): boolean {
  return peer.inCall || Boolean(peer.mic || peer.webcam || peer.screen);
}

export function callTiles(session: CallSession): TileInfo[] {
  const receiver = session.receiver;
  const speaking = new Set(receiver.speaking);
  const selfId = session.selfId ?? 'self';
  const tiles: TileInfo[] = [
    {
      key: tileKey(selfId, 'self'),
      peerId: selfId,
      source: 'self',
      local: true,
      name: session.displayName,
      track: session.localVideo,
      videoOn: session.camOn && Boolean(session.localVideo),
      audioOn: session.micOn,
      hand: session.hosts.handPosition(session.selfId),
      speaking: speaking.has(selfId),
      activeSpeaker: receiver.activeSpeaker === selfId,
      quality: 'unknown',
    },
  ];
  const screen = session.publisher.localScreen;
  if (screen)
    tiles.push({
      key: tileKey(selfId, 'screen'),
      peerId: selfId,
      source: 'screen',
      local: true,
      name: session.displayName,
      track: screen,
      videoOn: true,
      audioOn: Boolean(session.publisher.localScreenAudio),
      hand: 0,
      speaking: false,
      activeSpeaker: false,
      quality: 'unknown',
    });
  const peers = session.peers.filter(inCall);
  for (const peer of peers) {
    if (!peer.screen) continue;
    tiles.push({
      key: tileKey(peer.id, 'screen'),
      peerId: peer.id,
      source: 'screen',
      local: false,
      name: peer.displayName,
      track: peer.screen.track,
      videoOn: Boolean(peer.screen.track && !peer.screen.paused),
      audioOn: Boolean(peer.screenAudio && !peer.screenAudio.paused),
      hand: 0,
      speaking: false,
      activeSpeaker: false,
      quality: qualityOf(peer.screen),
    });
  }
  for (const peer of peers) {
    const videoOn = Boolean(peer.webcam?.track && !peer.webcam.paused);
    tiles.push({
      key: tileKey(peer.id, 'webcam'),
      peerId: peer.id,
      source: 'webcam',
      local: false,
      name: peer.displayName,
      track: peer.webcam?.track,
      videoOn,
      audioOn: Boolean(peer.mic && !peer.mic.paused),
      hand: session.hosts.handPosition(peer.id),
      speaking: speaking.has(peer.id),
      activeSpeaker: receiver.activeSpeaker === peer.id,
      // The camera's reception when it is on, else the voice's.
      quality: qualityOf(videoOn ? peer.webcam : (peer.mic ?? peer.webcam)),
    });
  }
  return tiles;
}
