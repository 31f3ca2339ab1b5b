// Consumers: one participant receiving another's producer. They start paused; the browser
// resumes them once its side is ready (so that no early keyframe is lost).
import type { types } from 'mediasoup';
import type { MediaSource } from '@meet/protocol';
import { refusedByMediasoup } from './errors.js';

/** `transportId`: the receive transport it is on (a repeated consume must name the same one). */
export type ConsumerAppData = { peerId: string; source: MediaSource; transportId: string };

export async function consumeOn(
  transport: types.WebRtcTransport,
  {
    producer,
    rtpCapabilities,
    peerId,
  }: {
    producer: types.Producer<{ source: MediaSource }>;
    rtpCapabilities: types.RtpCapabilities;
    peerId: string;
  },
): Promise<types.Consumer<ConsumerAppData>> {
  try {
    return await transport.consume<ConsumerAppData>({
      producerId: producer.id,
      rtpCapabilities,
      paused: true,
      appData: { peerId, source: producer.appData.source, transportId: transport.id },
    });
  } catch (error) {
    throw refusedByMediasoup(error, 'consume');
  }
}
