// WebRTC transports: creation on the room's worker WebRtcServer, DTLS connect, ICE restart.
import type { types } from 'mediasoup';
import type { RequestData, ResponseData } from '@meet/protocol';
import { badRequest, notFound, tooMany } from '../signaling/errors.js';
import { peerLimits, type Peer } from '../peer/peer.js';
import type { Room } from '../room/room.js';

type Direction = 'send' | 'recv';
type TransportAppData = { direction: Direction; connected?: boolean };

/** Finds a transport of this peer; ids of other peers' transports are not found. */
export function ownTransport(peer: Peer, transportId: string, direction?: Direction): types.WebRtcTransport {
  const transport = peer.transports.get(transportId);
  if (!transport) throw notFound(`transport ${transportId} is not one of this peer's transports`);
  const actual = (transport.appData as TransportAppData).direction;
  if (direction && actual !== direction)
    throw badRequest(`transport ${transportId} is a ${actual} transport`);
  return transport;
}

export async function createWebRtcTransport(
  room: Room,
  peer: Peer,
  { direction, forceTcp }: RequestData<'createWebRtcTransport'>,
): Promise<ResponseData<'createWebRtcTransport'>> {
  if (peer.transports.size >= peerLimits.transports) {
    throw tooMany(`a peer may hold at most ${peerLimits.transports} transports`);
  }
  const transport = await room.router.createWebRtcTransport<TransportAppData>({
    webRtcServer: room.webRtcServer,
    enableUdp: !forceTcp,
    enableTcp: true,
    preferUdp: true,
    initialAvailableOutgoingBitrate: 1_000_000,
    appData: { direction },
  });
  peer.transports.set(transport.id, transport);
  room.refreshStatus(peer);
  room.metrics.watchTransport(transport, {
    peerConnected: () => !peer.protoo.closed,
    connectRequested: () => transport.appData.connected === true,
  });
  transport.on('dtlsstatechange', (state) => {
    if (state === 'failed') peer.log.warn({ transportId: transport.id }, 'transport DTLS failed');
    else if (state === 'closed') peer.log.debug({ transportId: transport.id }, 'transport DTLS closed');
  });
  transport.observer.once('close', () => {
    peer.transports.delete(transport.id);
    room.refreshStatus(peer);
  });
  return {
    id: transport.id,
    iceParameters: transport.iceParameters,
    iceCandidates: transport.iceCandidates,
    dtlsParameters: transport.dtlsParameters,
    ...room.iceConfig(peer),
  };
}

export async function connectWebRtcTransport(
  peer: Peer,
  { transportId, dtlsParameters }: RequestData<'connectWebRtcTransport'>,
): Promise<ResponseData<'connectWebRtcTransport'>> {
  const transport = ownTransport(peer, transportId);
  const appData = transport.appData as TransportAppData;
  // dtlsState stays 'new' until ICE completes: remember the connect ourselves.
  if (appData.connected) throw badRequest(`transport ${transportId} is already connected`);
  appData.connected = true;
  try {
    await transport.connect({ dtlsParameters: dtlsParameters as types.DtlsParameters });
  } catch (error) {
    appData.connected = false;
    throw error;
  }
  return {};
}

export async function restartIce(
  peer: Peer,
  { transportId }: RequestData<'restartIce'>,
): Promise<ResponseData<'restartIce'>> {
  const iceParameters = await ownTransport(peer, transportId).restartIce();
  return { iceParameters };
}
