// A participant's state in a room: its signaling peer and its mediasoup objects.
import type { types } from 'mediasoup';
import type { Peer as ProtooPeer } from 'protoo-server';
import type { FastifyBaseLogger } from 'fastify';
import type { MediaSource, NotificationData, NotificationMethod, PeerInfo, PeerStatus } from '@meet/protocol';
import type { IdentityInfo } from '../auth/identity.js';

export interface Peer {
  readonly id: string;
  readonly protoo: ProtooPeer;
  readonly log: FastifyBaseLogger;
  readonly identity: IdentityInfo;
  displayName: string | undefined;
  /** Tab hidden or idle, as the browser reports. */
  away: boolean;
  /** Last status and in-call state told to the room (to notify changes only). */
  announcedStatus: string | undefined;
  joined: boolean;
  rtpCapabilities: types.RtpCapabilities | undefined;
  readonly transports: Map<string, types.WebRtcTransport>;
  readonly producers: Map<string, types.Producer<{ source: MediaSource }>>;
  readonly consumers: Map<string, types.Consumer<{ peerId: string; source: MediaSource }>>;
}

/** Bounds on what one peer may hold (a client cannot exhaust a worker). */
export const peerLimits = { transports: 4, producers: 6 } as const;

export function createPeer(
  id: string,
  protoo: ProtooPeer,
  log: FastifyBaseLogger,
  identity: IdentityInfo,
): Peer {
  return {
    id,
    protoo,
    log,
    identity,
    displayName: undefined,
    away: false,
    announcedStatus: undefined,
    joined: false,
    rtpCapabilities: undefined,
    transports: new Map(),
    producers: new Map(),
    consumers: new Map(),
  };
}

/** In the call (has media transports), text only, or away. */
export function peerStatus(peer: Peer): PeerStatus {
  if (peer.away) return 'away';
  return peer.transports.size > 0 ? 'call' : 'text';
}

/** What the room is told of a peer's presence: its status and whether it is in the call. */
export function presence(peer: Peer): { status: PeerStatus; inCall: boolean } {
  return { status: peerStatus(peer), inCall: peer.transports.size > 0 };
}

/** A key of presence(), to notify changes only. */
export function presenceKey(peer: Peer): string {
  const { status, inCall } = presence(peer);
  return `${status}/${inCall}`;
}

export function peerInfo(peer: Peer): PeerInfo {
  return {
    id: peer.id,
    identityId: peer.identity.id,
    displayName: peer.displayName ?? '',
    ...presence(peer),
    producers: [...peer.producers.values()].map((producer) => ({
      id: producer.id,
      kind: producer.kind,
      source: producer.appData.source,
      paused: producer.paused,
    })),
  };
}

/** Sends a notification; a peer whose socket just closed is skipped silently. */
export function notify<M extends NotificationMethod>(peer: Peer, method: M, data: NotificationData<M>): void {
  if (peer.protoo.closed) return;
  peer.protoo
    .notify(method, data)
    .catch((err: unknown) => peer.log.debug({ err, method }, 'notification not sent'));
}

/** Closes every transport of the peer (which closes its producers and consumers). */
export function closePeerMedia(peer: Peer): void {
  for (const transport of peer.transports.values()) transport.close();
  peer.transports.clear();
  peer.producers.clear();
  peer.consumers.clear();
}
