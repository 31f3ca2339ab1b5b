// WebRTC transports on a room's router, sharing its worker's WebRtcServer (one UDP and one
// TCP port per worker), and their DTLS connect. No room or socket knowledge here.
import type { types } from 'mediasoup';
import type { DtlsParameters } from '@meet/protocol';
import { badRequest } from '../signaling/errors.js';
import { refusedByMediasoup } from './errors.js';

export type Direction = 'send' | 'recv';
export type TransportAppData = { direction: Direction; connected?: boolean };

export interface RouterPlace {
  router: types.Router;
  webRtcServer: types.WebRtcServer;
}

export async function createTransport(
  { router, webRtcServer }: RouterPlace,
  { direction, forceTcp }: { direction: Direction; forceTcp: boolean },
): Promise<types.WebRtcTransport<TransportAppData>> {
  try {
    return await router.createWebRtcTransport<TransportAppData>({
      webRtcServer,
      enableUdp: !forceTcp,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 1_000_000,
      appData: { direction },
    });
  } catch (error) {
    // The worker died under the request (InvalidStateError): 409, the call changed.
    throw refusedByMediasoup(error, 'createWebRtcTransport');
  }
}

/** The browser's DTLS parameters; a transport is connected once. */
export async function connectTransport(
  transport: types.WebRtcTransport<TransportAppData>,
  dtlsParameters: DtlsParameters,
): Promise<void> {
  // dtlsState stays 'new' until ICE completes: remember the connect ourselves.
  if (transport.appData.connected) throw badRequest(`transport ${transport.id} is already connected`);
  transport.appData.connected = true;
  try {
    await transport.connect({ dtlsParameters: dtlsParameters as types.DtlsParameters });
  } catch (error) {
    transport.appData.connected = false;
    throw refusedByMediasoup(error, 'connectWebRtcTransport');
  }
}
