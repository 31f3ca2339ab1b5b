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

/**
 * The lowest the server's bandwidth estimate toward a viewer may fall (bit/s): the lowest
 * simulcast layer of one camera (the web app's r0 is capped at 150 kbit/s). mediasoup's own
 * floor is 30 kbit/s, where no video layer fits: a viewer whose estimate collapsed there (a
 * queue on a slow link read as congestion after the estimate overshot) was forwarded no video
 * at all until probing found its way up again, 8 s in a 600 kbit/s test. At this floor the
 * most important tile (pinned, screen, speaker: consumer priorities) keeps its lowest layer.
 */
export const MIN_DOWNLINK_ESTIMATE = 150_000;

export async function createTransport(
  { router, webRtcServer }: RouterPlace,
  { direction, forceTcp }: { direction: Direction; forceTcp: boolean },
): Promise<types.WebRtcTransport<TransportAppData>> {
  let transport: types.WebRtcTransport<TransportAppData> | undefined;
  try {
    transport = await router.createWebRtcTransport<TransportAppData>({
      webRtcServer,
      enableUdp: !forceTcp,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 1_000_000,
      appData: { direction },
    });
    if (direction === 'recv') await transport.setMinOutgoingBitrate(MIN_DOWNLINK_ESTIMATE);
    return transport;
  } catch (error) {
    transport?.close();
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
